import DecnetCore
import DecnetPipeline
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 26's first acceptance line, on this machine: a master and three agents (each its own process and state
/// directory, its fleet on loopback addresses of its own): `swarmctl deploy` puts a fleet on each, a login on a
/// decky of each agent reaches the master's listener, `swarmctl status` shows all, `teardown` cleans each. The
/// control channel lets in only the master and talks only to the pinned agent.
@Suite(.serialized) struct SwarmControlTests {
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "the loopback fleets bind ports 80 and 443 (CI runs as root)"))
    func theMasterDeploysWatchesAndTearsDownThreeAgents() async throws {
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
        func run(_ state: String, _ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(binary.path, arguments, environment: environment(state))
        }
        defer {
            for agent in agents {
                Self.runNow(binary.path, ["teardown", "--all"], environment: environment(agent.path))
                APIDaemonTests.kill(["agent", "engine"], in: agent.path)
                agent.remove()
            }
            APIDaemonTests.kill(["listener"], in: master.path)
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

        // A login on each agent's decky reaches the master.
        for (index, name) in names.enumerated() {
            _ = try await ProcessRunner.run(
                curl,
                ["-s", "-m", "5", "-o", "/dev/null", "-u", "admin:pw-\(name)", "http://\(subnets[index]).10/"]
            )
        }
        let received = master.path + "/decnet-received.log"
        func arrived() -> [String] {
            let text = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
            return names.filter { text.contains("password=\"pw-\($0)\"") }
        }
        for _ in 0..<200 where arrived().count < names.count { try await Task.sleep(for: .milliseconds(50)) }
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
