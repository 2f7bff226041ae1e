import DecnetCore
import DecnetPipeline
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 26's bus line: two Debian nats-server instances, clustered over TLS, carry the bus between a master and
/// two agents (each its own state directory and broker, bridged with `decnet bus start --upstream` and a client
/// certificate from the project's CA); a subscriber on the master sees `decky.*.state` from both agents, and a
/// client without a certificate from our CA is refused by the NATS servers.
@Suite(.serialized) struct SwarmBusTests {
    static let natsServer = ExternalTool("nats-server", package: "nats-server")

    @Test(
        .enabled(
            if: ExternalTool.isCI || (Self.natsServer.isUsable && ExternalTool.pythonCanImport("nats")),
            "needs nats-server and nats-py (CI installs them)"
        )
    )
    func twoClusteredNATSServersCarryEveryAgentsDeckyStateToTheMaster() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let nats = try #require(Self.natsServer.path, "\(Self.natsServer.missingMessage)")
        let hosts = try ["master", "agent-1", "agent-2"].map { ($0, try TemporaryDirectory()) }
        let directory = try TemporaryDirectory()
        func environment(_ state: String) -> [String: String] {
            [
                "DECNET_STATE_DIR": state, "DECNET_DB_PATH": state + "/decnet.db",
                "DECNET_INGEST_LOG_FILE": state + "/decnet.log",
            ]
        }
        let master = hosts[0].1.path
        func run(_ state: String, _ arguments: [String]) async throws -> ProcessResult {
            let result = try await ProcessRunner.run(binary.path, arguments, environment: environment(state))
            try #require(result.status == 0, "\(arguments): \(result.standardOutput)\(result.standardError)")
            return result
        }
        var servers: [Process] = []
        var subscriber: Process?
        defer {
            for server in servers where server.isRunning { kill(server.processIdentifier, SIGKILL) }
            if let subscriber, subscriber.isRunning { kill(subscriber.processIdentifier, SIGKILL) }
            for (_, state) in hosts {
                APIDaemonTests.kill(["bus"], in: state.path)
                state.remove()
            }
            directory.remove()
        }

        // The project's CA (on the master) issues the NATS servers' certificates (server and route client) and
        // each host's bus certificate.
        _ = try await run(master, ["ca", "init"])
        let clients = [LoopbackPort.unused(), LoopbackPort.unused()]
        let routes = [LoopbackPort.unused(), LoopbackPort.unused()]
        for (index, name) in ["nats-a", "nats-b"].enumerated() {
            _ = try await run(master, ["ca", "issue", name, "--server", "--client", "--san", "127.0.0.1"])
            let pki = master + "/pki/" + name
            let tls = """
                tls { cert_file: "\(pki)/cert.pem", key_file: "\(pki)/key.pem", ca_file: "\(pki)/ca.crt", verify: true }
                """
            let configuration = """
                server_name: \(name)
                listen: 127.0.0.1:\(clients[index])
                \(tls)
                cluster {
                  name: decnet
                  listen: 127.0.0.1:\(routes[index])
                  routes: ["nats-route://127.0.0.1:\(routes[1 - index])"]
                  \(tls)
                }
                """
            let file = directory.path + "/\(name).conf"
            try configuration.write(toFile: file, atomically: true, encoding: .utf8)
            let server = Process()
            server.executableURL = URL(fileURLWithPath: nats)
            server.arguments = ["-c", file, "-l", directory.path + "/\(name).log"]
            try server.run()
            servers.append(server)
        }
        for port in clients {
            for _ in 0..<100 where !LoopbackPort.accepts(port) { try await Task.sleep(for: .milliseconds(50)) }
            #expect(LoopbackPort.accepts(port), "nats-server on \(port)")
        }

        // The master's broker to nats-a; each agent's to nats-b, with its own certificate.
        _ = try await run(master, ["bus", "start", "--upstream", "127.0.0.1:\(clients[0])"])
        for (name, state) in hosts.dropFirst() {
            let identity = state.path + "/bus-identity"
            _ = try await run(master, ["ca", "issue", "\(name)-bus", "--client", "--out", identity])
            _ = try await run(
                state.path,
                ["bus", "start", "--upstream", "127.0.0.1:\(clients[1])", "--identity", identity]
            )
        }
        let received = directory.path + "/master-sub.out"
        subscriber = try BusCommandTests.subscriber(
            binary,
            ["decky.*.state", "--count", "200"],
            environment: environment(master),
            output: received
        )
        try await BusCommandTests.waitForSubscribers(["decky.*.state"], binary, environment(master))
        func seen() -> String { (try? String(contentsOfFile: received, encoding: .utf8)) ?? "" }
        // Each agent publishes its decky's state (as its engine does on every change) until the master has both;
        // the bridges and the route come up meanwhile.
        var both = false
        for round in 0..<100 where !both {
            for (name, state) in hosts.dropFirst() {
                _ = try await run(
                    state.path,
                    [
                        "bus", "pub", "decky.\(name)-web.state",
                        #"{"decky":"\#(name)-web","state":"running","round":\#(round)}"#,
                    ]
                )
            }
            try await Task.sleep(for: .milliseconds(200))
            both = hosts.dropFirst().allSatisfy { seen().contains("decky.\($0.0)-web.state") }
        }
        #expect(both, "the master saw: \(seen().prefix(600))")
        // Nothing published on the master goes round and comes back twice.
        let before = seen().components(separatedBy: "decky.master-web.state").count
        _ = try await run(master, ["bus", "pub", "decky.master-web.state", #"{"decky":"master-web"}"#])
        func delivered() -> Int { seen().components(separatedBy: "decky.master-web.state").count - before }
        // Arrived (a loaded machine may take seconds), then nothing more: a copy that went round would follow.
        for _ in 0..<100 where delivered() == 0 { try await Task.sleep(for: .milliseconds(100)) }
        try await Task.sleep(for: .milliseconds(800))
        #expect(delivered() == 1, "delivered once")

        // nats-py with a certificate from our CA is let in; with another CA's, refused by the NATS servers' TLS.
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        try #require(ExternalTool.pythonCanImport("nats"), "nats-py is not installed (.ci/run installs it)")
        let script = PackageLayout.root.appendingPathComponent("Tests/DecnetCLITests/Scripts/nats_tls_connect.py").path
        let ours = master + "/pki/bus"
        let welcome = try await ProcessRunner.run(
            python,
            [script, String(clients[0]), ours + "/cert.pem", ours + "/key.pem", master + "/pki/ca.crt"]
        )
        #expect(welcome.standardOutput == "connected\n", "\(welcome.standardOutput)\(welcome.standardError)")
        let stranger = CertificateAuthority(directory: directory.path + "/other-pki")
        try stranger.initialize(name: "Some Other CA")
        let strangerIdentity = try stranger.issue(name: "intruder", roles: [.client])
        let intruder = try await ProcessRunner.run(
            python,
            [
                script, String(clients[0]), strangerIdentity.certificatePath, strangerIdentity.keyPath,
                master + "/pki/ca.crt",
            ]
        )
        #expect(intruder.standardOutput.hasPrefix("refused: "), "\(intruder.standardOutput)\(intruder.standardError)")
    }
}
