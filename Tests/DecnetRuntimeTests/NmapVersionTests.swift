import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// `nmap -sV` against each emulator on its real port (each on its own loopback address) reports the product and
/// version its persona claims.
@Suite(.serialized) struct NmapVersionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var kind: ServiceKind
        var persona: [String: String]
        var port: Int
        var host: String
        /// nil: nmap names no product, as it names none for the real server the persona claims.
        var product: String?
        var version: String?
        var distro = "debian"
        var tls = false
        var testDescription: String { "\(self.kind) \(self.persona) \(self.distro)" }
    }

    static let cases: [Case] = [
        Case(
            kind: "redis",
            persona: ["redis_version": "7.2.4"],
            port: 6379,
            host: "127.77.1.1",
            product: "Redis key-value store",
            version: "7.2.4"
        ),
        Case(kind: "smtp", persona: [:], port: 25, host: "127.77.1.2", product: "Postfix smtpd", version: nil),
        Case(
            kind: "smtp",
            persona: ["smtp_mta": "exim"],
            port: 25,
            host: "127.77.1.3",
            product: "Exim smtpd",
            version: "4.96"
        ),
        Case(kind: "pop3", persona: [:], port: 110, host: "127.77.1.4", product: "Dovecot pop3d", version: nil),
        Case(kind: "ftp", persona: [:], port: 21, host: "127.77.1.11", product: "vsftpd", version: "3.0.3"),
        // Ubuntu's telnetd is netkit's, which nmap knows; Debian 12's is inetutils', which nmap names no product
        // for (measured against the real one, bench/differential).
        Case(
            kind: "telnet",
            persona: [:],
            port: 23,
            host: "127.77.1.14",
            product: "Linux telnetd",
            version: nil,
            distro: "ubuntu22"
        ),
        Case(kind: "telnet", persona: [:], port: 23, host: "127.77.1.16", product: nil, version: nil),
        Case(
            kind: "http",
            persona: ["server_header": "nginx/1.18.0"],
            port: 80,
            host: "127.77.1.12",
            product: "nginx",
            version: "1.18.0"
        ),
        Case(
            kind: "http",
            persona: ["server_header": "Apache/2.4.57 (Debian)"],
            port: 80,
            host: "127.77.1.13",
            product: "Apache httpd",
            version: "2.4.57"
        ),
        Case(
            kind: "mysql",
            persona: ["mysql_version": "8.0.36-0ubuntu0.22.04.1"],
            port: 3306,
            host: "127.77.1.7",
            product: "MySQL",
            version: "8.0.36-0ubuntu0.22.04.1"
        ),
        Case(
            kind: "mysql",
            persona: ["mysql_version": "10.11.6-MariaDB-0+deb12u1"],
            port: 3306,
            host: "127.77.1.8",
            product: "MySQL",
            version: "5.5.5-10.11.6-MariaDB-0+deb12u1"
        ),
        Case(
            kind: "postgres",
            persona: ["pg_version": "15.6"],
            port: 5432,
            host: "127.77.1.9",
            product: "PostgreSQL DB",
            version: "15"
        ),
        Case(
            kind: "postgres",
            persona: ["pg_version": "14.11"],
            port: 5432,
            host: "127.77.1.10",
            product: "PostgreSQL DB",
            version: "14.1 - 14.5"
        ),
        // nmap names Dovecot's imap-login by its answer to an HTTP request (whatever the greeting says), as it
        // names the real Debian 12 server (bench/differential).
        Case(kind: "imap", persona: [:], port: 143, host: "127.77.1.17", product: "Dovecot imapd", version: nil),
        Case(
            kind: "imap",
            persona: [:],
            port: 143,
            host: "127.77.1.5",
            product: "Dovecot imapd",
            version: nil,
            distro: "ubuntu22"
        ),
        Case(
            kind: "imap",
            persona: [:],
            port: 143,
            host: "127.77.1.6",
            product: "Dovecot imapd",
            version: nil,
            distro: "rocky9"
        ),
        Case(
            kind: "http",
            persona: [:],
            port: 443,
            host: "127.77.1.15",
            product: "nginx",
            version: "1.22.1",
            tls: true
        ),
    ]

    @Test(.enabled(if: ExternalTool.nmap.isUsable, "needs nmap (required under CI)"), arguments: cases)
    func nmapSeesWhatThePersonaClaims(_ item: Case) async throws {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            item.kind,
            persona: item.persona,
            host: item.host,
            port: item.port,
            distro: item.distro,
            tls: item.tls
        )
        let result = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", String(item.port), item.host, "-oX", "-"]
        )
        await service.stop()
        let port = try #require(
            try NmapXML(result.standardOutput).ports.first { $0.port == item.port },
            "\(result.standardOutput)"
        )
        #expect(port.state == "open")
        #expect(port.product == item.product, "\(result.standardOutput)")
        if let version = item.version { #expect(port.version == version) }
    }
}
