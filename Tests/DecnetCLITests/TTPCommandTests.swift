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
}
