import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// A Windows server decky on a lab LAN, deployed by the engine like any other, seen from the lab's attacker: nmap
/// -sV -sC reads one host (names, domain, build) from smb, rdp, ldap and mssql, and smbclient's login lands as an
/// attributed hash.
@Suite(.serialized) struct WindowsHostLabTests {
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func nmapSeesOneWindowsHostAcrossItsServices() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let smbclient = try #require(SMBLiveTestsTool.smbclient.path, "\(SMBLiveTestsTool.smbclient.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.77.\(Int.random(in: 1...250))"
            let name = "\(tag)-dc"
            let fleet = """
                [general]
                net = \(net).0/24

                [\(name)]
                ip = \(net).20
                hostname = DC01
                archetype = windows-server
                services = smb, rdp, ldap, mssql

                [\(name).smb]
                workgroup = ACME
                os_version = Windows Server 2016 Standard 14393

                [\(name).ldap]
                domain = acme.example
                """
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let ip = "\(net).20"
            let scan = try await harness.attacker([nmap, "-sV", "-sC", "-Pn", "-n", "-p", "389,445,1433,3389", ip])
            let login = try await harness.attacker([
                smbclient, "-L", "//\(ip)", "-U", "ACME\\mallory%Hunter2!", "-m", "SMB3",
            ])
            let output = scan.standardOutput
            for line in [
                "389/tcp  open  ldap          Microsoft Windows Active Directory LDAP (Domain: acme.example, Site: Default-First-Site-Name)",
                "445/tcp  open  microsoft-ds  Windows Server 2016 Standard 14393 microsoft-ds (workgroup: ACME)",
                "1433/tcp open  ms-sql-s      Microsoft SQL Server 2019 15.00.2000",
                "3389/tcp open  ms-wbt-server Microsoft Terminal Services",
                // smb-os-discovery and rdp-ntlm-info: the same names, domain and build.
                "OS: Windows Server 2016 Standard 14393 (Windows Server 2016 Standard 6.3)",
                "FQDN: DC01.acme.example",
                "NetBIOS_Computer_Name: DC01", "NetBIOS_Domain_Name: ACME", "DNS_Domain_Name: acme.example",
                "DNS_Computer_Name: DC01.acme.example", "Product_Version: 10.0.14393",
                "Service Info: Host: DC01; OS: Windows",
            ] {
                #expect(output.contains(line), "\(line)\n\(output)")
            }
            #expect(
                login.standardOutput.contains("NT_STATUS_LOGON_FAILURE"),
                "\(login.standardOutput)\(login.standardError)"
            )
            let captured = await harness.waitForEvent([
                " login.failed ", "username=\"mallory\"", "hashcat_mode=\"5600\"",
            ])
            let event = try #require(
                captured.flatMap { try? RFC5424Parser.event(from: $0) },
                "\(harness.eventLines().suffix(5))"
            )
            #expect(event.source.ip == "\(net).254" && event.decky == name && event.service == "smb")
            #expect(event[field: "domain"] == "ACME" && event[field: "hashcat"]?.hasPrefix("mallory::ACME:") == true)
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}

/// The smb client tool, named where the CLI tests can see it.
enum SMBLiveTestsTool {
    static let smbclient = ExternalTool("smbclient", package: "smbclient")
}
