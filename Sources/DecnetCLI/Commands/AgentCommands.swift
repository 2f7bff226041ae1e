import ArgumentParser
import CDecnetLinux
import DecnetConfig
import DecnetCore
import DecnetPipeline
import DecnetRuntime
import Foundation
import NIOCore
import Synchronization

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
        subcommands: [Start.self, Serve.self, Stop.self, Status.self]
    )

    static let name = "agent"

    /// What both the supervisor (`start`) and the agent it runs (`serve`) are given.
    struct Options: ParsableArguments {
        @Option(help: "Address and port of the control channel.") var listen = "0.0.0.0:\(AgentControl.defaultPort)"
        @Option(
            help:
                "Folder with this host's cert.pem, key.pem and ca.crt (and updater.pub, the master's release key), as the master issued them."
        )
        var identity: String
        @Option(help: "The master's listener (host:port, 6514 by default): the event log goes there.")
        var master: String?
        @Option(help: "Seconds between heartbeats to the master.") var heartbeat: Double = 5

        func validated() throws -> (host: String, port: Int, identity: CertificateAuthority.Identity) {
            let (host, port) = try ServiceRunCommand.address(self.listen, defaultPort: AgentControl.defaultPort)
            let identity = CertificateAuthority.Identity(directory: self.identity)
            do { try identity.check() } catch { throw CommandFailure("--identity: \(error)") }
            guard (0.1...3600).contains(self.heartbeat) else {
                throw CommandFailure("--heartbeat: seconds from 0.1 to 3600 (got \(self.heartbeat))")
            }
            if let master = self.master { _ = try ForwarderCommand.Start.target(master) }
            return (host, port, identity)
        }

        /// The options again, as arguments of `decnet agent serve`.
        var arguments: [String] {
            ["--listen", self.listen, "--identity", self.identity, "--heartbeat", String(self.heartbeat)]
                + (self.master.map { ["--master", $0] } ?? [])
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the master's control channel over mutual TLS and forward events to it.",
            discussion:
                "The daemon supervises the agent: it runs the release decnet updater push installed (a pushed binary on trial until its agent is up, the previous one back if it fails) and restarts it after an update or a rollback."
        )

        @OptionGroup var options: Options
        @Flag(help: "Stay in the foreground.") var foreground = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let daemon = Daemon(AgentCommand.name, stateDirectory: environment.stateDirectory)
            let (host, port, _) = try self.options.validated()
            guard self.foreground else {
                // Started means serving: the agent's marker, written once its control channel is bound.
                let releases = AgentReleases(
                    directory: (daemon.stateDirectory as NSString).appendingPathComponent("agent")
                )
                try? FileManager.default.removeItem(atPath: releases.healthPath)
                let pid = try await daemon.spawn(
                    commandPath: ["agent", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(30)
                while !FileManager.default.fileExists(atPath: releases.healthPath) {
                    guard clock.now < deadline, EngineProcess.isAlive(pid) else {
                        throw CommandFailure("the agent did not come up; its log:\n\(daemon.logTail())")
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                print("agent started (pid \(pid)), control channel on \(host):\(port)")
                return
            }
            let lock = try daemon.lock()
            try await AgentSupervisor(daemon: daemon, arguments: ["agent", "serve"] + self.options.arguments).run()
            withExtendedLifetime(lock) {}
        }
    }

    /// The agent itself, as its supervisor runs it (from the current release).
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The agent (run by decnet agent start's supervisor).",
            shouldDisplay: false
        )

        @OptionGroup var options: Options

        func run() async throws {
            // Ended with the supervisor, however it ends: its pid is checked twice a second. (Not the kernel's
            // parent-death signal: that fires when the parent's *thread* that spawned the agent ends, and the
            // supervisor spawns from a pool thread that may end while the supervisor runs on.)
            let supervisor = ProcessInfo.processInfo.environment[AgentSupervisor.parentVariable].flatMap(Int32.init)
            if let supervisor, getppid() != supervisor {
                throw CommandFailure("the agent's supervisor (pid \(supervisor)) is gone")
            }
            let environment = try await EnvironmentLoading.load()
            let daemon = Daemon(AgentCommand.name, stateDirectory: environment.stateDirectory)
            let (host, port, identity) = try self.options.validated()
            let target = try self.options.master.map { try ForwarderCommand.Start.target($0) }
            let executable =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            let releases = AgentReleases(
                directory: (daemon.stateDirectory as NSString).appendingPathComponent("agent")
            )
            let incoming = try releases.incomingDirectory()
            // What an earlier agent left half-received.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: incoming)) ?? [] {
                try? FileManager.default.removeItem(atPath: (incoming as NSString).appendingPathComponent(name))
            }
            let runner = AgentRunner(
                executable: executable,
                stateDirectory: daemon.stateDirectory,
                releases: releases,
                releaseKey: (self.options.identity as NSString).appendingPathComponent(ReleaseSigning.publicKeyFile)
            )
            let restart = Mutex(false)
            let channel: any Channel
            do {
                channel = try await AgentControl.serve(
                    host: host,
                    port: port,
                    identity: identity,
                    incoming: incoming,
                    log: { Daemon.log($0) },
                    answered: { request, reply in
                        // A new release (or the previous one) is current: the supervisor starts it.
                        guard reply.ok, ["update", "rollback"].contains(request.op) else { return }
                        restart.withLock { $0 = true }
                        kill(getpid(), SIGTERM)
                    }
                ) { request, payload in await runner.handle(request, payload: payload) }
            } catch {
                throw CommandFailure("agent control channel on \(host):\(port): \(error)")
            }
            Daemon.log("agent \(getpid()) (\(executable)): control channel on \(host):\(port)")
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
                settings.heartbeat = .milliseconds(Int64(self.options.heartbeat * 1000))
                settings.hostName = ProcessInfo.processInfo.hostName
                var forwarder: SyslogForwarder
                do { forwarder = try SyslogForwarder(settings) } catch { throw CommandFailure("\(error)") }
                forwarder.log = { Daemon.log($0) }
                forwarding = Task(executorPreference: BlockingIOExecutor.shared) { [forwarder] in
                    await forwarder.run()
                }
                Daemon.log("agent: \(environment.ingestLogFile) to the master at \(target.host):\(target.port)")
            }
            // Up: the supervisor confirms a release on trial when it reads its agent's pid here.
            try? "\(getpid())\n".write(toFile: releases.healthPath, atomically: true, encoding: .utf8)
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { channel.close(promise: nil) }
            let orphaned = Task {
                guard let supervisor else { return }
                while !Task.isCancelled, getppid() == supervisor { try? await Task.sleep(for: .milliseconds(500)) }
                if !Task.isCancelled {
                    Daemon.log("agent \(getpid()): its supervisor \(supervisor) is gone; stopping")
                    channel.close(promise: nil)
                }
            }
            try? await channel.closeFuture.get()
            orphaned.cancel()
            forwarding?.cancel()
            await forwarding?.value
            signals.cancel()
            if restart.withLock({ $0 }) {
                Daemon.log("agent \(getpid()) stopped for its supervisor to start the current release")
                throw ExitCode(AgentSupervisor.restartStatus)
            }
            Daemon.log("agent \(getpid()) stopped")
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

/// What the agent does for the master: this host's own `decnet` commands, in its state directory, and its
/// releases (`decnet updater push|rollback`).
final class AgentRunner: Sendable {
    let executable: String
    let stateDirectory: String
    let releases: AgentReleases
    /// The master's release key (`updater.pub` in the agent's identity).
    let releaseKey: String
    private let digest = Mutex<String?>(nil)

    init(executable: String, stateDirectory: String, releases: AgentReleases, releaseKey: String) {
        self.executable = executable
        self.stateDirectory = stateDirectory
        self.releases = releases
        self.releaseKey = releaseKey
    }

    func handle(_ request: AgentControl.Request, payload: String? = nil) async -> AgentControl.Reply {
        switch request.op {
        case "health":
            return self.health()
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
        case "update":
            return self.update(request, payload: payload)
        case "rollback":
            do {
                guard let binary = try self.releases.rollBack(because: "rolled back on request") else {
                    return AgentControl.Reply(
                        ok: false,
                        status: 1,
                        output: "",
                        error: "no earlier release to go back to"
                    )
                }
                let sha = (try? ReleaseSigning.sha256(ofFile: binary)) ?? "?"
                return AgentControl.Reply(
                    ok: true,
                    status: 0,
                    output: Self.json(["binary": binary, "sha256": sha]),
                    error: ""
                )
            } catch {
                return AgentControl.Reply(ok: false, status: 1, output: "", error: "rollback: \(error)")
            }
        default:
            return AgentControl.Reply(ok: false, status: 2, output: "", error: "unknown request \(request.op)")
        }
    }

    /// This agent: its host, version, the SHA-256 of the binary it runs, its pid, and its release's state.
    func health() -> AgentControl.Reply {
        let record = self.releases.load()
        let health = AgentHealth(
            host: ProcessInfo.processInfo.hostName,
            version: DecnetVersion.current,
            sha256: self.executableDigest(),
            pid: getpid(),
            release: record?.state ?? "installed",
            message: record?.message ?? ""
        )
        return AgentControl.Reply(ok: true, status: 0, output: Self.json(health), error: "")
    }

    /// The SHA-256 of the binary this agent runs, read once.
    func executableDigest() -> String {
        self.digest.withLock { cached in
            if cached == nil { cached = try? ReleaseSigning.sha256(ofFile: self.executable) }
            return cached ?? ""
        }
    }

    /// A pushed binary: its length, digest and signature checked, then staged on trial for the supervisor.
    func update(_ request: AgentControl.Request, payload: String?) -> AgentControl.Reply {
        func refuse(_ message: String) -> AgentControl.Reply {
            Daemon.log("agent: update refused: \(message)")
            return AgentControl.Reply(ok: false, status: 1, output: "", error: message)
        }
        guard let payload, let claimed = request.sha256?.lowercased(), let signature = request.signature else {
            return refuse("an update needs the binary, its sha256 and its signature")
        }
        let sha: String
        let verified: Bool
        do {
            sha = try ReleaseSigning.sha256(ofFile: payload)
            verified = try ReleaseSigning.verify(sha256: sha, signature: signature, keyFile: self.releaseKey)
        } catch {
            return refuse("\(error)")
        }
        guard sha == claimed else { return refuse("the binary's SHA-256 is \(sha), the request said \(claimed)") }
        guard verified else {
            return refuse("the signature of \(sha.prefix(12)) does not verify with the release key \(self.releaseKey)")
        }
        do {
            let binary = try self.releases.stage(payload, sha256: sha)
            try self.releases.beginTrial(of: binary, replacing: self.executable, sha256: sha)
            Daemon.log("agent: release \(sha) staged at \(binary); restarting on it")
            return AgentControl.Reply(
                ok: true,
                status: 0,
                output: Self.json(["binary": binary, "sha256": sha]),
                error: ""
            )
        } catch {
            return refuse("cannot stage the release: \(error)")
        }
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
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
