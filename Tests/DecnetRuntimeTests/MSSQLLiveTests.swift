import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The mssql service against FreeTDS's tsql, impacket's mssqlclient.py (SQL and Windows logins) and nmap -sV.
@Suite struct MSSQLLiveTests {
    static let tsql = ExternalTool("tsql", package: "freetds-bin")
    static let impacket = ExternalTool("mssqlclient.py", package: "impacket (PyPI; .ci/run pip-installs it)")

    @Test(
        .enabled(
            if: tsql.isUsable && impacket.isUsable && ExternalTool.nmap.isUsable,
            "needs tsql, impacket and nmap (required under CI)"
        )
    )
    func sqlAndWindowsLoginsAreCapturedAndNmapNamesTheVersion() async throws {
        let tsql = try #require(Self.tsql.path, "\(Self.tsql.missingMessage)")
        let impacket = try #require(Self.impacket.path, "\(Self.impacket.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "mssql",
            persona: ["mssql_version": "15.0.2000.5", "workgroup": "CORP"],
            host: "127.77.19.7",
            port: 1433,
            osFamily: .windows,
            hostname: "SQL01"
        )
        let sql = try await ProcessRunner.run(
            tsql,
            ["-H", "127.77.19.7", "-p", "1433", "-U", "sa", "-P", "Sup3rS3cret!"]
        )
        #expect(sql.standardError.contains("Msg 18456 (severity 14, state 1) from SQL01"), "\(sql.standardError)")
        #expect(sql.standardError.contains("\"Login failed for user 'sa'.\""), "\(sql.standardError)")
        // A client that requires encryption (FreeTDS's `encryption = require`, ODBC Driver 18's default) gets TLS
        // for the whole session, as from SQL Server; tsql's default (ENCRYPT_OFF) above had TLS for its login.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = directory.url.appendingPathComponent("freetds.conf")
        try "[global]\n\tencryption = require\n".write(to: configuration, atomically: true, encoding: .utf8)
        let encrypted = try await ProcessRunner.run(
            tsql,
            ["-H", "127.77.19.7", "-p", "1433", "-U", "sa", "-P", "Requ1red!"],
            environment: ["FREETDSCONF": configuration.path]
        )
        #expect(
            encrypted.standardError.contains("Msg 18456 (severity 14, state 1) from SQL01"),
            "\(encrypted.standardError)"
        )
        let windows = try await ProcessRunner.run(impacket, ["-windows-auth", "CORP/alice:Password1@127.77.19.7"])
        #expect(
            windows.standardOutput.contains("ERROR(SQL01): Line 1: Login failed for user 'CORP\\alice'."),
            "\(windows.standardOutput)\(windows.standardError)"
        )
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "1433", "127.77.19.7", "-oX", "-"])
        await service.stop()

        let port = try #require(
            try NmapXML(scan.standardOutput).ports.first { $0.port == 1433 },
            "\(scan.standardOutput)"
        )
        #expect(port.product == "Microsoft SQL Server 2019" && port.version == "15.00.2000", "\(scan.standardOutput)")
        let logins = service.capture.events(.loginFailed)
        #expect(
            logins.contains {
                $0[field: "username"] == "sa" && $0[field: "password"] == "Sup3rS3cret!" && $0[field: "method"] == "sql"
            }
        )
        #expect(
            logins.contains {
                $0[field: "username"] == "alice" && $0[field: "domain"] == "CORP" && $0[field: "hashcat_mode"] == "5600"
                    && $0[field: "hashcat"]?.hasPrefix("alice::CORP:") == true
            }
        )
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "app_name"] == "TSQL" })
        #expect(logins.contains { $0[field: "password"] == "Requ1red!" })
        let prelogins = service.capture.events(.clientFingerprint).compactMap { $0[field: "encryption"] }
        #expect(prelogins.contains("off") && prelogins.contains("on"), "\(prelogins)")
        #expect(service.capture.events(.clientFingerprint).filter { $0[field: "ja4"] != nil }.count >= 3)
    }

    /// nmap's ms-sql-info and ms-sql-ntlm-info read the persona's version and Windows names. Debian 12's nmap 7.93
    /// cannot print either against any server, real SQL Server included (nmap issues #2571, #2572 and #2622: its
    /// nselib/mssql.lua takes two results from GetDiscoveredInstances, which returns one, and tests a name-keyed
    /// table with `#`). The test runs Debian's own library with upstream's fix for both (nmap r38943, in its later
    /// releases) from a data directory of its own, after checking that the unfixed library fails as described.
    @Test(.enabled(if: ExternalTool.nmap.isUsable, "needs nmap (required under CI)"))
    func nmapsSQLServerScriptsReadThePersonasVersionAndNames() async throws {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "mssql",
            persona: ["mssql_version": "15.0.2000.5", "workgroup": "CORP", "domain": "corp.local"],
            host: "127.77.19.8",
            port: 1433,
            osFamily: .windows,
            hostname: "SQL02"
        )
        let scripts = ["-Pn", "-n", "-p", "1433", "--script", "ms-sql-info,ms-sql-ntlm-info", "127.77.19.8"]
        let stock = try await ProcessRunner.run(nmap, scripts)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fixed = try NmapMSSQLFix.dataDirectory(in: directory.url)
        let scan = try await ProcessRunner.run(nmap, ["--datadir", fixed.path] + scripts)
        await service.stop()

        let unfixed = stock.standardOutput
        #expect(
            unfixed.contains("ms-sql-info: ERROR: Script execution failed")
                || !unfixed.contains("Version:"),
            "Debian's nmap printed the scripts' output unfixed; drop the fix:\n\(unfixed)"
        )
        for line in [
            "Target_Name: CORP", "NetBIOS_Domain_Name: CORP", "NetBIOS_Computer_Name: SQL02",
            "DNS_Domain_Name: corp.local", "DNS_Computer_Name: SQL02.corp.local", "DNS_Tree_Name: corp.local",
            "Product_Version: 10.0.17763",
            "name: Microsoft SQL Server 2019 RTM", "number: 15.00.2000.05", "Product: Microsoft SQL Server 2019",
            "Service pack level: RTM", "TCP port: 1433",
        ] {
            #expect(scan.standardOutput.contains(line), "\(line)\n\(scan.standardOutput)")
        }
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "encryption"] != nil })
    }
}
