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

    /// Enumeration as attackers run it with ldapsearch: anonymously (the persona allows anonymous reads), and
    /// after StartTLS with an account the persona accepts, paged, with AD's bitwise matching rule; every search
    /// is an event and the bind a login.
    @Test(.enabled(if: ldapsearch.isUsable, "needs ldapsearch (required under CI)"))
    func ldapsearchEnumeratesTheDirectoryAnonymouslyAndAfterStartTLS() async throws {
        let ldapsearch = try #require(Self.ldapsearch.path, "\(Self.ldapsearch.missingMessage)")
        let service = try await LiveService.start(
            "ldap",
            persona: [
                "domain": "corp.local", "users": "anna.keller:Spring2024!", "ldap_users": "anna.keller,sara.lind",
            ],
            host: "127.77.19.24",
            port: 389,
            osFamily: .windows,
            hostname: "DC02"
        )
        let anonymous = try await ProcessRunner.run(
            ldapsearch,
            [
                "-x", "-H", "ldap://127.77.19.24", "-b", "DC=corp,DC=local", "(objectCategory=person)",
                "sAMAccountName", "description",
            ]
        )
        #expect(
            anonymous.standardOutput.contains("sAMAccountName: sara.lind"),
            "\(anonymous.standardOutput)\(anonymous.standardError)"
        )
        #expect(anonymous.standardOutput.contains("description: New hire - initial password Welcome2024!"))
        #expect(
            anonymous.standardOutput.contains(
                "ref: ldap://DomainDnsZones.corp.local/DC=DomainDnsZones,DC=corp,DC=local"
            )
        )
        let secured = try await ProcessRunner.run(
            ldapsearch,
            [
                "-ZZ", "-x", "-H", "ldap://127.77.19.24", "-D", "CORP\\anna.keller", "-w", "Spring2024!", "-b",
                "DC=corp,DC=local", "-E", "pr=2/noprompt", "(userAccountControl:1.2.840.113556.1.4.803:=2)", "dn",
            ],
            environment: ["LDAPTLS_REQCERT": "never"]
        )
        await service.stop()
        let output = secured.standardOutput
        #expect(output.contains("dn: CN=Guest,CN=Users,DC=corp,DC=local"), "\(output)\(secured.standardError)")
        #expect(output.contains("dn: CN=krbtgt,CN=Users,DC=corp,DC=local") && output.contains("pagedresults: cookie="))
        let login = try #require(service.capture.events(.loginSuccess).first)
        #expect(login[field: "username"]?.hasSuffix("anna.keller") == true && login[field: "password"] == "Spring2024!")
        #expect(
            service.capture.events(.clientFingerprint).contains { $0[field: "ja4"] != nil },
            "the StartTLS hello is fingerprinted"
        )
        let searches = service.capture.events(.commandInput).filter { $0[field: "command"] == "search" }
        #expect(
            searches.contains {
                $0[field: "args"]?.contains("filter=(userAccountControl:1.2.840.113556.1.4.803:=2)") == true
            }
        )
        #expect(service.capture.events(.commandInput).contains { $0[field: "command"] == "extended" })
    }
}
