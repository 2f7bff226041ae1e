import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The forwarder half of issue 6's crash test, run as an operator runs it: an agent's engine log is forwarded to
/// a master's listener over mutual TLS while 10,000 events/s are produced. The forwarder is SIGKILLed three
/// times while its target is down and twice while it is sending; afterwards the master's store holds every
/// produced event exactly once.
@Suite struct ForwarderCrashTests {
    @Test func theForwarderKilledAgainAndAgainLosesNothing() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let master = directory.path + "/master"
        let agent = directory.path + "/agent"
        let masterEnvironment = [
            "DECNET_STATE_DIR": master, "DECNET_INGEST_LOG_FILE": master + "/log/decnet.log",
            "DECNET_DB_PATH": master + "/decnet.db",
        ]
        let agentEnvironment = ["DECNET_STATE_DIR": agent, "DECNET_INGEST_LOG_FILE": agent + "/log/decnet.log"]
        try FileManager.default.createDirectory(atPath: agent + "/log", withIntermediateDirectories: true)
        // The master's CA issues the agent's client certificate, which is copied to the agent.
        let issued = try await ProcessRunner.run(
            binary.path,
            ["ca", "issue", "edge-01", "--client", "--out", agent + "/identity"],
            environment: masterEnvironment
        )
        #expect(issued.status == 0, "\(issued.standardError)")
        let port = LoopbackPort.unused()

        // The producer: 10,000 events/s for four seconds into a log rotated every 1 MB.
        let log = agent + "/log/decnet.log"
        let producer = Task.detached { await IngestCrashTests.produce(into: log, tenMilliseconds: 400).written }
        func forwarder() throws -> Process {
            let process = Process()
            process.executableURL = binary
            process.arguments = [
                "forwarder", "start", "--foreground", "--target", "127.0.0.1:\(port)", "--identity",
                agent + "/identity",
            ]
            process.environment = ProcessInfo.processInfo.environment.merging(agentEnvironment) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        func killAfterAWhile(_ process: Process) async throws -> Bool {
            try await Task.sleep(for: .milliseconds(Int.random(in: 250...500)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return process.terminationReason == .uncaughtSignal
        }
        var kills = 0
        // Target down: the log is the spool.
        for _ in 0..<3 { if try await killAfterAWhile(try forwarder()) { kills += 1 } }
        // The master's listener comes up; two more kills while the forwarder is sending.
        let listener = Process()
        listener.executableURL = binary
        listener.arguments = ["listener", "start", "--foreground", "--bind", "127.0.0.1:\(port)"]
        listener.environment = ProcessInfo.processInfo.environment.merging(masterEnvironment) { $1 }
        listener.standardOutput = FileHandle.nullDevice
        listener.standardError = FileHandle.nullDevice
        try listener.run()
        defer {
            kill(listener.processIdentifier, SIGTERM)
            listener.waitUntilExit()
        }
        for _ in 0..<100 where !LoopbackPort.accepts(port) { try await Task.sleep(for: .milliseconds(20)) }
        for _ in 0..<2 { if try await killAfterAWhile(try forwarder()) { kills += 1 } }
        #expect(kills == 5)
        let produced = await producer.value
        // The last forwarder runs until the received log holds every event (repeats allowed).
        let last = try forwarder()
        defer {
            kill(last.processIdentifier, SIGTERM)
            last.waitUntilExit()
        }
        let received = master + "/log/decnet-received.log"
        var distinct = 0
        for _ in 0..<600 {
            let text = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
            distinct = Set(text.split(separator: "\n")).count
            if distinct >= produced { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(distinct == produced)
        // The master's workers ingest what arrived: each event once, whatever was sent twice.
        let ingest = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once", "--log-file", received],
            environment: masterEnvironment
        )
        #expect(ingest.status == 0, "\(ingest.standardError)")
        #expect(ingest.standardOutput.contains("0 rejected line(s)"), "\(ingest.standardOutput)")
        let store = try SQLiteEventStore(path: master + "/decnet.db")
        #expect(produced == 40_000)
        #expect(try await store.counts()["logs"] == produced)
        // The listener's status names the agent by its certificate.
        let status = try await ProcessRunner.run(binary.path, ["listener", "status"], environment: masterEnvironment)
        #expect(status.status == 0 && status.standardOutput.contains("edge-01@127.0.0.1"), "\(status.standardOutput)")
    }
}
