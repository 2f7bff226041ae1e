import DecnetCore
import DecnetPipeline
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 26's first acceptance line, on this machine: a master and three agents (each its own process and state
/// directory, its fleet on loopback addresses of its own): `swarmctl deploy` puts a fleet on each, a login on a
/// decky of each agent reaches the master's PostgreSQL store (through its listener and workers) and its API's live
/// feed within 2 s, `swarmctl status` shows all, `teardown` cleans each. The control channel lets in only the
/// master and talks only to the pinned agent.
@Suite(.serialized) struct SwarmControlTests {
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "the loopback fleets bind ports 80 and 443 (CI runs as root)"))
    func theMasterDeploysWatchesAndTearsDownThreeAgents() async throws {
        let postgres = try await PostgresServer.start()
        do {
            try await Self.threeAgents(postgres: postgres)
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
    }

    /// The master keeps its events in `postgres`, with its workers, bus and API beside its listener.
    static func threeAgents(postgres: PostgresServer) async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let openssl = try #require(SwarmPinningTests.openssl.path, "\(SwarmPinningTests.openssl.missingMessage)")
        let master = try TemporaryDirectory()
        let agents = try (1...3).map { _ in try TemporaryDirectory() }
        func environment(_ state: String) -> [String: String] {
            [
                "DECNET_STATE_DIR": state, "DECNET_DB_PATH": state + "/decnet.db",
                "DECNET_INGEST_LOG_FILE": state + "/decnet.log",
            ]
        }
        // The master: PostgreSQL as the store, and the API (its first admin password and JWT secret).
        let masterEnvironment = environment(master.path).merging([
            "DECNET_DB_BACKEND": "postgres", "DECNET_DB_HOST": postgres.host, "DECNET_DB_PORT": String(postgres.port),
            "DECNET_DB_USER": postgres.user, "DECNET_DB_NAME": postgres.database,
            "DECNET_JWT_SECRET": APIDaemonTests.secret, "DECNET_ADMIN_PASSWORD": "first-login-pw",
        ]) { $1 }
        func run(_ state: String, _ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(
                binary.path,
                arguments,
                environment: state == master.path ? masterEnvironment : environment(state)
            )
        }
        var feed: Process?
        defer {
            for agent in agents {
                Self.runNow(binary.path, ["teardown", "--all"], environment: environment(agent.path))
                APIDaemonTests.kill(["agent", "engine"], in: agent.path)
                agent.remove()
            }
            if let feed, feed.isRunning { kill(feed.processIdentifier, SIGKILL) }
            APIDaemonTests.kill(["listener", "workers", "api", "bus"], in: master.path)
            master.remove()
        }
        let listenerPort = LoopbackPort.unused()
        let names = ["edge-01", "edge-02", "edge-03"]
        var ports: [Int] = []
        for name in names {
            let port = LoopbackPort.unused()
            ports.append(port)
            let added = try await run(master.path, ["swarm", "add", "--host", "127.0.0.1:\(port)", "--name", name])
            try #require(added.status == 0, "\(added.standardError)")
        }
        let listener = try await run(
            master.path,
            ["listener", "start", "--swarm", "--bind", "127.0.0.1:\(listenerPort)"]
        )
        try #require(listener.status == 0, "\(listener.standardError)")
        // The master's workers ingest what the listener receives into PostgreSQL and publish it on the master's
        // bus; the API's live feed streams the bus.
        let received = master.path + "/decnet-received.log"
        if !FileManager.default.fileExists(atPath: received) {
            _ = FileManager.default.createFile(atPath: received, contents: nil)
        }
        for daemon in [["bus", "start"], ["workers", "start", "--log-file", received]] {
            let started = try await run(master.path, daemon)
            try #require(started.status == 0, "\(daemon): \(started.standardOutput)\(started.standardError)")
        }
        // Not a port an agent is about to bind (it is only bound when the agent starts, below).
        var apiPort = LoopbackPort.unused()
        while ports.contains(apiPort) || apiPort == listenerPort { apiPort = LoopbackPort.unused() }
        let api = try await run(master.path, ["api", "start", "--port", String(apiPort), "--no-deploy"])
        try #require(api.status == 0, "\(api.standardOutput)\(api.standardError)")
        let base = "http://127.0.0.1:\(apiPort)"
        for _ in 0..<100 where !LoopbackPort.accepts(apiPort) { try await Task.sleep(for: .milliseconds(100)) }
        let token = try await APIDaemonTests.readyAdmin(base)
        let feedOutput = master.path + "/feed.out"
        _ = FileManager.default.createFile(atPath: feedOutput, contents: nil)
        let stream = Process()
        stream.executableURL = URL(fileURLWithPath: curl)
        stream.arguments = [
            "-s", "-N", "-H", "Authorization: Bearer \(token)", "\(base)/api/v1/stream?topic=credential.captured",
        ]
        stream.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: feedOutput))
        stream.standardError = FileHandle.nullDevice
        try stream.run()
        feed = stream
        func feedText() -> String { (try? String(contentsOfFile: feedOutput, encoding: .utf8)) ?? "" }
        for _ in 0..<100 where !feedText().contains(": subscribed to") { try await Task.sleep(for: .milliseconds(50)) }
        try #require(feedText().contains(": subscribed to credential.captured"), "\(feedText())")
        let subnets = (0..<3).map { _ in "127.\(Int.random(in: 90...99)).\(Int.random(in: 1...250))" }
        for (index, name) in names.enumerated() {
            let started = try await run(
                agents[index].path,
                [
                    "agent", "start", "--listen", "127.0.0.1:\(ports[index])", "--identity",
                    master.path + "/pki/\(name)", "--master", "127.0.0.1:\(listenerPort)", "--heartbeat", "1",
                ]
            )
            try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        }

        // swarmctl deploy: one decky per agent, each fleet on its own loopback addresses.
        for (index, name) in names.enumerated() {
            let fleet = master.path + "/\(name).ini"
            try """
            [general]
            net = \(subnets[index]).0/24

            [\(name)-web]
            ip = \(subnets[index]).10
            services = http
            """.write(toFile: fleet, atomically: true, encoding: .utf8)
            let deployed = try await run(
                master.path,
                ["swarmctl", "deploy", "--host", name, "--config", fleet, "--loopback"]
            )
            #expect(deployed.status == 0, "\(name): \(deployed.standardOutput)\(deployed.standardError)")
            #expect(deployed.standardOutput.contains("\(name)-web  running"), "\(deployed.standardOutput)")
        }
        let status = try await run(master.path, ["swarmctl", "status"])
        #expect(status.status == 0, "\(status.standardError)")
        for name in names {
            #expect(status.standardOutput.contains("== \(name)"))
            #expect(
                status.standardOutput.contains("\"name\" : \"\(name)-web\""),
                "\(status.standardOutput.prefix(400))"
            )
        }

        // A login on each agent's decky reaches the master's PostgreSQL store and its live feed within 2 s.
        let store = try PostgresEventStore(
            PostgresEventStore.Settings(
                host: postgres.host,
                port: postgres.port,
                user: postgres.user,
                password: nil,
                database: postgres.database
            )
        )
        for (index, name) in names.enumerated() {
            let password = "pw-\(name)"
            let login = ContinuousClock.now
            _ = try await ProcessRunner.run(
                curl,
                ["-s", "-m", "5", "-o", "/dev/null", "-u", "admin:\(password)", "http://\(subnets[index]).10/"]
            )
            var stored: Duration?
            var streamed: Duration?
            while ContinuousClock.now - login < .seconds(10) && (stored == nil || streamed == nil) {
                if stored == nil,
                    try await !store.logs(LogQuery(decky: "\(name)-web", fields: ["password": password])).isEmpty
                {
                    stored = ContinuousClock.now - login
                }
                if streamed == nil && feedText().contains("\"\(password)\"") { streamed = ContinuousClock.now - login }
                try await Task.sleep(for: .milliseconds(25))
            }
            let inStore = try #require(stored, "\(name)'s login never reached the master's PostgreSQL store")
            let inFeed = try #require(streamed, "\(name)'s login never reached the live feed: \(feedText())")
            print("\(name): a login reached the master's store after \(inStore), its live feed after \(inFeed)")
            #expect(inStore < .seconds(2), "\(name)'s login reached the store after \(inStore)")
            #expect(inFeed < .seconds(2), "\(name)'s login reached the live feed after \(inFeed)")
        }
        func arrived() -> [String] {
            let text = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
            return names.filter { text.contains("password=\"pw-\($0)\"") }
        }
        #expect(arrived() == names, "the master's listener has logins from \(arrived())")
        // The listener's status (written every second) shows each host up.
        var listed = try await run(master.path, ["swarm", "list"])
        func upRows() -> Int { listed.standardOutput.split(separator: "\n").filter { $0.contains("  up  ") }.count }
        for _ in 0..<50 where upRows() < 3 {
            try await Task.sleep(for: .milliseconds(200))
            listed = try await run(master.path, ["swarm", "list"])
        }
        #expect(upRows() == 3, "\(listed.standardOutput)")

        // The control channel: an agent's certificate is not the master's; an agent that is not the pinned one
        // is not talked to.
        let impostor = master.path + "/pki/edge-01"
        let refused = try await ProcessRunner.run(
            "/bin/sh",
            [
                "-c",
                "printf '{\"op\":\"status\"}\\n' | timeout 10 \(openssl) s_client -connect 127.0.0.1:\(ports[1]) -cert \(impostor)/cert.pem -key \(impostor)/key.pem -CAfile \(impostor)/ca.crt -quiet -no_ign_eof 2>/dev/null; true",
            ]
        )
        #expect(
            !refused.standardOutput.contains("deckies"),
            "an agent answered another agent: \(refused.standardOutput)"
        )
        let swapped = master.path + "/swapped.json"
        let register = try String(contentsOfFile: master.path + "/swarm/hosts.json", encoding: .utf8)
        try register.write(toFile: swapped, atomically: true, encoding: .utf8)
        // edge-02's entry pointed at edge-03's control port: the agent there shows another certificate.
        let rewired = register.replacingOccurrences(of: "127.0.0.1:\(ports[1])", with: "127.0.0.1:\(ports[2])")
        try rewired.write(toFile: master.path + "/swarm/hosts.json", atomically: true, encoding: .utf8)
        let misdirected = try await run(master.path, ["swarmctl", "status", "--host", "edge-02"])
        #expect(misdirected.status != 0)
        #expect(misdirected.standardOutput.contains("not the pinned"), "\(misdirected.standardOutput)")
        try register.write(toFile: master.path + "/swarm/hosts.json", atomically: true, encoding: .utf8)

        // teardown cleans each agent.
        for (index, name) in names.enumerated() {
            let torn = try await run(master.path, ["swarmctl", "teardown", "--host", name])
            #expect(torn.status == 0, "\(torn.standardError)")
            let left = try await run(agents[index].path, ["status", "--json"])
            #expect(!left.standardOutput.contains("\(name)-web"), "\(left.standardOutput.prefix(300))")
            let answered = try await ProcessRunner.run(
                curl,
                ["-s", "-m", "2", "-o", "/dev/null", "http://\(subnets[index]).10/"]
            )
            #expect(answered.status != 0, "\(name)'s decky is gone")
        }
    }

    /// Runs a command to its end from a `defer` (cleanup, where nothing can be awaited).
    static func runNow(_ executable: String, _ arguments: [String], environment: [String: String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }
}
