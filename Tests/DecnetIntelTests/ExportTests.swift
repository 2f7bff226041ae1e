import DecnetCore
import DecnetTesting
import Foundation
import Testing

@testable import DecnetIntel

/// STIX 2.1 bundles and MISP events of what the profiler made of attackers, checked by the tools their users
/// run: the OASIS validator in strict mode and the `stix2` library; PyMISP's event loader, its object templates in
/// strict mode, and its lax JSON schema.
@Suite struct ExportTests {
    static let validator = ExternalTool(
        "stix2_validator",
        package: "stix2-validator==3.2.0 (PyPI; .ci/run pip-installs it)"
    )
    static var usable: Bool { (Self.validator.isUsable && ExternalTool.pythonCanImport("pymisp")) || ExternalTool.isCI }

    static func profile(
        _ ip: String,
        _ events: [HoneypotEvent],
        identity: String? = nil,
        asn: UInt32? = nil
    ) -> StoredAttackerProfile {
        let behaviour = AttackerProfiler.profile(events)
        return StoredAttackerProfile(
            ip: ip,
            eventCount: events.count,
            lastSeen: events.map(\.time).max()!,
            profiled: events.map(\.time).max()!,
            behaviour: behaviour,
            evidence: ActorEvidence(ip: ip, events: events, profile: behaviour, asn: asn),
            identity: identity,
            techniques: TTPRuleSet.standard.tag(events, profile: behaviour)
        )
    }

    /// A botnet identity of three addresses (one public, with its AS), a person on a shell with a hostile
    /// password, and the campaign that holds them.
    static func input() -> STIXExport.Input {
        let hosts = ["8.8.8.8", "10.66.0.2", "2001:db8::5"]
        let bots = hosts.map { ip in
            Self.profile(
                ip,
                IdentityClusteringTests.stuffer(
                    ip,
                    client: IdentityClusteringTests.hydra,
                    credentials: IdentityClusteringTests.wordlist
                ),
                identity: "00000000-0000-4000-8000-000000000001",
                asn: ip == "8.8.8.8" ? 15169 : nil
            )
        }
        let person = Self.profile(
            "198.51.100.23",
            TTPRuleTests.scenario + [
                TTPRuleTests.event(.loginFailed, 9, [("username", "admin"), ("password", "'\"];<script>\u{1}")])
            ]
        )
        let makeUUID = IdentityClusteringTests.uuids()
        let identities = IdentityClustering.cluster(
            bots.map(\.evidence),
            previous: [],
            now: IdentityClusteringTests.start,
            makeUUID: makeUUID
        )
        .identities
        let campaign = Campaign(
            uuid: "00000000-0000-4000-8000-0000000000c1",
            state: .active,
            actors: identities.map(\.uuid) + ["ip:198.51.100.23"],
            attackers: hosts + ["198.51.100.23"],
            formed: IdentityClusteringTests.start,
            updated: IdentityClusteringTests.start,
            mergedInto: nil,
            first: IdentityClusteringTests.start,
            last: IdentityClusteringTests.start.addingTimeInterval(70),
            links: [],
            reasons: [],
            deckies: ["web01"],
            phases: [.credentialAccess]
        )
        return STIXExport.Input(
            attackers: bots + [person],
            identities: identities,
            campaign: campaign,
            sensor: "decnet-lab"
        )
    }

    static func run(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run("/usr/bin/env", arguments)
    }

    @Test(.enabled(if: usable, "needs stix2-validator 3.2.0, stix2 and pymisp (PyPI; CI installs them)"))
    func aBundlePassesTheStrictValidatorAndLoads() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = STIXExport.json(Self.input())
        #expect(STIXExport.json(Self.input()) == data, "the same input gives the same bytes")
        let path = directory.path + "/bundle.json"
        try data.write(to: URL(fileURLWithPath: path))
        let validated = try await Self.run([
            Self.validator.path ?? "stix2_validator", "--version", "2.1", "--strict", path,
        ])
        #expect(validated.status == 0, "\(validated.standardOutput)\(validated.standardError)")
        #expect(
            !validated.standardOutput.contains("[!]") && !validated.standardOutput.contains("[X]"),
            "\(validated.standardOutput)"
        )
        let loaded = try await Self.run([
            "python3", "-c",
            """
            import json, sys, stix2
            bundle = stix2.parse(open(sys.argv[1]).read(), allow_custom=False)
            kinds = sorted({o.type for o in bundle.objects})
            print(json.dumps({"objects": len(bundle.objects), "types": kinds}))
            """,
            path,
        ])
        #expect(loaded.status == 0, "\(loaded.standardError)")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(loaded.standardOutput.utf8)) as? [String: Any]
        )
        let types = Set(summary["types"] as? [String] ?? [])
        #expect(
            types.isSuperset(of: [
                "identity", "ipv4-addr", "ipv6-addr", "autonomous-system", "observed-data", "indicator", "sighting",
                "note",
                "attack-pattern", "relationship", "intrusion-set", "campaign",
            ]),
            "\(types)"
        )

        // The ids STIX defines for observables, as the stix2 library makes them.
        let bundle = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let objects = try #require(bundle["objects"] as? [[String: Any]])
        #expect(objects.contains { $0["id"] as? String == "ipv4-addr--2f689bf9-0ff2-545f-aa61-e495eb8cecc7" })
        #expect(objects.contains { $0["id"] as? String == "autonomous-system--7afc7bdf-d070-5add-90ff-f93503b1654d" })
        // ATT&CK by reference: the technique's id and URL, not MITRE's object id reused.
        let brute = try #require(objects.first { ($0["name"] as? String) == "Brute Force" })
        let reference = try #require((brute["external_references"] as? [[String: Any]])?.first)
        #expect(reference["external_id"] as? String == "T1110" && reference["source_name"] as? String == "mitre-attack")
        #expect(
            !objects.contains {
                ($0["id"] as? String)?.hasPrefix("attack-pattern--") == true
                    && ($0["id"] as? String)!.contains("e3a12395")
            }
        )
        // The hostile password travels as text.
        let note = try #require(objects.first { ($0["abstract"] as? String)?.contains("198.51.100.23") == true })
        #expect((note["content"] as? String)?.contains("admin:'\"];<script>\u{1}") == true)
    }

    @Test(.enabled(if: usable, "needs pymisp and jsonschema (PyPI; CI installs them)"))
    func aMISPEventLoadsInPyMISPAndPassesItsSchema() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = Self.input()
        let path = directory.path + "/event.json"
        try MISPExport.json(input).write(to: URL(fileURLWithPath: path))
        #expect(MISPExport.json(input) == MISPExport.json(input))
        let checked = try await Self.run([
            "python3", "-c",
            """
            import json, os, sys, jsonschema, pymisp
            raw = json.load(open(sys.argv[1]))
            event = pymisp.MISPEvent()
            event.load(raw)
            for obj in event.objects:
                obj.to_json(strict=True)
            schema = json.load(open(os.path.join(os.path.dirname(pymisp.__file__), "data", "schema-lax.json")))
            jsonschema.validate(raw, schema)
            print(json.dumps({
                "attributes": len(event.attributes), "objects": len(event.objects),
                "ips": sorted(a.value for a in event.attributes if a.type == "ip-src"),
                "tags": sorted(t.name for t in event.tags), "info": event.info,
            }))
            """,
            path,
        ])
        #expect(checked.status == 0, "\(checked.standardOutput)\(checked.standardError)")
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(checked.standardOutput.utf8)) as? [String: Any]
        )
        #expect(summary["ips"] as? [String] == ["10.66.0.2", "198.51.100.23", "2001:db8::5", "8.8.8.8"])
        let credentials = input.attackers.reduce(0) { $0 + $1.evidence.credentials.count }
        #expect(summary["objects"] as? Int == credentials)
        let tags = summary["tags"] as? [String] ?? []
        #expect(
            tags.contains("tlp:amber") && tags.contains("misp-galaxy:mitre-attack-pattern=\"Brute Force - T1110\""),
            "\(tags)"
        )
        #expect((summary["info"] as? String)?.hasPrefix("DECNET-Swift campaign 00000000") == true)
    }

    @Test func version5UUIDsAreRFCs() {
        // RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
        let dns = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(NameUUID.make(dns, "www.example.com") == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
        #expect(STIXExport.time(Date(timeIntervalSince1970: 1_795_000_000.1234)) == "2026-11-18T11:06:40.123Z")
    }
}
