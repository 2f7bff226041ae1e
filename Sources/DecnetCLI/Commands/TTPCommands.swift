import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation

/// `decnet ttp list`: the ATT&CK techniques the TTP rules emit (or all of ATT&CK, or those tagged on one attacker).
struct TTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ttp",
        abstract: "ATT&CK techniques: what the TTP rules map events to, and what an attacker was tagged with.",
        subcommands: [List.self, Tag.self, Export.self]
    )

    /// Where the operator's rule files live unless `--rules` says otherwise.
    static func rulesDirectory(_ environment: DecnetEnvironment, _ option: String?) -> String {
        option ?? URL(fileURLWithPath: environment.stateDirectory).appendingPathComponent("rules/ttp").path
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List techniques with their names, tactics and the rules that emit them.",
            discussion:
                "The operator's rule files (*.ini) in <state dir>/rules/ttp (or --rules) are read on top of the default rules; an error names its file, line and key."
        )

        @Flag(help: "Every technique of the ATT&CK data, not only those the rules emit.") var all = false
        @Option(help: "The techniques tagged on this attacker address (as the profiler stored them).") var attacker:
            String?
        @Option(help: "Directory of rule files (default: <state dir>/rules/ttp).") var rules: String?
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            var technique: String
            var name: String
            var tactics: [String]
            var rules: [String]
            var stixID: String
            var url: String

            enum CodingKeys: String, CodingKey {
                case technique, name, tactics, rules, url
                case stixID = "stix_id"
            }
        }

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            if let attacker = self.attacker {
                let store = try StoreOpening.open(environment, pageCacheBytes: 8 << 20)
                try await store.migrate()
                guard let document = try await store.intelDocument(kind: "profile", key: attacker),
                    let profile = document.decode(StoredAttackerProfile.self)
                else {
                    throw CommandFailure(
                        "no profile of \(attacker) (is `decnet profiler` running, or run `decnet profiler start --once`)"
                    )
                }
                let tags = profile.techniques ?? []
                if self.json { return try JSONOutput.print(tags) }
                var table = TextTable("Technique", "Name", "Rule", "First", "Count", "Evidence")
                for tag in tags {
                    table.add(
                        tag.technique,
                        tag.name,
                        tag.rule,
                        RFC5424Formatter.timestamp(tag.first),
                        String(tag.count),
                        String(tag.evidence.prefix(80))
                    )
                }
                print(table.render())
                print(
                    "\(tags.count) technique tag(s) on \(attacker); ATT&CK \(AttackCatalogue.release). \(AttackCatalogue.notice)"
                )
                return
            }
            let (set, problems) = TTPRuleSet.load(directory: TTPCommand.rulesDirectory(environment, self.rules))
            if !problems.isEmpty {
                throw CommandFailure(ConfigurationError(problems).description, exitCode: .validationFailure)
            }
            let byTechnique = Dictionary(grouping: set.rules, by: \.technique)
            let ids = self.all ? Array(AttackCatalogue.techniques.keys) : Array(byTechnique.keys)
            let rows = ids.sorted().compactMap { id -> Row? in
                guard let technique = AttackCatalogue.technique(id) else { return nil }
                return Row(
                    technique: id,
                    name: AttackCatalogue.fullName(id) ?? technique.name,
                    tactics: technique.tactics.compactMap { AttackCatalogue.tactics[$0]?.name },
                    rules: (byTechnique[id] ?? []).map(\.id),
                    stixID: technique.stixID,
                    url: technique.url
                )
            }
            if self.json { return try JSONOutput.print(rows) }
            var table = TextTable("Technique", "Name", "Tactics", "Rules")
            for row in rows {
                table.add(
                    row.technique,
                    row.name,
                    row.tactics.joined(separator: ", "),
                    row.rules.joined(separator: ", ")
                )
            }
            print(table.render())
            print(
                "\(rows.count) technique(s), \(set.rules.count) rule(s); ATT&CK \(AttackCatalogue.release). \(AttackCatalogue.notice)"
            )
        }
    }

    /// `decnet ttp tag --attacker-id ADDR`: the rules in force applied to an attacker now, as the profiler applies
    /// them on its next run; the tags are printed and saved in the attacker's stored profile.
    struct Tag: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tag an attacker with ATT&CK techniques now (the rules in force on its stored events).",
            discussion:
                "The tags go into the attacker's stored profile (made now when the profiler has not made one yet); the profiler tags every attacker by itself, so this is for a rule just written or an attacker to look at at once."
        )

        @Option(name: .customLong("attacker-id"), help: "An attacker address (repeatable).") var attackers: [String]
        @Option(help: "Directory of rule files (default: <state dir>/rules/ttp).") var rules: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard !self.attackers.isEmpty else {
                throw CommandFailure("name an attacker with --attacker-id", exitCode: .validationFailure)
            }
            let environment = try await EnvironmentLoading.load()
            let (set, problems) = TTPRuleSet.load(directory: TTPCommand.rulesDirectory(environment, self.rules))
            if !problems.isEmpty {
                throw CommandFailure(ConfigurationError(problems).description, exitCode: .validationFailure)
            }
            let store = try StoreOpening.open(environment, pageCacheBytes: 8 << 20)
            try await store.migrate()
            var all: [String: [TechniqueTag]] = [:]
            for ip in self.attackers {
                guard let attacker = try await store.attacker(ip: ip) else {
                    throw CommandFailure("no attacker \(ip) in the store")
                }
                let events = try await store.logs(LogQuery(attackerIP: ip, limit: AttackerProfiler.maximumEvents))
                var profile = try await store.intelDocument(kind: "profile", key: ip)?.decode(
                    StoredAttackerProfile.self
                )
                let behaviour = profile?.behaviour ?? AttackerProfiler.profile(events)
                let tags = set.tag(events, profile: behaviour)
                if profile == nil {
                    profile = StoredAttackerProfile(
                        ip: ip,
                        eventCount: attacker.eventCount,
                        lastSeen: attacker.lastSeen,
                        profiled: Date(),
                        behaviour: behaviour,
                        evidence: ActorEvidence(ip: ip, events: events, profile: behaviour),
                        techniques: tags
                    )
                }
                profile?.techniques = tags
                if let profile {
                    try await store.putIntelDocuments(
                        [try IntelDocument(kind: "profile", key: ip, value: profile, updated: Date())],
                        deleting: []
                    )
                }
                all[ip] = tags
            }
            if self.json { return try JSONOutput.print(all) }
            for ip in self.attackers {
                let tags = all[ip] ?? []
                var table = TextTable("Technique", "Name", "Rule", "Count", "Evidence")
                for tag in tags {
                    table.add(tag.technique, tag.name, tag.rule, String(tag.count), String(tag.evidence.prefix(80)))
                }
                print("\(ip): \(tags.count) technique tag(s)")
                print(table.render())
            }
        }
    }

    /// `decnet ttp export stix|misp`: a STIX 2.1 bundle or a MISP event of attackers, an identity or a campaign.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export attackers, an identity or a campaign as a STIX 2.1 bundle or a MISP event.",
            discussion: "Reads what the profiler stored; the same store gives the same bytes."
        )

        enum Format: String, ExpressibleByArgument, CaseIterable { case stix, misp }

        @Argument(help: "stix or misp.") var format: Format
        @Option(name: .customLong("attacker-id"), help: "An attacker address (repeatable).") var attackers: [String] =
            []
        @Option(help: "An identity's uuid: its addresses, as one intrusion set.") var identity: String?
        @Option(help: "A campaign's uuid: its identities and addresses.") var campaign: String?
        @Option(help: "Write here (default: standard output).") var output: String?
        @Option(help: "The producer's name in the export.") var sensor = "DECNET-Swift"

        func run() async throws {
            let scopes = [!self.attackers.isEmpty, self.identity != nil, self.campaign != nil].filter { $0 }.count
            guard scopes == 1 else {
                throw CommandFailure(
                    "name one of --attacker-id, --identity or --campaign",
                    exitCode: .validationFailure
                )
            }
            let scope: ExportScope =
                if let identity = self.identity {
                    .identity(identity)
                } else if let campaign = self.campaign {
                    .campaign(campaign)
                } else {
                    .attackers(self.attackers)
                }
            let environment = try await EnvironmentLoading.load()
            let store = try StoreOpening.open(environment, pageCacheBytes: 8 << 20)
            try await store.migrate()
            let input: STIXExport.Input
            do {
                input = try await scope.input(from: store, sensor: self.sensor)
            } catch let missing as ExportScope.NotFound {
                throw CommandFailure(missing.description)
            }
            let data = self.format == .stix ? STIXExport.json(input) : MISPExport.json(input)
            if let output = self.output {
                guard FileManager.default.createFile(atPath: output, contents: data) else {
                    throw CommandFailure("cannot write \(output)")
                }
                FileHandle.standardError.write(
                    Data("\(self.format.rawValue): \(input.attackers.count) attacker(s) into \(output)\n".utf8)
                )
            } else {
                FileHandle.standardOutput.write(data)
                FileHandle.standardOutput.write(Data("\n".utf8))
            }
        }
    }
}
