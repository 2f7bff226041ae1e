import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The ldap service against OpenLDAP's ldapsearch (simple bind, anonymous rootDSE, LDAPS), impacket's NTLM login,
/// nmap -sV and ldap-rootdse.
@Suite struct LDAPLiveTests {
    static let ldapsearch = ExternalTool("ldapsearch", package: "ldap-utils")
    static let impacketPython = ExternalTool("smbclient.py", package: "impacket (PyPI; .ci/run pip-installs it)")

    @Test(
        .enabled(
            if: ldapsearch.isUsable && impacketPython.isUsable && ExternalTool.nmap.isUsable,
            "needs ldapsearch, impacket and nmap (required under CI)"
        )
    )
    func bindsAreCapturedAndTheRootDSENamesTheDomain() async throws {
        let ldapsearch = try #require(Self.ldapsearch.path, "\(Self.ldapsearch.missingMessage)")
        let impacket = try #require(Self.impacketPython.path, "\(Self.impacketPython.missingMessage)")
        let python = URL(fileURLWithPath: impacket).deletingLastPathComponent().appendingPathComponent("python3").path
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let persona = [
            "os_version": "Windows Server 2019 Standard 17763", "domain": "corp.local", "base_dn": "DC=corp,DC=local",
        ]
        let plain = try await LiveService.start(
            "ldap",
            persona: persona,
            host: "127.77.19.9",
            port: 389,
            osFamily: .windows,
            hostname: "DC01"
        )
        let secure = try await LiveService.start(
            "ldap",
            persona: persona,
            host: "127.77.19.9",
            port: 636,
            osFamily: .windows,
            hostname: "DC01",
            tls: true
        )
        let rootDSE = try await ProcessRunner.run(
            ldapsearch,
            [
                "-x", "-H", "ldap://127.77.19.9", "-s", "base", "-b", "",
                "defaultNamingContext", "dnsHostName",
            ]
        )
        #expect(rootDSE.standardOutput.contains("defaultNamingContext: DC=corp,DC=local"), "\(rootDSE.standardOutput)")
        #expect(rootDSE.standardOutput.contains("dnsHostName: DC01.corp.local"), "\(rootDSE.standardOutput)")
        let simple = try await ProcessRunner.run(
            ldapsearch,
            [
                "-x", "-H", "ldaps://127.77.19.9", "-D", "alice@corp.local", "-w", "Winter2024!", "-b",
                "DC=corp,DC=local", "(objectClass=user)",
            ],
            environment: ["LDAPTLS_REQCERT": "never"]
        )
        #expect(simple.standardError.contains("Invalid credentials (49)"), "\(simple.standardError)")
        #expect(
            simple.standardError.contains("AcceptSecurityContext error, data 52e, v4563"),
            "\(simple.standardError)"
        )
        let script = """
            from impacket.ldap import ldap
            c = ldap.LDAPConnection('ldap://127.77.19.9', 'DC=corp,DC=local')
            try:
                c.login('bob', 'Summer2025', 'CORP')
            except Exception as e:
                print('refused', e)
            """
        let ntlm = try await ProcessRunner.run(python, ["-c", script])
        #expect(ntlm.standardOutput.contains("refused"), "\(ntlm.standardOutput)\(ntlm.standardError)")
        let scan = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "389", "--script", "ldap-rootdse", "127.77.19.9"]
        )
        await plain.stop()
        await secure.stop()

        #expect(
            scan.standardOutput.contains(
                "Microsoft Windows Active Directory LDAP (Domain: corp.local, Site: Default-First-Site-Name)"
            ),
            "\(scan.standardOutput)"
        )
        #expect(scan.standardOutput.contains("Service Info: Host: DC01; OS: Windows"), "\(scan.standardOutput)")
        #expect(scan.standardOutput.contains("domainControllerFunctionality: 7"), "\(scan.standardOutput)")
        let secureLogin = try #require(secure.capture.events(.loginFailed).first)
        #expect(secureLogin[field: "username"] == "alice@corp.local" && secureLogin[field: "password"] == "Winter2024!")
        #expect(secure.capture.events(.clientFingerprint).contains { $0[field: "ja4"] != nil })
        let hashed = try #require(plain.capture.events(.loginFailed).first { $0[field: "username"] == "bob" })
        #expect(
            hashed[field: "domain"] == "CORP" && hashed[field: "hashcat_mode"] == "5600"
                && hashed[field: "auth"] == "sasl(GSS-SPNEGO)"
        )
    }
}
