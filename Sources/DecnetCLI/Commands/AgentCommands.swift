import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPipeline
import DecnetRuntime
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `decnet agent start|stop|status`: this host as a swarm agent. It serves the master's control channel
/// (`AgentControl`: deploy, status, teardown, run here as this host's own `decnet` commands in its own state
/// directory) and, with `--master`, forwards its event log to the master's listener with heartbeats.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run this host as a swarm agent (the master's control channel, and its events to the master).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    static let name = "agent"

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the master's control channel over mutual TLS and forward events to it."
        )

        @Option(help: "Address and port of the control channel.") var listen = "0.0.0.0:\(AgentControl.defaultPort)"
        @Option(help: "Folder with this host's cert.pem, key.pem and ca.crt, as the master issued and pinned them.")
        var identity: String
        @Option(help: "The master's listener (host:port, 6514 by default): the event log goes there.")
        var master: String?
        @Option(help: "Seconds between heartbeats to the master.") var heartbeat: Double = 5
        @Flag(help: "Stay in the foreground.") var foreground = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let daemon = Daemon(AgentCommand.name, stateDirectory: environment.stateDirectory)
            let (host, port) = try ServiceRunCommand.address(self.listen, defaultPort: AgentControl.defaultPort)
            let identity = CertificateAuthority.Identity(directory: self.identity)
            do { try identity.check() } catch { throw CommandFailure("--identity: \(error)") }
            guard (0.1...3600).contains(self.heartbeat) else {
                throw CommandFailure("--heartbeat: seconds from 0.1 to 3600 (got \(self.heartbeat))")
            }
            let target = try self.master.map { try ForwarderCommand.Start.target($0) }
            guard self.foreground else {
                let pid = try await daemon.spawn(
                    commandPath: ["agent", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                print("agent started (pid \(pid)), control channel on \(host):\(port)")
                return
            }
            let lock = try daemon.lock()
            let executable =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            let runner = AgentRunner(executable: executable, stateDirectory: daemon.stateDirectory)
            let channel: any Channel
            do {
                channel = try await AgentControl.serve(
                    host: host,
                    port: port,
                    identity: identity,
                    log: { Daemon.log($0) }
                ) { request in await runner.handle(request) }
            } catch {
                throw CommandFailure("agent control channel on \(host):\(port): \(error)")
            }
            Daemon.log("agent \(getpid()): control channel on \(host):\(port)")
            var forwarding: Task<Void, Never>?
            if let target {
                // The engine's log, made now if no fleet ran here yet, so the link (and its heartbeats) is up at once.
                if !FileManager.default.fileExists(atPath: environment.ingestLogFile) {
                    _ = FileManager.default.createFile(atPath: environment.ingestLogFile, contents: nil)
                }
                var settings = SyslogForwarder.Settings(
                    logPath: environment.ingestLogFile,
                    host: target.host,
                    port: target.port,
                    identity: identity,
                    cursorPath: (daemon.stateDirectory as NSString).appendingPathComponent("decnet-agent.cursor")
                )
                settings.heartbeat = .milliseconds(Int64(self.heartbeat * 1000))
                settings.hostName = ProcessInfo.processInfo.hostName
                var forwarder: SyslogForwarder
                do { forwarder = try SyslogForwarder(settings) } catch { throw CommandFailure("\(error)") }
                forwarder.log = { Daemon.log($0) }
                forwarding = Task(executorPreference: BlockingIOExecutor.shared) { [forwarder] in
                    await forwarder.run()
                }
                Daemon.log("agent: \(environment.ingestLogFile) to the master at \(target.host):\(target.port)")
            }
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
            forwarding?.cancel()
            await forwarding?.value
            signals.cancel()
            Daemon.log("agent \(getpid()) stopped")
            withExtendedLifetime(lock) {}
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the agent (its fleet keeps running).")
        func run() async throws { try await DaemonCommands.stop(AgentCommand.name) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether the agent runs.")
        func run() async throws { try await DaemonCommands.status(AgentCommand.name) }
    }
}

/// What the agent does for the master: this host's own `decnet` commands, in its state directory.
struct AgentRunner: Sendable {
    let executable: String
    let stateDirectory: String

    func handle(_ request: AgentControl.Request) async -> AgentControl.Reply {
        switch request.op {
        case "health":
            return AgentControl.Reply(ok: true, status: 0, output: ProcessInfo.processInfo.hostName, error: "")
        case "status":
            return await self.run(["status", "--json"])
        case "teardown":
            return await self.run(["teardown", "--all"])
        case "deploy":
            guard let config = request.config, !config.isEmpty else {
                return AgentControl.Reply(ok: false, status: 2, output: "", error: "deploy needs a fleet configuration")
            }
            let flags = request.flags ?? []
            if let refused = flags.first(where: { !AgentControl.allowedFlags.contains($0) }) {
                return AgentControl.Reply(ok: false, status: 2, output: "", error: "flag not allowed: \(refused)")
            }
            let file = (self.stateDirectory as NSString).appendingPathComponent("decnet-agent-fleet.ini")
            do {
                try config.write(toFile: file, atomically: true, encoding: .utf8)
            } catch {
                return AgentControl.Reply(ok: false, status: 1, output: "", error: "\(file): \(error)")
            }
            return await self.run(["deploy", "--config", file] + flags)
        default:
            return AgentControl.Reply(ok: false, status: 2, output: "", error: "unknown request \(request.op)")
        }
    }

    /// Runs `decnet arguments` here; its output goes to files (never a pipe a chatty child could fill).
    func run(_ arguments: [String]) async -> AgentControl.Reply {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("decnet-agent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            let output = scratch.appendingPathComponent("out")
            let error = scratch.appendingPathComponent("err")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            _ = FileManager.default.createFile(atPath: error.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: self.executable)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["DECNET_STATE_DIR"] = self.stateDirectory
            process.environment = environment
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = try FileHandle(forWritingTo: error)
            let status: Int32 = try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
                do { try process.run() } catch { continuation.resume(throwing: error) }
            }
            let out = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            let err = (try? String(contentsOf: error, encoding: .utf8)) ?? ""
            return AgentControl.Reply(ok: status == 0, status: status, output: out, error: err)
        } catch {
            return AgentControl.Reply(ok: false, status: 1, output: "", error: "\(arguments.first ?? ""): \(error)")
        }
    }
}

/// `decnet swarmctl deploy|status|teardown`: the master drives its agents over the control channel.
struct SwarmctlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarmctl",
        abstract: "Control remote swarm agents: deploy a fleet on one, see every agent's fleet, tear one down.",
        subcommands: [Deploy.self, Status.self, Teardown.self]
    )

    /// The host, its control address and the master's identity (issued from the local CA as 'master').
    static func target(
        _ name: String,
        environment: DecnetEnvironment
    ) throws
        -> (SwarmHost, String, Int, CertificateAuthority.Identity)
    {
        let hosts: [SwarmHost]
        do { hosts = try SwarmRegistry(stateDirectory: environment.stateDirectory).hosts() } catch {
            throw CommandFailure("\(error)")
        }
        guard let host = hosts.first(where: { $0.name == name }) else {
            throw CommandFailure(
                "no swarm host named \(name) (decnet swarm list; add one with decnet swarm add)",
                exitCode: .validationFailure
            )
        }
        let (address, port) = try ServiceRunCommand.address(host.address, defaultPort: AgentControl.defaultPort)
        return (host, address, port, try Self.masterIdentity(environment))
    }

    static func masterIdentity(_ environment: DecnetEnvironment) throws -> CertificateAuthority.Identity {
        try PKILayout.identity(
            nil,
            name: AgentControl.masterName,
            role: .client,
            alternativeNames: [],
            environment: environment
        )
    }

    static func call(
        _ name: String,
        _ request: AgentControl.Request,
        environment: DecnetEnvironment
    ) async throws
        -> AgentControl.Reply
    {
        let (host, address, port, identity) = try Self.target(name, environment: environment)
        do {
            return try await AgentControl.call(
                host: address,
                port: port,
                identity: identity,
                pinned: host.fingerprint,
                request: request
            )
        } catch {
            throw CommandFailure("\(name): \(error)")
        }
    }

    static func report(_ name: String, _ reply: AgentControl.Reply) throws {
        if !reply.output.isEmpty { print(reply.output, terminator: reply.output.hasSuffix("\n") ? "" : "\n") }
        if !reply.error.isEmpty {
            FileHandle.standardError.write(Data(reply.error.utf8))
        }
        guard reply.ok else {
            throw CommandFailure("\(name): the agent's command failed (exit \(reply.status))")
        }
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deploy a fleet (an INI file) on one agent.")
        @Option(help: "The swarm host.") var host: String
        @Option(help: "The fleet's INI file (the seed's format).") var config: String
        @Flag(help: "On the agent: each decky on its own 127.x address.") var loopback = false
        @Flag(help: "On the agent: on its lab LAN of namespaces.") var lab = false
        @Flag(help: "On the agent: plan only.") var dryRun = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let text: String
            do { text = try String(contentsOfFile: self.config, encoding: .utf8) } catch {
                throw CommandFailure("--config \(self.config): \(error)")
            }
            let flags = [(self.loopback, "--loopback"), (self.lab, "--lab"), (self.dryRun, "--dry-run")]
                .filter(\.0).map(\.1)
            let reply = try await SwarmctlCommand.call(
                self.host,
                AgentControl.Request(op: "deploy", config: text, flags: flags),
                environment: environment
            )
            try SwarmctlCommand.report(self.host, reply)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each agent's fleet (or one agent's).")
        @Option(help: "One swarm host (default: all).") var host: String?

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let names: [String]
            if let host = self.host {
                names = [host]
            } else {
                do {
                    names = try SwarmRegistry(stateDirectory: environment.stateDirectory).hosts().map(\.name)
                } catch {
                    throw CommandFailure("\(error)")
                }
            }
            var failed = false
            for name in names {
                print("== \(name)")
                do {
                    let reply = try await SwarmctlCommand.call(
                        name,
                        AgentControl.Request(op: "status"),
                        environment: environment
                    )
                    try SwarmctlCommand.report(name, reply)
                } catch {
                    failed = true
                    print("unreachable: \(error)")
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Teardown: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tear down one agent's fleet.")
        @Option(help: "The swarm host.") var host: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let reply = try await SwarmctlCommand.call(
                self.host,
                AgentControl.Request(op: "teardown"),
                environment: environment
            )
            try SwarmctlCommand.report(self.host, reply)
        }
    }
}
