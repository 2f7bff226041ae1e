import DecnetCore
import DecnetPipeline
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 26's trust rule, through the real binary and OpenSSL's own client: the master's listener started with
/// `--swarm` lets in the certificate a host was added with (`decnet swarm add`), refuses a certificate the same CA
/// issued that no host is pinned to, refuses one from another CA in the handshake, and refuses a host's own
/// certificate once `decnet swarm remove` took it out. Nothing a refused client sends is kept.
@Suite(.serialized) struct SwarmPinningTests {
    static let openssl = ExternalTool("openssl", package: "openssl")

    /// Sends one RFC 5425 frame over mutual TLS with `identity` (its directory's cert.pem and key.pem).
    static func send(
        _ line: String,
        port: Int,
        certificate: String,
        key: String,
        ca: String
    ) async throws
        -> ProcessResult
    {
        let openssl = try #require(Self.openssl.path, "\(Self.openssl.missingMessage)")
        let frame = "\(line.utf8.count) \(line)"
        let script =
            "printf '%s' \"$FRAME\" | timeout 10 \(openssl) s_client -connect 127.0.0.1:\(port) -cert \(certificate) -key \(key) -CAfile \(ca) -quiet -no_ign_eof 2>&1; true"
        return try await ProcessRunner.run("/bin/sh", ["-c", script], environment: ["FRAME": frame])
    }

    static func event(_ user: String) -> String {
        RFC5424Formatter.line(
            for: HoneypotEvent(
                id: .loginFailed,
                decky: "edge-decky",
                hostname: "edge-decky",
                service: "ssh",
                session: "s1",
                source: Endpoint(ip: "203.0.113.9", port: 40_000),
                destination: Endpoint(ip: "10.9.0.10", port: 22),
                fields: [EventField("username", user)]
            )
        )
    }

    @Test(.enabled(if: Self.openssl.isUsable || ExternalTool.isCI, "needs openssl (CI installs it)"))
    func onlyThePinnedCertificateGetsIn() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        let state = directory.path
        let environment = [
            "DECNET_STATE_DIR": state, "DECNET_DB_PATH": state + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": state + "/decnet.log",
        ]
        func decnet(_ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(binary.path, arguments, environment: environment)
        }
        defer {
            APIDaemonTests.kill(["listener"], in: state)
            directory.remove()
        }
        let added = try await decnet(["swarm", "add", "--host", "127.0.0.1", "--name", "edge-01"])
        try #require(added.status == 0, "\(added.standardOutput)\(added.standardError)")
        #expect(added.standardOutput.contains("swarm host edge-01 (127.0.0.1) pinned to sha256:"))
        let rogue = try await decnet(["ca", "issue", "rogue-01", "--client"])
        try #require(rogue.status == 0, "\(rogue.standardError)")
        let stranger = CertificateAuthority(directory: state + "/other-pki")
        try stranger.initialize(name: "Some Other CA")
        let strangerIdentity = try stranger.issue(name: "edge-01", roles: [.client])
        let twice = try await decnet(["swarm", "add", "--host", "127.0.0.2", "--name", "edge-01"])
        #expect(twice.status != 0 && twice.standardError.contains("already in the swarm"), "\(twice.standardError)")

        let port = LoopbackPort.unused()
        let started = try await decnet(["listener", "start", "--swarm", "--bind", "127.0.0.1:\(port)"])
        try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        // The listener's own status (written every second): its counts, its last refusal.
        func statistics() -> [String: Any] {
            let data = FileManager.default.contents(atPath: state + "/decnet-listener.status.json") ?? Data()
            let status = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            return status?["statistics"] as? [String: Any] ?? [:]
        }
        func refusals() -> Int { statistics()["refused"] as? Int ?? -1 }
        // Ready once it reports (a bare connect to test the port would itself count as a refused handshake).
        for _ in 0..<200 where refusals() < 0 { try await Task.sleep(for: .milliseconds(50)) }
        try #require(refusals() == 0, "the listener did not start: \(started.standardOutput)")
        let ca = state + "/pki/ca.crt"
        let received = state + "/decnet-received.log"
        func receivedLines() -> [String] {
            ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        // The pinned host: its event is kept.
        let pinned = Self.event("pinned-ok")
        let edge = state + "/pki/edge-01"
        _ = try await Self.send(pinned, port: port, certificate: edge + "/cert.pem", key: edge + "/key.pem", ca: ca)
        for _ in 0..<100 where receivedLines() != [pinned] { try await Task.sleep(for: .milliseconds(50)) }
        #expect(receivedLines() == [pinned])

        // Our CA's certificate that no host is pinned to: refused after the handshake, its event dropped.
        let rogueDirectory = state + "/pki/rogue-01"
        _ = try await Self.send(
            Self.event("rogue"),
            port: port,
            certificate: rogueDirectory + "/cert.pem",
            key: rogueDirectory + "/key.pem",
            ca: ca
        )
        // Another CA's certificate, though named edge-01: refused in the handshake.
        let foreign = try await Self.send(
            Self.event("stranger"),
            port: port,
            certificate: strangerIdentity.certificatePath,
            key: strangerIdentity.keyPath,
            ca: ca
        )
        for _ in 0..<100 where refusals() < 2 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(refusals() == 2, "\(statistics())\n\(foreign.standardOutput)")
        let log = (try? String(contentsOfFile: state + "/decnet-listener.log", encoding: .utf8)) ?? ""
        #expect(log.contains("rogue-01@127.0.0.1: refused: certificate sha256:"), "\(log)")
        #expect(log.contains("TLS handshake refused"), "\(log)")

        // swarm list: the host, its pin, and when the listener last heard it.
        let listed = try await decnet(["swarm", "list", "--json"])
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [[String: Any]],
            "\(listed.standardOutput)\(listed.standardError)"
        )
        #expect(rows.count == 1 && rows.first?["name"] as? String == "edge-01")
        #expect((rows.first?["fingerprint"] as? String)?.hasPrefix("sha256:") == true)
        for _ in 0..<60
        where (try await decnet(["swarm", "list", "--json"])).standardOutput.contains("last_seen") == false {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await decnet(["swarm", "list", "--json"]).standardOutput.contains("last_seen"))

        // Removed: the host's own certificate is refused from now on.
        let removed = try await decnet(["swarm", "remove", "--name", "edge-01"])
        #expect(removed.status == 0, "\(removed.standardError)")
        _ = try await Self.send(
            Self.event("after-removal"),
            port: port,
            certificate: edge + "/cert.pem",
            key: edge + "/key.pem",
            ca: ca
        )
        for _ in 0..<100 where refusals() < 3 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(refusals() == 3, "\(statistics())")
        #expect((statistics()["lastRefusal"] as? String)?.contains("not pinned to any swarm host") == true)
        #expect(receivedLines() == [pinned], "only the pinned host's event was kept")
    }

    /// Issue 26's heartbeat line: an agent (its own process and state directory, forwarding its event log with
    /// heartbeats) is up on the master; killed, it is reported down within three heartbeat intervals, as
    /// `swarm list` state and a `swarm.<host>.down` message on the master's bus; the events made while it was
    /// down arrive once it is back (`swarm.<host>.up`), and the master's store holds each event exactly once.
    @Test func aSilentAgentIsDownAndItsBacklogArrivesWhenItReturns() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let master = try TemporaryDirectory()
        let agent = try TemporaryDirectory()
        let masterEnvironment = [
            "DECNET_STATE_DIR": master.path, "DECNET_DB_PATH": master.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": master.path + "/decnet.log",
        ]
        let agentLog = agent.path + "/decnet.log"
        let agentEnvironment = [
            "DECNET_STATE_DIR": agent.path, "DECNET_DB_PATH": agent.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": agentLog,
        ]
        func onMaster(_ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(binary.path, arguments, environment: masterEnvironment)
        }
        func onAgent(_ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(binary.path, arguments, environment: agentEnvironment)
        }
        var subscriber: Process?
        defer {
            if let subscriber, subscriber.isRunning { kill(subscriber.processIdentifier, SIGKILL) }
            APIDaemonTests.kill(["listener", "bus", "workers"], in: master.path)
            APIDaemonTests.kill(["forwarder"], in: agent.path)
            master.remove()
            agent.remove()
        }
        try #require((try await onMaster(["swarm", "add", "--host", "127.0.0.1", "--name", "edge-01"])).status == 0)
        try #require((try await onMaster(["bus", "start"])).status == 0)
        let messages = master.path + "/swarm-messages.out"
        subscriber = try BusCommandTests.subscriber(
            binary,
            ["swarm.>", "--count", "2"],
            environment: masterEnvironment,
            output: messages
        )
        try await BusCommandTests.waitForSubscribers(["swarm.>"], binary, masterEnvironment)
        let port = LoopbackPort.unused()
        try #require((try await onMaster(["listener", "start", "--swarm", "--bind", "127.0.0.1:\(port)"])).status == 0)
        // The master's workers keep what arrives in its store (SQLite here; SwarmControlTests runs PostgreSQL).
        let receivedLog = master.path + "/decnet-received.log"
        if !FileManager.default.fileExists(atPath: receivedLog) {
            _ = FileManager.default.createFile(atPath: receivedLog, contents: nil)
        }
        let workers = try await onMaster(["workers", "start", "--log-file", receivedLog])
        try #require(workers.status == 0, "\(workers.standardOutput)\(workers.standardError)")

        func state() async throws -> String {
            let listed = try await onMaster(["swarm", "list", "--json"])
            let rows = (try? JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8))) as? [[String: Any]]
            return rows?.first?["state"] as? String ?? "?"
        }
        func wait(for wanted: String, seconds: Double) async throws -> String {
            var now = try await state()
            for _ in 0..<Int(seconds * 10) where now != wanted {
                try await Task.sleep(for: .milliseconds(100))
                now = try await state()
            }
            return now
        }
        func received() -> Set<String> {
            Set(
                ((try? String(contentsOfFile: master.path + "/decnet-received.log", encoding: .utf8)) ?? "")
                    .split(separator: "\n").map(String.init)
            )
        }
        func append(_ lines: [String]) throws {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: agentLog))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
            try handle.close()
        }
        let before = (0..<20).map { Self.event("before-\($0)") }
        _ = FileManager.default.createFile(atPath: agentLog, contents: nil)
        try append(before)
        let forward = [
            "forwarder", "start", "--target", "127.0.0.1:\(port)", "--identity", master.path + "/pki/edge-01",
            "--heartbeat", "0.5",
        ]
        let started = try await onAgent(forward)
        try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        #expect(try await wait(for: "up", seconds: 15) == "up")
        for _ in 0..<100 where !received().isSuperset(of: before) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(received().isSuperset(of: before))

        // The agent dies; what its honeypots log meanwhile waits in its log.
        let pid = try #require(
            Int32(
                (try String(contentsOfFile: agent.path + "/decnet-forwarder.pid", encoding: .utf8))
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            )
        )
        kill(pid, SIGKILL)
        let killed = ContinuousClock.now
        let during = (0..<30).map { Self.event("during-\($0)") }
        try append(during)
        // Down after three missed half-second heartbeats (SwarmRegistryTests checks the window itself).
        #expect(
            try await wait(for: "down", seconds: 10) == "down",
            "still not down \(ContinuousClock.now - killed) after the kill"
        )
        #expect(received().isDisjoint(with: during))

        // Back: up again, and the backlog arrives.
        try #require((try await onAgent(forward)).status == 0)
        #expect(try await wait(for: "up", seconds: 15) == "up")
        for _ in 0..<100 where !received().isSuperset(of: during) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(received().isSuperset(of: during), "the events made while the agent was down")
        var bus: [String] = []
        for _ in 0..<100 {
            bus = ((try? String(contentsOfFile: messages, encoding: .utf8)) ?? "").split(separator: "\n").map(
                String.init
            )
            if bus.count >= 2 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(bus.contains { $0.contains("swarm.edge-01.down") }, "\(bus)")
        #expect(bus.contains { $0.contains("swarm.edge-01.up") }, "\(bus)")
        let heartbeats = received().filter { $0.contains(SwarmHeartbeat.appName) }
        #expect(heartbeats.isEmpty, "heartbeats never reach the event log")

        // Each event is in the master's store exactly once, whatever the killed forwarder sent twice.
        let store = try SQLiteEventStore(path: master.path + "/decnet.db")
        let produced = before.count + during.count
        var stored = 0
        for _ in 0..<100 {
            stored = try await store.counts()["logs"] ?? 0
            if stored >= produced { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(stored == produced, "\(stored) events stored of \(produced)")
        let users = try await store.logs(LogQuery(limit: 1_000)).compactMap {
            $0.fields.first { $0.name == "username" }?.value
        }
        #expect(users.count == produced && Set(users).count == produced, "\(users.sorted())")
        #expect(Set(users) == Set((0..<20).map { "before-\($0)" } + (0..<30).map { "during-\($0)" }))
    }
}
