import DecnetTesting
import Foundation
import Testing

/// `decnet ttp list` as an operator runs it: the techniques the rules emit with names, tactics and rules, all of
/// ATT&CK with `--all`, MITRE's notice with every listing, and a broken rule file refused by file, line and key.
@Suite struct TTPCommandTests {
    @Test func theRulesTechniquesAreListed() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = ["DECNET_STATE_DIR": directory.path]
        let listed = try await ProcessRunner.run(binary.path, ["ttp", "list"], environment: environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        let lines = listed.standardOutput.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains("T1110 Brute Force Credential Access R0010"), "\(listed.standardOutput)")
        #expect(lines.contains("T1059.004 Command and Scripting Interpreter: Unix Shell Execution R0020"))
        #expect(listed.standardOutput.contains("ATT&CK 18.1. (c) The MITRE Corporation."))

        let all = try await ProcessRunner.run(
            binary.path,
            ["ttp", "list", "--all", "--json"],
            environment: environment
        )
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(all.standardOutput.utf8)) as? [[String: Any]]
        )
        #expect(rows.count == 691)
        #expect(
            rows.first { $0["technique"] as? String == "T1046" }?["stix_id"] as? String
                == "attack-pattern--e3a12395-188d-4051-9a16-ea8e14d07b88"
        )

        let rules = directory.path + "/rules/ttp"
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
        try "[R1]\ntechnique = T1\n".write(toFile: rules + "/broken.ini", atomically: true, encoding: .utf8)
        let refused = try await ProcessRunner.run(binary.path, ["ttp", "list"], environment: environment)
        #expect(refused.status != 0)
        #expect(
            refused.standardError.contains(
                "\(rules)/broken.ini:2: [R1] technique: 'T1' is not a technique of ATT&CK 18.1"
            ),
            "\(refused.standardError)"
        )
    }

    /// `decnet ttp tag`: an operator's new rule applied to an attacker at once, before any profiler run, and kept in
    /// its stored profile for `ttp list --attacker` to show.
    @Test func tagAppliesTheRulesInForceNow() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = [
            "DECNET_STATE_DIR": directory.path, "DECNET_DB_PATH": directory.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": directory.path + "/events.log",
        ]
        try APIDaemonTests.botnetLog(to: directory.path + "/events.log")
        let ingested = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once"],
            environment: environment
        )
        try #require(ingested.status == 0, "\(ingested.standardError)")
        let rules = directory.path + "/rules/ttp"
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
        try "[L0001]\nname = Any ssh login attempt\ntechnique = T1110.004\nevents = login.failed\n".write(
            toFile: rules + "/local.ini",
            atomically: true,
            encoding: .utf8
        )
        let tagged = try await ProcessRunner.run(
            binary.path,
            ["ttp", "tag", "--attacker-id", "10.81.0.1", "--json"],
            environment: environment
        )
        #expect(tagged.status == 0, "\(tagged.standardError)")
        let tags = try #require(
            (try JSONSerialization.jsonObject(with: Data(tagged.standardOutput.utf8)) as? [String: Any])?["10.81.0.1"]
                as? [[String: Any]]
        )
        #expect(tags.contains { $0["rule"] as? String == "L0001" && $0["technique"] as? String == "T1110.004" })
        let listed = try await ProcessRunner.run(
            binary.path,
            ["ttp", "list", "--attacker", "10.81.0.1"],
            environment: environment
        )
        #expect(
            listed.status == 0 && listed.standardOutput.contains("L0001"),
            "\(listed.standardOutput)\(listed.standardError)"
        )
        let unknown = try await ProcessRunner.run(
            binary.path,
            ["ttp", "tag", "--attacker-id", "10.99.0.1"],
            environment: environment
        )
        #expect(unknown.status != 0 && unknown.standardError.contains("no attacker 10.99.0.1"))
    }

    /// `decnet ttp export` from a profiled store: a STIX bundle the strict validator passes, a MISP event, and
    /// clear refusals.
    @Test func exportsComeFromTheProfiledStore() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = [
            "DECNET_STATE_DIR": directory.path, "DECNET_DB_PATH": directory.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": directory.path + "/events.log",
        ]
        try APIDaemonTests.botnetLog(to: directory.path + "/events.log")
        for step in [["workers", "start", "--once"], ["profiler", "start", "--once"]] {
            let result = try await ProcessRunner.run(binary.path, step, environment: environment)
            try #require(result.status == 0, "\(step): \(result.standardError)")
        }
        let bundle = directory.path + "/bundle.json"
        let exported = try await ProcessRunner.run(
            binary.path,
            ["ttp", "export", "stix", "--attacker-id", "10.81.0.1", "--attacker-id", "10.81.0.5", "--output", bundle],
            environment: environment
        )
        #expect(
            exported.status == 0 && exported.standardError.contains("stix: 2 attacker(s) into"),
            "\(exported.standardError)"
        )
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle))) as? [String: Any]
        )
        let objects = object["objects"] as? [[String: Any]] ?? []
        #expect(objects.filter { $0["type"] as? String == "indicator" }.count == 2)
        if let validator = ExportValidator.path {
            let validated = try await ProcessRunner.run(validator, ["--version", "2.1", "--strict", bundle])
            #expect(validated.status == 0, "\(validated.standardOutput)")
        } else {
            #expect(!ExternalTool.isCI, "stix2_validator is missing (CI pip-installs it)")
        }
        let misp = try await ProcessRunner.run(
            binary.path,
            ["ttp", "export", "misp", "--attacker-id", "10.81.0.2"],
            environment: environment
        )
        let event = try #require(
            try JSONSerialization.jsonObject(with: Data(misp.standardOutput.utf8)) as? [String: Any]
        )
        #expect(((event["Event"] as? [String: Any])?["Object"] as? [Any])?.count == 8)
        let neither = try await ProcessRunner.run(binary.path, ["ttp", "export", "stix"], environment: environment)
        #expect(
            neither.status != 0 && neither.standardError.contains("name one of --attacker-id, --identity or --campaign")
        )
        let unknown = try await ProcessRunner.run(
            binary.path,
            ["ttp", "export", "stix", "--attacker-id", "10.9.9.9"],
            environment: environment
        )
        #expect(
            unknown.status != 0 && unknown.standardError.contains("no profile of 10.9.9.9"),
            "\(unknown.standardError)"
        )
    }
}

/// The OASIS validator, when installed (the test venv has it).
enum ExportValidator {
    static var path: String? { ExternalTool("stix2_validator", package: "stix2-validator==3.2.0 (PyPI)").path }
}
