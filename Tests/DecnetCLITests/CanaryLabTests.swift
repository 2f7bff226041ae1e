import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Canary tokens on a lab LAN, used the way an intruder uses what they find (issue 23's acceptance): a `.env`
/// read over FTP whose API URL is called with curl, an SSH client configuration whose backup host is looked up
/// through the LAN's resolver (Debian's unbound, randomising the letter case of every query), a DOCX opened by
/// LibreOffice, a PDF opened as Acrobat opens it, an SVG logo shown by Chromium. Each use is a trigger naming
/// who asked; a revoked token stays silent.
@Suite(.serialized) struct CanaryLabTests {
    static let unbound = ExternalTool("unbound", package: "unbound")
    static let soffice = ExternalTool("soffice", package: "libreoffice-writer-nogui")
    static let dig = ExternalTool("dig", package: "bind9-dnsutils")
    static let qpdf = ExternalTool("qpdf", package: "qpdf")
    static let chromium = ExternalTool("chromium", package: "chromium")
    static var ready: Bool {
        NativeEngineTests.rootOrCI
            && (ExternalTool.isCI
                || [Self.unbound, Self.soffice, Self.dig, Self.qpdf, Self.chromium, .curl].allSatisfy(\.isUsable))
    }

    /// Plants a token and returns its record.
    static func plant(_ harness: NativeFleetHarness, _ arguments: [String]) async throws -> [String: Any] {
        let result = try await harness.decnet(["canary", "plant", "--json"] + arguments)
        try #require(result.status == 0, "\(result.standardError)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    }

    /// Headless Chromium in the attacker's namespace showing `url` (as root it needs --no-sandbox).
    static func chromium(_ harness: NativeFleetHarness, _ url: String, profile: String) async throws -> ProcessResult {
        let chromium = try #require(Self.chromium.path, "\(Self.chromium.missingMessage)")
        return try await harness.attacker([
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
            "--virtual-time-budget=5000", "--dump-dom", url,
        ])
    }

    @Test(.enabled(if: ready, "needs root, unbound, LibreOffice, dig, qpdf, Chromium and curl (CI installs them)"))
    func plantedTokensFireWhenUsedAndARevokedOneStaysSilent() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let unbound = try #require(Self.unbound.path, "\(Self.unbound.missingMessage)")
        let soffice = try #require(Self.soffice.path, "\(Self.soffice.missingMessage)")
        let dig = try #require(Self.dig.path, "\(Self.dig.missingMessage)")
        let qpdf = try #require(Self.qpdf.path, "\(Self.qpdf.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.83.\(Int.random(in: 1...250))"
            let zone = "c.\(tag).test"
            let (canaryHost, server, resolver, attacker) = ("\(net).10", "\(net).11", "\(net).53", "\(net).254")
            let fleet = """
                [general]
                net = \(net).0/24

                [\(tag)-cdn]
                ip = \(canaryHost)
                services = canary

                [\(tag)-cdn.canary]
                canary_zone = \(zone)

                [\(tag)-srv]
                ip = \(server)
                services = ssh, ftp, http

                [\(tag)-srv.ftp]
                users = admin:Adm1n#2024
                """
            let directory = harness.directory.url
            let file = directory.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")

            let decky = ["--decky", "\(tag)-srv"]
            let url = try await Self.plant(harness, ["--type", "url", "--label", "app .env"] + decky)
            let dns = try await Self.plant(harness, ["--type", "dns", "--label", "ssh config"] + decky)
            let docx = try await Self.plant(
                harness,
                ["--type", "document", "--label", "Passwords", "--path", "/root/Documents/passwords.docx"] + decky
            )
            let pdf = try await Self.plant(
                harness,
                ["--type", "document", "--label", "VPN", "--path", "/root/Documents/vpn-access.pdf"] + decky
            )
            let svg = try await Self.plant(harness, ["--type", "image", "--label", "logo"] + decky)
            let revoked = try await Self.plant(
                harness,
                ["--type", "url", "--label", "old .env", "--path", "/opt/app/.env.bak"] + decky
            )
            let id = { (token: [String: Any]) in token["id"] as? String ?? "" }
            #expect(url["url"] as? String == "http://\(canaryHost)/c/\(id(url))")
            #expect(dns["hostname"] as? String == "\(id(dns)).\(zone)")

            // A SOAR's webhook for every trigger, delivered by the profiler's process from the bus.
            let receiver = try await HTTPReceiver()
            defer { receiver.stop() }
            let hook = try await harness.decnet([
                "webhook", "create", "--name", "canaries", "--url", receiver.url, "--topic", "canary.*.triggered",
            ])
            try #require(hook.status == 0, "\(hook.standardError)")
            for daemon in [["bus", "start"], ["profiler", "start", "--interval", "1"]] {
                let result = try await harness.decnet(daemon)
                try #require(result.status == 0, "\(daemon): \(result.standardOutput)\(result.standardError)")
            }

            // The intruder's account reads the .env over FTP and calls the API URL in it.
            let ftp = "ftp://admin:Adm1n%232024@\(server)"
            let env = try await harness.attacker([curl, "-s", "--max-time", "20", "\(ftp)/%2Fopt/app/.env"])
            let apiURL = try #require(
                env.standardOutput.split(separator: "\n").first { $0.hasPrefix("API_BASE_URL=") }?
                    .dropFirst("API_BASE_URL=".count),
                "the planted .env over FTP: \(env.standardOutput)\(env.standardError)"
            )
            #expect(String(apiURL) == url["url"] as? String)
            let called = try await harness.attacker([
                curl, "-s", "-o", "/dev/null", "-w", "%{http_code} %{content_type} %{size_download}", "--max-time",
                "20",
                String(apiURL),
            ])
            #expect(called.standardOutput == "200 image/gif 43", "\(called.standardOutput)\(called.standardError)")

            // The revoked token: its file is gone from the decky and its URL is any missing page.
            let revoke = try await harness.decnet(["canary", "revoke", "--id", id(revoked)])
            try #require(revoke.status == 0, "\(revoke.standardError)")
            let gone = try await harness.attacker([
                curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "\(ftp)/%2Fopt/app/.env.bak",
            ])
            #expect(gone.standardOutput != "226" && !gone.standardOutput.hasPrefix("2"), "the file left the decky")
            let silent = try await harness.attacker([
                curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                revoked["url"] as? String ?? "",
            ])
            #expect(silent.standardOutput == "404")

            // The DOCX, fetched over FTP and opened by LibreOffice (converting it to PDF, as a person's viewer
            // would render it): its linked picture is the token.
            let work = directory.appendingPathComponent("attacker").path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            for (remote, local) in [("passwords.docx", "passwords.docx"), ("vpn-access.pdf", "vpn-access.pdf")] {
                let fetched = try await harness.attacker([
                    curl, "-s", "--max-time", "20", "-o", "\(work)/\(local)", "\(ftp)/%2Froot/Documents/\(remote)",
                ])
                try #require(fetched.status == 0, "\(remote) over FTP: \(fetched.standardError)")
            }
            let opened = try await harness.attacker([
                soffice, "-env:UserInstallation=file://\(work)/lo-profile", "--headless", "--convert-to", "pdf",
                "--outdir", "\(work)/out", "\(work)/passwords.docx",
            ])
            #expect(opened.status == 0, "\(opened.standardOutput)\(opened.standardError)")

            // The PDF: no reader on Debian runs a document's opening action (docs/canary.md says which were tried);
            // Acrobat hands the URI of /OpenAction to the browser. qpdf reads the action out of the file as a
            // reader parses it, and Chromium opens it.
            let json = try await ProcessRunner.run(qpdf, ["--json=2", "--json-key=qpdf", "\(work)/vpn-access.pdf"])
            let objects = try #require(
                ((try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])?["qpdf"]
                    as? [Any])?.last as? [String: Any],
                "qpdf --json: \(json.standardError)"
            )
            let root = ((objects["trailer"] as? [String: Any])?["value"] as? [String: Any])?["/Root"] as? String ?? ""
            let catalog = (objects["obj:" + root] as? [String: Any])?["value"] as? [String: Any]
            let actionRef = catalog?["/OpenAction"] as? String ?? ""
            let action = (objects["obj:" + actionRef] as? [String: Any])?["value"] as? [String: Any]
            #expect(action?["/S"] as? String == "/URI")
            let openURI = try #require(
                (action?["/URI"] as? String).map { $0.hasPrefix("u:") ? String($0.dropFirst(2)) : $0 }
            )
            #expect(openURI == pdf["url"] as? String)
            _ = try await Self.chromium(harness, openURI, profile: "\(work)/chrome-pdf")

            // The SVG logo in the web root, shown by a browser: its picture is the token.
            let shown = try await Self.chromium(
                harness,
                "http://\(server)/images/logo.svg",
                profile: "\(work)/chrome-svg"
            )
            #expect(
                shown.standardOutput.contains("<svg"),
                "\(shown.standardOutput.prefix(300))\(shown.standardError.suffix(300))"
            )

            // The DNS token through the LAN's resolver: unbound with the canary zone as a stub zone and 0x20
            // (use-caps-for-id) on, so the name reaches the decky in a case nobody chose.
            let namespace = try await IntelligenceLabTests.plugHost(harness, index: 1, address: resolver)
            let configuration = """
                server:
                    interface: \(resolver)
                    port: 53
                    do-ip6: no
                    access-control: \(net).0/24 allow
                    username: ""
                    chroot: ""
                    directory: "\(work)"
                    pidfile: "\(work)/unbound.pid"
                    use-syslog: no
                    logfile: "\(work)/unbound.log"
                    module-config: "iterator"
                    domain-insecure: "\(zone)"
                    local-zone: "\(zone)." transparent
                    use-caps-for-id: yes
                stub-zone:
                    name: "\(zone)"
                    stub-addr: \(canaryHost)@53

                """
            try configuration.write(toFile: "\(work)/unbound.conf", atomically: true, encoding: .utf8)
            let resolverProcess = Process()
            resolverProcess.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            resolverProcess.arguments = ["netns", "exec", namespace, unbound, "-d", "-c", "\(work)/unbound.conf"]
            resolverProcess.standardInput = FileHandle.nullDevice
            resolverProcess.standardOutput = FileHandle.nullDevice
            resolverProcess.standardError = FileHandle.nullDevice
            try resolverProcess.run()
            defer {
                // SIGKILL: a child of a test thread inherits its blocked SIGTERM.
                kill(resolverProcess.processIdentifier, SIGKILL)
                resolverProcess.waitUntilExit()
            }
            let mixed = String(
                id(dns).enumerated().map { $0.offset % 3 == 0 ? Character($0.element.uppercased()) : $0.element }
            )
            var answer = ""
            // unbound may take a while to listen on a loaded machine: dig's ";; communications error … connection
            // refused" (on standard output) is not an answer, so it is asked again, up to about a minute.
            for _ in 0..<60 where answer.isEmpty {
                let looked = try await harness.attacker([
                    dig, "@\(resolver)", "+short", "+time=2", "+tries=1", "\(mixed).C.\(tag.uppercased()).test", "A",
                ])
                let output = looked.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                answer = looked.status == 0 && !output.contains(";;") ? output : ""
                if answer.isEmpty { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(answer == canaryHost, "the resolver's answer: \(answer)")

            // Into the store, and what `decnet canary triggers` says of each.
            let ingested = try await harness.decnet(["workers", "start", "--once"])
            try #require(ingested.status == 0, "\(ingested.standardError)")
            let listed = try await harness.decnet(["canary", "triggers", "--json", "--limit", "1000"])
            try #require(listed.status == 0, "\(listed.standardError)")
            let triggers = try #require(
                try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [[String: Any]]
            )
            func of(_ token: [String: Any]) -> [[String: Any]] {
                triggers.filter { $0["token"] as? String == id(token) }
            }
            let detail = { (rows: [[String: Any]]) in rows.map { "\($0["source"] ?? "") \($0["detail"] ?? "")" } }
            #expect(
                of(url).contains {
                    $0["source"] as? String == attacker && ($0["detail"] as? String ?? "").contains("curl/")
                },
                "\(detail(of(url)))"
            )
            #expect(
                of(docx).contains {
                    $0["source"] as? String == attacker && ($0["detail"] as? String ?? "").contains("LibreOffice")
                },
                "\(detail(of(docx)))"
            )
            #expect(
                of(pdf).contains {
                    $0["source"] as? String == attacker && ($0["detail"] as? String ?? "").contains("Chrome")
                },
                "\(detail(of(pdf)))"
            )
            #expect(
                of(svg).contains {
                    $0["source"] as? String == attacker && ($0["detail"] as? String ?? "").contains("Chrome")
                },
                "\(detail(of(svg)))"
            )
            // Over DNS the source is the resolver that asked; the name is as it arrived, in whatever case.
            let looked = of(dns)
            #expect(
                !looked.isEmpty
                    && looked.allSatisfy { $0["source"] as? String == resolver && $0["via"] as? String == "dns" },
                "\(detail(looked))"
            )
            #expect(
                looked.allSatisfy { ($0["detail"] as? String ?? "").lowercased() == "\(id(dns)).\(zone)" },
                "\(detail(looked))"
            )
            #expect(of(revoked).isEmpty, "a revoked token stays silent: \(detail(of(revoked)))")
            #expect(triggers.allSatisfy { $0["label"] as? String != nil })

            // The webhook: the workers published each stored trigger as canary.<id>.triggered, and the
            // subscription got them, signed; nothing for the revoked token.
            var delivered: [String] = []
            for _ in 0..<80
            where !delivered.contains("canary.\(id(url)).triggered")
                || !delivered.contains("canary.\(id(dns)).triggered")
            {
                try await Task.sleep(for: .milliseconds(250))
                delivered = receiver.requests.compactMap { request in
                    guard let body = request["body"] as? String,
                        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                    else { return nil }
                    return object["topic"] as? String
                }
            }
            #expect(
                delivered.contains("canary.\(id(url)).triggered") && delivered.contains("canary.\(id(dns)).triggered"),
                "\(delivered)"
            )
            #expect(!delivered.contains("canary.\(id(revoked)).triggered"))
            #expect(
                receiver.requests.allSatisfy {
                    (($0["headers"] as? [String: String])?["webhook-signature"] ?? "").hasPrefix("v1,")
                }
            )
            _ = try await harness.decnet(["profiler", "stop"])
            _ = try await harness.decnet(["bus", "stop"])
        }
    }
}
