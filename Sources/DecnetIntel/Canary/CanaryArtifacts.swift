import DecnetCore
import DecnetServiceKit
import Foundation

/// The files that carry canary tokens: each one is what an intruder expects to find at its path (a `.env`, an SSH
/// client configuration, a password list, a logo, a mail), and each holds the token where the program that opens
/// it will use it: a URL a developer's tools call, a host name ssh resolves, an image Word and LibreOffice fetch,
/// an action a PDF reader runs on opening, an image a browser loads.
public enum CanaryArtifacts {
    /// The file for a token, by kind and (for documents) the extension of the path it goes to.
    public static func file(for token: CanaryToken, path: String, hostname: String, modified: Date) -> [UInt8] {
        let url = token.url ?? ""
        switch token.kind {
        case .url:
            return Array(Self.environmentFile(url: url, hostname: hostname).utf8)
        case .dns:
            return Array(Self.sshConfig(host: token.hostname ?? "", hostname: hostname).utf8)
        case .document:
            return path.lowercased().hasSuffix(".pdf")
                ? Self.pdf(url: url, title: token.label, modified: modified)
                : Self.docx(url: url, title: token.label, modified: modified)
        case .image:
            return Array(Self.svg(url: url, hostname: hostname).utf8)
        case .email:
            return Array(Self.mail(url: url, hostname: hostname, date: modified).utf8)
        }
    }

    /// Where a kind goes when the operator names no path: where people leave such files on a Linux server.
    public static func defaultPath(for kind: CanaryToken.Kind, format: String?) -> String {
        switch kind {
        case .url: "/opt/app/.env"
        case .dns: "/root/.ssh/config"
        case .document: format == "pdf" ? "/root/Documents/vpn-access.pdf" : "/root/Documents/passwords.docx"
        case .image: "/var/www/html/images/logo.svg"
        case .email: "/var/mail/root/1.eml"
        }
    }

    /// A twelve-factor `.env` whose API endpoint is the token (any client of the app calls it).
    static func environmentFile(url: String, hostname: String) -> String {
        """
        APP_ENV=production
        APP_DEBUG=false
        APP_URL=http://\(hostname)
        DB_HOST=127.0.0.1
        DB_DATABASE=app
        DB_USERNAME=app
        DB_PASSWORD=Qm9vdHN0cmFw2023
        API_BASE_URL=\(url)
        API_KEY=sk_live_51H8d2cKp0qZ3vX9nT4
        BACKUP_WEBHOOK_URL=\(url)/backup

        """
    }

    /// An OpenSSH client configuration whose backup host is the token's name: `ssh backup` resolves it.
    static func sshConfig(host: String, hostname: String) -> String {
        """
        Host backup
            HostName \(host)
            User svc_backup
            IdentityFile ~/.ssh/id_ed25519_backup

        Host *
            ServerAliveInterval 60

        """
    }

    /// An SVG logo that draws its picture from the token's URL, as browsers and image viewers load it.
    static func svg(url: String, hostname: String) -> String {
        let name = HTMLText.escape(String(hostname.split(separator: ".").first ?? "intranet").capitalized)
        let href = HTMLText.escape(url)
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="240" height="64" viewBox="0 0 240 64">
              <rect width="240" height="64" rx="8" fill="#1f4e79"/>
              <image x="8" y="8" width="48" height="48" href="\(href)" xlink:href="\(href)"/>
              <text x="68" y="41" font-family="Helvetica, Arial, sans-serif" font-size="22" fill="#ffffff">\(name)</text>
            </svg>

            """
    }

    /// A mail (RFC 5322) from IT with the token as its link.
    static func mail(url: String, hostname: String, date: Date) -> String {
        let domain = hostname.contains(".") ? String(hostname.drop { $0 != "." }.dropFirst()) : "corp.local"
        let stamp = RFC5322Date.string(date)
        return [
            "Return-Path: <it-support@\(domain)>",
            "From: IT Service Desk <it-support@\(domain)>",
            "To: root@\(hostname)",
            "Subject: VPN certificate renewal - action required",
            "Date: \(stamp)",
            "Message-ID: <\(UUID().uuidString.lowercased())@\(domain)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "Hello,",
            "",
            "your VPN certificate expires this week. Download the new profile and the",
            "one-time credentials here before Friday:",
            "",
            "  \(url)",
            "",
            "The link works from the office network only.",
            "",
            "IT Service Desk",
            "",
        ].joined(separator: "\r\n")
    }

    // MARK: PDF

    /// A one-page PDF whose opening action (`/OpenAction`, ISO 32000-1 §12.6.4.7) is a URI action to the token:
    /// Acrobat and Foxit ask to open it when the document opens; the page's text is a link to it as well.
    static func pdf(url: String, title: String, modified: Date) -> [UInt8] {
        func literal(_ text: String) -> String {
            "("
                + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "(", with: "\\(")
                .replacingOccurrences(of: ")", with: "\\)") + ")"
        }
        let lines = [
            "VPN access - \(title)", "", "This document is protected.",
            "Open it in Adobe Acrobat Reader to view the credentials,", "or use the secure viewer link below:", url,
        ]
        var stream = "BT /F1 12 Tf 72 740 Td 16 TL\n"
        for line in lines { stream += literal(String(line.unicodeScalars.filter(\.isASCII))) + " '\n" }
        stream += "ET\n"
        let date = "D:" + PosixDate.string(modified, format: "yyyyMMddHHmmss") + "Z"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /PageMode /UseNone >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 6 0 R /Annots [7 0 R] >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            "<< /Type /Action /S /URI /URI \(literal(url)) >>",
            "<< /Length \(stream.utf8.count) >>\nstream\n\(stream)endstream",
            "<< /Type /Annot /Subtype /Link /Rect [72 640 540 660] /Border [0 0 0] /A 5 0 R >>",
            "<< /Title \(literal(title)) /Producer (Microsoft: Print To PDF) /CreationDate (\(date)) /ModDate (\(date)) >>",
        ]
        var out = Array(
            "%PDF-1.4\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        )
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(index + 1) 0 obj\n\(object)\nendobj\n".utf8)
        }
        let xref = out.count
        var table = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets {
            table += String(repeating: "0", count: 10 - String(offset).count) + "\(offset) 00000 n \n"
        }
        table += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R /Info 8 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return out + Array(table.utf8)
    }

    // MARK: DOCX

    /// A Word document (ECMA-376) whose picture is linked, not embedded: its relationship targets the token's URL
    /// with `TargetMode="External"`, so Word and LibreOffice fetch it to draw the page.
    static func docx(url: String, title: String, modified: Date) -> [UInt8] {
        let href = HTMLText.escape(url)
        let stamp = PosixDate.string(modified, format: "yyyy-MM-dd'T'HH:mm:ss'Z'")
        let heading = HTMLText.escape(title)
        var zip = StoredZip(modified: modified)
        zip.add(
            "[Content_Types].xml",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>
            """
        )
        zip.add(
            "_rels/.rels",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>
            """
        )
        zip.add(
            "docProps/core.xml",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>\(heading)</dc:title><dc:creator>Administrator</dc:creator><cp:lastModifiedBy>Administrator</cp:lastModifiedBy><cp:revision>3</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">\(stamp)</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">\(stamp)</dcterms:modified></cp:coreProperties>
            """
        )
        zip.add(
            "docProps/app.xml",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Microsoft Office Word</Application><DocSecurity>0</DocSecurity><AppVersion>16.0000</AppVersion></Properties>
            """
        )
        zip.add(
            "word/_rels/document.xml.rels",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="\(href)" TargetMode="External"/></Relationships>
            """
        )
        let rows = [
            ("Domain admin", "CORP\\administrator", "Summer2024!"), ("VPN", "vpn-admin", "Vpn#Acc3ss"),
            ("Backup NAS", "svc_backup", "Backup2023!"),
        ]
        let table = rows.map { row in
            "<w:p><w:r><w:t xml:space=\"preserve\">\(HTMLText.escape(row.0)): \(HTMLText.escape(row.1)) / \(HTMLText.escape(row.2))</w:t></w:r></w:p>"
        }.joined()
        zip.add(
            "word/document.xml",
            """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><w:body><w:p><w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="9525" cy="9525"/><wp:docPr id="1" name="Picture 1"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="logo.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:link="rId5"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="9525" cy="9525"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p><w:p><w:r><w:rPr><w:b/></w:rPr><w:t>\(heading)</w:t></w:r></w:p>\(table)<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440" w:header="708" w:footer="708" w:gutter="0"/></w:sectPr></w:body></w:document>
            """
        )
        return zip.archive()
    }
}

/// RFC 5322 §3.3 dates: `Thu, 04 Apr 2024 09:12:00 +0000`.
enum RFC5322Date {
    static func string(_ date: Date) -> String {
        PosixDate.string(date, format: "EEE, dd MMM yyyy HH:mm:ss '+0000'")
    }
}
