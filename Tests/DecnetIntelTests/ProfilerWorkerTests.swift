import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Synchronization
import Testing

@testable import DecnetIntel

/// The profiler worker on a real store (a SQLite file, and a private PostgreSQL server where one can be started
/// and always under CI): it profiles what changed, forms identities and campaigns, keeps them in the store,
/// publishes what changed, and applies an operator's merge and unmerge.
@Suite struct ProfilerWorkerTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite
        case postgres
        var testDescription: String { self.rawValue }
        static var available: [Backend] { PostgresServer.isUsable ? [.sqlite, .postgres] : [.sqlite] }
    }

    /// What the worker published, in order.
    final class Published: Sendable {
        let messages = Mutex<[(String, [UInt8])]>([])
        var subjects: [String] { self.messages.withLock { $0.map(\.0) } }
        func record(_ subject: String, _ payload: [UInt8]) { self.messages.withLock { $0.append((subject, payload)) } }
        func payloads(_ subject: String) -> [[String: Any]] {
            self.messages.withLock { $0.filter { $0.0 == subject }.map(\.1) }.map {
                (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] ?? [:]
            }
        }
    }

    static func withStore(_ backend: Backend, _ body: (any EventStore) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        switch backend {
        case .sqlite:
            let store = try SQLiteEventStore(path: directory.url.appendingPathComponent("decnet.db").path)
            try await store.migrate()
            try await body(store)
        case .postgres:
            let server = try await PostgresServer.start()
            do {
                let store = try PostgresEventStore(
                    PostgresEventStore.Settings(
                        host: server.host,
                        port: server.port,
                        user: server.user,
                        password: nil,
                        database: server.database
                    )
                )
                try await store.migrate()
                try await body(store)
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }

    static func ingest(_ events: [HoneypotEvent], into store: any EventStore) async throws {
        _ = try await store.ingest(events.map(LogEntry.init), cursor: nil)
    }

    @Test(arguments: Backend.available)
    func aBotnetBecomesOneIdentityAndTheProfilesAreKept(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            let published = Published()
            let worker = ProfilerWorker(
                store: store,
                clock: { IdentityClusteringTests.start },
                publish: { published.record($0, $1) }
            )
            let botnet = (1...6).flatMap { index in
                IdentityClusteringTests.stuffer(
                    "10.66.0.\(index)",
                    client: IdentityClusteringTests.hydra,
                    credentials: IdentityClusteringTests.wordlist
                )
            }
            let scanner = (0..<30).map { port in
                IdentityClusteringTests.event(
                    "10.66.9.9",
                    .connectionOpen,
                    Double(port) * 0.05,
                    session: "p\(port)",
                    port: 1000 + port
                )
            }
            try await Self.ingest(botnet + scanner, into: store)

            let first = try await worker.runOnce()
            #expect(first.profiled == 7)
            #expect(first.identities == 1)
            let identities = try await store.intelDocuments(kind: "identity").compactMap {
                $0.decode(AttackerIdentity.self)
            }
            let identity = try #require(identities.first)
            #expect(identity.members == (1...6).map { "10.66.0.\($0)" })
            #expect(published.subjects.filter { $0 == "attacker.scored" }.count == 7)
            let formed = try #require(published.payloads("identity.formed").first)
            #expect(formed["identity_uuid"] as? String == identity.uuid)
            #expect((formed["members"] as? [String])?.count == 6)
            let profile = try #require(
                try await store.intelDocument(kind: "profile", key: "10.66.0.3")?.decode(StoredAttackerProfile.self)
            )
            #expect(profile.identity == identity.uuid)
            #expect(profile.behaviour.behaviour == .credentialStuffer)
            #expect(profile.evidence.credentials.count == 12)
            let scanned = try await store.intelDocument(kind: "profile", key: "10.66.9.9")?.decode(
                StoredAttackerProfile.self
            )
            #expect(scanned?.behaviour.behaviour == .scanner && scanned?.identity == nil)

            // Nothing new: nothing profiled, nothing published.
            let before = published.subjects.count
            let quiet = try await worker.runOnce()
            #expect(quiet.profiled == 0 && published.subjects.count == before)

            // A seventh address with the same list and client joins the identity.
            try await Self.ingest(
                IdentityClusteringTests.stuffer(
                    "10.66.0.7",
                    client: IdentityClusteringTests.hydra,
                    credentials: IdentityClusteringTests.wordlist,
                    at: 600
                ),
                into: store
            )
            let third = try await worker.runOnce()
            #expect(third.profiled == 1)
            let linked = try #require(published.payloads("identity.observation.linked").first)
            #expect(
                linked["identity_uuid"] as? String == identity.uuid && linked["added"] as? [String] == ["10.66.0.7"]
            )

            // A new worker (a restart) reads what the store holds and profiles nothing again.
            let restarted = ProfilerWorker(store: store, clock: { IdentityClusteringTests.start })
            #expect(try await restarted.runOnce().profiled == 0)
        }
    }

    /// An operator splits addresses off an identity and merges them back; each decision applies on the next run
    /// and is published as it would be by the clusterer.
    @Test(arguments: Backend.available)
    func anOperatorsUnmergeAndMergeApply(_ backend: Backend) async throws {
        try await Self.withStore(backend) { store in
            let published = Published()
            let worker = ProfilerWorker(store: store, publish: { published.record($0, $1) })
            let botnet = (1...4).flatMap { index in
                IdentityClusteringTests.stuffer(
                    "10.67.0.\(index)",
                    client: IdentityClusteringTests.hydra,
                    credentials: IdentityClusteringTests.wordlist
                )
            }
            try await Self.ingest(botnet, into: store)
            try await worker.runOnce()
            let original = try #require(
                try await store.intelDocuments(kind: "identity").compactMap { $0.decode(AttackerIdentity.self) }.first
            )
            await #expect(throws: IdentityDecisions.Refused.self) {
                try await IdentityDecisions.unmerge(original.uuid, by: "admin", in: store)
            }
            await #expect(throws: IdentityDecisions.Refused.self) {
                try await IdentityDecisions.unmerge(original.uuid, attackers: ["10.99.0.1"], by: "admin", in: store)
            }
            try await IdentityDecisions.unmerge(
                original.uuid,
                attackers: ["10.67.0.3", "10.67.0.4"],
                by: "admin",
                in: store
            )
            try await worker.runOnce()
            let split = try await store.intelDocuments(kind: "identity").compactMap { $0.decode(AttackerIdentity.self) }
                .filter { $0.state == .active }
            #expect(Set(split.map(\.members)) == [["10.67.0.1", "10.67.0.2"], ["10.67.0.3", "10.67.0.4"]])
            let kept = try #require(split.first { $0.uuid == original.uuid })
            #expect(kept.members == ["10.67.0.1", "10.67.0.2"])
            let other = try #require(split.first { $0.uuid != original.uuid })
            #expect(published.payloads("identity.formed").contains { $0["identity_uuid"] as? String == other.uuid })

            try await IdentityDecisions.merge(original.uuid, other.uuid, by: "admin", in: store)
            try await worker.runOnce()
            let merged = try #require(published.payloads("identity.merged").last)
            #expect(
                merged["identity_uuid"] as? String == original.uuid && merged["merged"] as? [String] == [other.uuid]
            )
            let loser = try #require(
                try await store.intelDocument(kind: "identity", key: other.uuid)?.decode(AttackerIdentity.self)
            )
            #expect(loser.state == .merged && loser.mergedInto == original.uuid)

            // Unmerging the merged identity gives it back its two addresses, under its own uuid.
            try await IdentityDecisions.unmerge(other.uuid, by: "admin", in: store)
            try await worker.runOnce()
            let unmerged = try #require(published.payloads("identity.unmerged").last)
            #expect(unmerged["identity_uuid"] as? String == other.uuid && unmerged["from"] as? String == original.uuid)
        }
    }

    /// The worker tags techniques with the rules in force, publishes what is new (`ttp.tagged`,
    /// `ttp.rule.fired.{technique}`), and tags every attacker again when a rule file changes.
    @Test func techniquesAreTaggedAndRulesReloadWhenTheyChange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await Self.withStore(.sqlite) { store in
            let published = Published()
            let worker = ProfilerWorker(
                store: store,
                rulesDirectory: directory.path,
                publish: { published.record($0, $1) }
            )
            try await Self.ingest(TTPRuleTests.scenario, into: store)
            try await worker.runOnce()
            let tagged = try #require(published.payloads("ttp.tagged").first)
            #expect(tagged["attacker_ip"] as? String == "198.51.100.23")
            #expect((tagged["techniques"] as? [String])?.contains("T1105") == true)
            let fired = try #require(published.payloads("ttp.rule.fired.T1105").first)
            #expect(fired["rule"] as? String == "R0021" && (fired["evidence"] as? String)?.contains("wget") == true)
            let profile = try #require(
                try await store.intelDocument(kind: "profile", key: "198.51.100.23")?.decode(StoredAttackerProfile.self)
            )
            #expect(profile.techniques?.contains { $0.technique == "T1082" && $0.rule == "R0023" } == true)

            // A new rule file: every attacker is tagged again, and only the new technique is published.
            let before = published.subjects.count
            try "[R9500]\ntechnique = T1222.002\nname = chmod seen\nevents = command.input\ncommand = ^chmod\n"
                .write(toFile: directory.path + "/local.ini", atomically: true, encoding: .utf8)
            let again = try await worker.runOnce()
            #expect(again.profiled == 1)
            let new = published.subjects.dropFirst(before)
            #expect(new.contains("ttp.rule.fired.T1222.002") && !new.contains("ttp.rule.fired.T1105"), "\(Array(new))")
            // An unchanged directory tags nothing again.
            #expect(try await worker.runOnce().profiled == 0)
            // A broken file is reported and the rules before it stay.
            try "[R9600]\ntechnique = T0\n".write(toFile: directory.path + "/zz.ini", atomically: true, encoding: .utf8)
            try await worker.runOnce()
            #expect(await worker.ruleDiagnostics.first?.description.contains("zz.ini:2: [R9600] technique") == true)
        }
    }

    /// Keystroke timing decides between a person and a program typing the same commands.
    @Test func keystrokeTimingTellsAPersonFromAProgram() throws {
        func line(_ offset: TimeInterval, _ text: String, gaps: [Int], corrections: Int = 0) -> HoneypotEvent {
            let words = text.split(separator: " ", maxSplits: 1).map(String.init)
            var fields = [("command", words[0]), ("elapsed_ms", String(Int(offset * 1000)))]
            if words.count > 1 { fields.append(("args", words[1])) }
            fields += [
                ("keystrokes", String(gaps.count + 1)), ("keystroke_ms", gaps.map(String.init).joined(separator: ",")),
            ]
            if corrections > 0 { fields.append(("corrections", String(corrections))) }
            return IdentityClusteringTests.event("198.51.100.23", .commandInput, offset, fields)
        }
        let person = [
            line(3, "id", gaps: [140], corrections: 1),
            line(6, "uname -a", gaps: [120, 95, 210, 160, 300, 88, 130]),
            line(11, "whoami", gaps: [110, 180, 90, 240, 150]),
        ]
        let typed = try #require(Keystrokes.measure(person))
        #expect(typed.entry == .typed && typed.isHuman && typed.corrections == 1)
        #expect(AttackerProfiler.profile(person).behaviour == .interactive)

        let program = [
            line(0.2, "id", gaps: [2]),
            line(0.4, "uname -a", gaps: [2, 2, 2, 2, 2, 2, 2]),
            line(0.6, "whoami", gaps: [2, 2, 2, 2, 2]),
        ]
        #expect(Keystrokes.measure(program)?.entry == .machine)
        #expect(AttackerProfiler.profile(program).behaviour == .bot)

        let pasted = [
            IdentityClusteringTests.event(
                "198.51.100.24",
                .commandInput,
                4,
                [
                    ("command", "cat"), ("args", "/etc/passwd"), ("elapsed_ms", "4000"), ("keystrokes", "1"),
                    ("keystroke_ms", ""),
                ]
            ),
            IdentityClusteringTests.event(
                "198.51.100.24",
                .commandInput,
                19,
                [
                    ("command", "uname"), ("args", "-a"), ("elapsed_ms", "19000"), ("keystrokes", "1"),
                    ("keystroke_ms", ""),
                ]
            ),
        ]
        #expect(Keystrokes.measure(pasted)?.entry == .pasted)
        // Hostile values: nothing to measure, no crash.
        let hostile = IdentityClusteringTests.event(
            "198.51.100.25",
            .commandInput,
            1,
            [("command", "x"), ("keystrokes", "-5"), ("keystroke_ms", ",,nan,1e400,-3")]
        )
        #expect(Keystrokes.measure([hostile]) == nil)
    }
}
