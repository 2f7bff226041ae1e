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
            // Debian's nmap 7.93 with its ms-sql library mended as upstream mended it (NmapMSSQLFix: unmended, its
            // ms-sql-* scripts fail against any server, so mssql's names and build would not show).
            let mended = try NmapMSSQLFix.dataDirectory(in: harness.directory.url.appendingPathComponent("nmap"))
            let scan = try await harness.attacker([
                nmap, "--datadir", mended.path, "-sV", "-sC", "-Pn", "-n", "-p", "389,445,1433,3389", ip,
            ])
            let login = try await harness.attacker([
                smbclient, "-L", "//\(ip)", "-U", "ACME\\mallory%Hunter2!", "-m", "SMB3",
            ])
            let output = scan.standardOutput
            // Each port's lines (its version line and its scripts), and the host scripts (smb-os-discovery), apart:
            // every service names the same host, domain and build on its own.
            let sections = Self.sections(of: output)
            let ntlm = [
                "NetBIOS_Computer_Name: DC01", "NetBIOS_Domain_Name: ACME", "DNS_Domain_Name: acme.example",
                "DNS_Computer_Name: DC01.acme.example", "Product_Version: 10.0.14393",
            ]
            let expected: [(String, [String])] = [
                (
                    "389",
                    [
                        "389/tcp  open  ldap          Microsoft Windows Active Directory LDAP (Domain: acme.example, Site: Default-First-Site-Name)"
                    ]
                ),
                (
                    "445",
                    ["445/tcp  open  microsoft-ds  Windows Server 2016 Standard 14393 microsoft-ds (workgroup: ACME)"]
                ),
                (
                    "1433",
                    ["1433/tcp open  ms-sql-s      Microsoft SQL Server 2019", "number: 15.00.2000.05"] + ntlm
                ),
                ("3389", ["3389/tcp open  ms-wbt-server Microsoft Terminal Services"] + ntlm),
                (
                    "host",
                    [
                        "OS: Windows Server 2016 Standard 14393 (Windows Server 2016 Standard 6.3)",
                        "Computer name: DC01", "NetBIOS computer name: DC01", "Domain name: acme.example",
                        "FQDN: DC01.acme.example", "Service Info: Host: DC01; OS: Windows",
                    ]
                ),
            ]
            for (section, lines) in expected {
                for line in lines {
                    #expect(sections[section]?.contains(line) == true, "\(section): \(line)\n\(output)")
                }
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

            // The SQL Server Browser on 1434/udp names the same host and its instance to impacket's mssqlinstance.py.
            let browser = try #require(Self.mssqlInstance.path, "\(Self.mssqlInstance.missingMessage)")
            let instances = try await harness.attacker([browser, ip])
            for line in ["ServerName:DC01", "InstanceName:MSSQLSERVER", "Version:15.0.2000.5", "tcp:1433"] {
                #expect(instances.standardOutput.contains(line), "\(line)\n\(instances.standardOutput)")
            }
            #expect(await harness.waitForEvent([" command.input ", "service=\"mssql\"", "command=\"browse\""]) != nil)
            // nmap 7.93's ms-sql-info prints nothing against any server (on a scanned port it indexes nil; through
            // the browser its output table is keyed by instance name and `#output` is 0), so what it reaches is
            // read from its debug lines: the browser names the instance and the PRELOGIN version is read.
            let sqlScripts = try await harness.attacker([
                nmap, "-sU", "-p", "1434", "-n", "-Pn", "-d", "--script", "ms-sql-info", "--script-args",
                "mssql.instance-all", ip,
            ])
            #expect(
                (sqlScripts.standardOutput + sqlScripts.standardError).contains(
                    "Retrieved SSNetLib version for \(ip)\\MSSQLSERVER"
                ),
                "\(sqlScripts.standardOutput)"
            )
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}

extension WindowsHostLabTests {
    /// impacket's SQL Server Browser client (PyPI; .ci/run pip-installs it).
    static let mssqlInstance = ExternalTool("mssqlinstance.py", package: "impacket (PyPI; .ci/run pip-installs it)")

    /// llmnr on a lab decky: it joins LLMNR's multicast group on its interface and answers for its own name, to a
    /// unicast `dig` and to a multicast query from the attacker, and for nothing else; every query is an event
    /// attributed to the asker.
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func llmnrAnswersForItsOwnNameOnlyAndRecordsWhoAsks() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let dig = try #require(WindowsLabTools.dig.path, "\(WindowsLabTools.dig.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.78.\(Int.random(in: 1...250))"
            let name = "\(tag)-ws"
            let fleet =
                "[general]\nnet = \(net).0/24\n\n[\(name)]\nip = \(net).30\nhostname = WS07\n"
                + "archetype = windows-workstation\nservices = smb, llmnr\n"
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let ip = "\(net).30"
            let own = try await harness.attacker([dig, "+short", "+tries=1", "+time=2", "-p", "5355", "@\(ip)", "WS07"])
            #expect(own.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == ip, "\(own.standardOutput)")
            let other = try await harness.attacker([
                dig, "+short", "+tries=1", "+time=1", "-p", "5355", "@\(ip)", "wpad",
            ])
            #expect(!other.standardOutput.split(separator: "\n").contains { $0 == ip }, "\(other.standardOutput)")
            // A multicast query to the segment, as a Windows resolver sends it (one LLMNR question for the name to
            // 224.0.0.252:5355 from the attacker's address); the decky answers by unicast. (nmap 7.93's
            // llmnr-resolve spins at full CPU without ever returning in a namespace like this one.)
            let script = """
                import socket, struct, sys
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
                s.bind((sys.argv[1], 0))
                s.settimeout(3)
                name = sys.argv[2].encode()
                s.sendto(struct.pack('>HHHHHH', 0x4242, 0, 1, 0, 0, 0) + bytes([len(name)]) + name + b'\\x00\\x00\\x01\\x00\\x01',
                         ('224.0.0.252', 5355))
                data, source = s.recvfrom(512)
                print(source[0], socket.inet_ntoa(data[-4:]))
                """
            let multicast = try await harness.attacker([
                "timeout", "-s", "KILL", "20", "/usr/bin/python3", "-c", script, "\(net).254", "WS07",
            ])
            #expect(
                multicast.standardOutput == "\(ip) \(ip)\n",
                "\(multicast.standardOutput)\(multicast.standardError)"
            )
            // nbtscan's node status query over NBT-NS: the name table of a Windows host, with its MAC.
            let nbtscan = try await harness.attacker([
                "timeout", "-s", "KILL", "20", WindowsLabTools.nbtscan.path ?? "nbtscan", ip,
            ])
            let row = nbtscan.standardOutput.split(separator: "\n").first { $0.hasPrefix(ip) }.map(String.init) ?? ""
            #expect(
                row.contains("WS07") && row.contains("<server>"),
                "\(nbtscan.standardOutput)\(nbtscan.standardError)"
            )
            let asked = await harness.waitForEvent([" command.input ", "command=\"llmnr-query\"", "answered=\"no\""])
            let event = try #require(asked.flatMap { try? RFC5424Parser.event(from: $0) })
            #expect(event.source.ip == "\(net).254" && event.destination.ip == ip && event[field: "args"] == "wpad A")
            let status = try await harness.decnet(["status", "--json"])
            #expect(
                status.standardOutput.contains("\"port\" : 5355") || status.standardOutput.contains("\"port\":5355")
            )
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}

extension WindowsHostLabTests {
    /// nmap's normal output cut into each port's lines (keyed by the port number) and the rest after the port
    /// table ("host": host script results, Service Info).
    static func sections(of output: String) -> [String: String] {
        var sections: [String: String] = [:]
        var current: String?
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if let slash = line.firstIndex(of: "/"), line[..<slash].allSatisfy(\.isNumber), !line[..<slash].isEmpty {
                current = String(line[..<slash])
            } else if line.hasPrefix("Service Info:") || line.hasPrefix("Host script results:") {
                current = "host"
            } else if current != "host" && !line.hasPrefix("|") {
                current = nil
            }
            if let current { sections[current, default: ""] += line + "\n" }
        }
        return sections
    }

    /// The poisoner trap: a Windows decky asks its segment for bait names every interval; a host that merely
    /// listens is not reported, a Responder-style poisoner on the lab (answering every LLMNR query with its own
    /// address) is, within one interval, as the event's source.
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func aPoisonerOnTheSegmentIsReportedAndAListenerIsNot() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.79.\(Int.random(in: 1...250))"
            let name = "\(tag)-ws"
            let fleet =
                "[general]\nnet = \(net).0/24\n\n[\(name)]\nip = \(net).40\nhostname = WS08\n"
                + "archetype = windows-workstation\nservices = smb, llmnr\n\n[\(name).llmnr]\n"
                + "llmnr_bait_names = FS03\nllmnr_bait_interval = 2\n"
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            // The attacker joins LLMNR's group on its interface and, as a poisoner, answers every query it hears
            // with its own address (what Responder and Inveigh do); as a listener it only counts them.
            let script = """
                import socket, struct, sys, time
                me, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(('0.0.0.0', 5355))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton('224.0.0.252') + socket.inet_aton(me))
                s.settimeout(0.5)
                heard, end = 0, time.time() + seconds
                print('listening at %.6f' % time.time())
                while time.time() < end:
                    try:
                        data, source = s.recvfrom(512)
                    except socket.timeout:
                        continue
                    if len(data) < 12 or data[2] & 0x80:
                        continue
                    heard += 1
                    if mode == 'poison':
                        q = data[12:]
                        reply = data[:2] + b'\\x80\\x00\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x00' + q
                        reply += b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x1e\\x00\\x04' + socket.inet_aton(me)
                        s.sendto(reply, source)
                print('heard', heard)
                """
            let attacker = "\(net).254"
            let listener = try await harness.attacker([
                "timeout", "-s", "KILL", "30", "/usr/bin/python3", "-c", script, attacker, "listen", "6",
            ])
            #expect(
                listener.standardOutput.contains("heard ") && !listener.standardOutput.contains("heard 0"),
                "the bait queries reach the segment: \(listener.standardOutput)\(listener.standardError)"
            )
            #expect(
                !harness.eventLines().contains { $0.contains(" poisoner.detected ") },
                "a listener is not a poisoner"
            )
            let poisoner = try await harness.attacker([
                "timeout", "-s", "KILL", "30", "/usr/bin/python3", "-c", script, attacker, "poison", "5",
            ])
            #expect(poisoner.status == 0, "\(poisoner.standardError)")
            let line = await harness.waitForEvent([" poisoner.detected ", "poisoner_ip=\"\(attacker)\""])
            let event = try #require(
                line.flatMap { try? RFC5424Parser.event(from: $0) },
                "\(harness.eventLines().suffix(5))"
            )
            #expect(event.source.ip == attacker && event.decky == name && event[field: "name"] == "FS03")
            #expect(event[field: "answer"] == attacker && event.service == "llmnr")
            // Reported within one bait interval (2 s) of the poisoner's arrival on the segment: the next bait
            // query finds it (half a second allowed for scheduling on a busy machine).
            let arrived = try #require(
                poisoner.standardOutput.split(separator: "\n").first { $0.hasPrefix("listening at ") }
                    .flatMap { Double($0.dropFirst("listening at ".count)) },
                "\(poisoner.standardOutput)"
            )
            let delay = event.time.timeIntervalSince1970 - arrived
            #expect(delay >= 0 && delay <= 2.5, "reported \(delay) s after the poisoner arrived")

            // The same trap over NBT-NS: the decky's broadcast name queries for the bait, answered by a poisoner
            // listening on 137 (Responder answers both protocols).
            let nbns = """
                import socket, sys, time
                me = sys.argv[1]
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                s.bind(('0.0.0.0', 137))
                s.settimeout(0.5)
                end = time.time() + 6
                answered = 0
                while time.time() < end:
                    try:
                        data, source = s.recvfrom(512)
                    except socket.timeout:
                        continue
                    if len(data) < 50 or data[2] & 0x80:
                        continue
                    reply = data[:2] + b'\\x85\\x00\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00' + data[12:46]
                    reply += b'\\x00\\x20\\x00\\x01\\x00\\x00\\x00\\xa5\\x00\\x06\\x00\\x00' + socket.inet_aton(me)
                    s.sendto(reply, source)
                    answered += 1
                print('answered', answered)
                """
            let nbnsPoisoner = try await harness.attacker([
                "timeout", "-s", "KILL", "30", "/usr/bin/python3", "-c", nbns, attacker,
            ])
            #expect(
                nbnsPoisoner.standardOutput.contains("answered ")
                    && !nbnsPoisoner.standardOutput.contains("answered 0"),
                "\(nbnsPoisoner.standardOutput)\(nbnsPoisoner.standardError)"
            )
            let nbnsLine = await harness.waitForEvent([" poisoner.detected ", "protocol=\"nbns\""])
            let nbnsEvent = try #require(nbnsLine.flatMap { try? RFC5424Parser.event(from: $0) })
            #expect(
                nbnsEvent.source.ip == attacker && nbnsEvent[field: "name"] == "FS03"
                    && nbnsEvent[field: "answer"] == attacker
            )

            // mDNS: a querier on 5353 asking for the decky's .local name hears the answer on the group.
            let mdns = """
                import socket, struct, sys, time
                me = sys.argv[1]
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(('0.0.0.0', 5353))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton('224.0.0.251') + socket.inet_aton(me))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(me))
                s.setsockopt(socket.IPPROTO_IP, 8, 1)  # IP_PKTINFO
                s.settimeout(0.5)
                q = b'\\x00\\x00\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x04WS08\\x05local\\x00\\x00\\x01\\x00\\x01'
                end = time.time() + 5
                s.sendto(q, ('224.0.0.251', 5353))
                while time.time() < end:
                    try:
                        data, ancillary, flags, source = s.recvmsg(512, 256)
                    except socket.timeout:
                        continue
                    if len(data) < 12 or not data[2] & 0x80:
                        continue
                    for level, kind, value in ancillary:
                        if kind == 8:
                            print('answer from', source[0], 'to', socket.inet_ntoa(value[8:12]), 'address', socket.inet_ntoa(data[-4:]))
                    break
                """
            let mdnsQuerier = try await harness.attacker([
                "timeout", "-s", "KILL", "30", "/usr/bin/python3", "-c", mdns, attacker,
            ])
            #expect(
                mdnsQuerier.standardOutput.contains("answer from \(net).40 to 224.0.0.251 address \(net).40"),
                "\(mdnsQuerier.standardOutput)\(mdnsQuerier.standardError)"
            )
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}

enum WindowsLabTools {
    static let dig = ExternalTool("dig", package: "bind9-dnsutils")
    static let nbtscan = ExternalTool("nbtscan", package: "nbtscan")
}

/// The smb client tool, named where the CLI tests can see it.
enum SMBLiveTestsTool {
    static let smbclient = ExternalTool("smbclient", package: "smbclient")
}
