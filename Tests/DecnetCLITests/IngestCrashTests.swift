import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `decnet workers start` (the ingester) and `decnet db`, run as a user runs them; the crash test of issue 6:
/// the ingester is SIGKILLed again and again while events are produced at 10,000 per second, and afterwards
/// every produced event is in the store exactly once, while the writer rotates the log under it.
@Suite struct IngestCrashTests {
    static func environment(_ directory: TemporaryDirectory) -> [String: String] {
        ["DECNET_STATE_DIR": directory.path, "DECNET_DB_PATH": directory.path + "/decnet.db"]
    }

    static func event(_ index: Int) -> String {
        RFC5424Formatter.line(
            for: HoneypotEvent(
                id: index % 10 == 0 ? .commandInput : .loginFailed,
                decky: "decky-\(index % 5)",
                hostname: "decky-\(index % 5)",
                service: "ssh",
                session: "s\(index / 10)",
                source: Endpoint(ip: "198.51.100.\(index % 200)", port: 40000 + index % 1000),
                destination: Endpoint(ip: "10.77.0.10", port: 22),
                fields: [EventField("username", "root"), EventField("password", "pw-\(index)")]
            )
        )
    }

    /// Appends 100 events every 10 ms (10,000 events/s) to `log` as the engine does, rotating it every 1 MB;
    /// returns how many were written and how often the log was rotated.
    static func produce(into log: String, tenMilliseconds ticks: Int) async -> (written: Int, rotations: Int) {
        let file = try! RotatingLogFile(path: log, policy: .init(maxBytes: 1 << 20, generations: 0))
        var written = 0
        let clock = ContinuousClock()
        var next = clock.now
        for _ in 0..<ticks {
            let lines = (written..<written + 100).map { Self.event($0) + "\n" }.joined()
            try! file.append(Array(lines.utf8))
            written += 100
            next = next.advanced(by: .milliseconds(10))
            try? await Task.sleep(until: next, clock: clock)
        }
        return (written, file.rotations)
    }

    @Test func theIngesterKilledAgainAndAgainStoresEveryEventOnce() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.path + "/decnet.log"
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        // The producer: 10,000 events/s for three seconds, rotated every 1 MB (about every 4,000 events), so the
        // kills also land across rotations.
        let producer = Task.detached { await Self.produce(into: log, tenMilliseconds: 300) }
        // The ingester, killed with SIGKILL five times at random moments.
        var kills = 0
        for _ in 0..<5 {
            let process = Process()
            process.executableURL = binary
            process.arguments = ["workers", "start", "--foreground", "--log-file", log, "--batch-size", "500"]
            process.environment = ProcessInfo.processInfo.environment.merging(Self.environment(directory)) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(Int.random(in: 250...600)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { kills += 1 }
        }
        let (produced, rotations) = await producer.value
        #expect(kills == 5)
        #expect(rotations >= 5, "the log was rotated \(rotations) time(s)")
        // A last run catches up; then the store holds each produced event once.
        let result = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once", "--log-file", log],
            environment: Self.environment(directory)
        )
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("0 rejected line(s)"), "\(result.standardOutput)")
        let store = try SQLiteEventStore(path: directory.path + "/decnet.db")
        let counts = try await store.counts()
        #expect(produced == 30_000)
        #expect(counts["logs"] == produced, "\(counts)")
        #expect(try await store.attackers().reduce(0) { $0 + $1.eventCount } == produced)
    }

    @Test func dbMigrateAndResetAsTheSeedsCommands() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = Self.environment(directory)
        let migrate = try await ProcessRunner.run(binary.path, ["db", "migrate"], environment: environment)
        #expect(migrate.status == 0 && migrate.standardOutput.contains("attackers 0, bounty 0, logs 0"))
        let log = directory.path + "/decnet.log"
        try (0..<25).map { Self.event($0) + "\n" }.joined().write(toFile: log, atomically: true, encoding: .utf8)
        let ingest = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once", "--log-file", log],
            environment: environment
        )
        #expect(ingest.standardOutput.hasPrefix("ingested 25 event(s)"), "\(ingest.standardOutput)")
        let refused = try await ProcessRunner.run(binary.path, ["db", "reset"], environment: environment)
        #expect(refused.status != 0 && refused.standardError.contains("add --yes"))
        let reset = try await ProcessRunner.run(binary.path, ["db", "reset", "--yes"], environment: environment)
        #expect(reset.status == 0 && reset.standardOutput.contains("attackers 0, bounty 0, logs 0"))
        // PostgreSQL where nothing listens: a clear error naming the backend, not a hang or a crash.
        let postgres = try await ProcessRunner.run(
            binary.path,
            ["db", "migrate"],
            environment: environment.merging(["DECNET_DB_BACKEND": "postgres", "DECNET_DB_PORT": "1"]) { $1 }
        )
        #expect(postgres.status != 0 && postgres.standardError.contains("migration failed (postgres store)"))
    }
}
