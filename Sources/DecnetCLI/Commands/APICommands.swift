import ArgumentParser
import DecnetAPI
import DecnetConfig
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decnet api start|stop|status` (:8000) and `decnet web start|stop|status` (:8080): the same Hummingbird app,
/// the web one also serving the dashboard pages (same origin as its API, so the pages need no CORS).
enum APIDaemon {
    struct Options: ParsableArguments {
        @Option(help: "Address to listen on (default: DECNET_API_HOST / DECNET_WEB_HOST).") var host: String?
        @Option(help: "Port (default: DECNET_API_PORT / DECNET_WEB_PORT).") var port: Int?
        @Flag(help: "Refuse POST /deckies/deploy (fleet changes only from the host's CLI).") var noDeploy = false
        @Option(help: "Seconds the polled read routes may answer from the micro-cache (0: off).")
        var responseCache: Double = 1
        @Flag(help: "Stay in the foreground.") var foreground = false
    }

    static func start(_ name: String, dashboard: Bool, options: Options) async throws {
        let environment = try await EnvironmentLoading.load()
        let daemon = Daemon(name, stateDirectory: environment.stateDirectory)
        let host = options.host ?? (dashboard ? environment.webHost : environment.apiHost)
        let port = options.port ?? (dashboard ? environment.webPort : environment.apiPort)
        let secret: String
        let generated: Bool
        do {
            (secret, generated) = try APISecret.resolve(environment.jwtSecret, developer: environment.developer)
        } catch {
            throw CommandFailure("\(error)")
        }
        guard (1...65535).contains(port) else { throw CommandFailure("--port must be 1-65535") }
        // The management plane never answers on a decky's address: an attacker there would find the deception.
        if let state = try? FleetState.read(fromDirectory: environment.stateDirectory),
            let decky = state.fleet.deckies.first(where: { $0.ip.description == host })
        {
            throw CommandFailure(
                "\(host) is the address of decky \(decky.name); the \(name) listens on a management address "
                    + "(DECNET_\(dashboard ? "WEB" : "API")_HOST or --host)"
            )
        }
        guard options.foreground else {
            let pid = try await daemon.spawn(commandPath: [name, "start"], arguments: Daemon.argumentsAfter("start"))
            let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/"
            try await Self.waitUntilListening(host: host, port: port, daemon: daemon)
            print("\(name) started (pid \(pid)): \(url)\(dashboard ? "" : "api/v1/")")
            return
        }
        let lock = try daemon.lock()
        var settings = APISettings(
            host: host,
            port: port,
            secret: secret,
            stateDirectory: daemon.stateDirectory,
            adminUser: environment.adminUser,
            adminPassword: environment.adminPassword,
            dashboard: dashboard,
            configuration: Self.shown(environment),
            databaseBackend: environment.databaseBackend.rawValue
        )
        if !options.noDeploy {
            settings.deployer = Self.deploy
            settings.runner = Self.run
        }
        guard options.responseCache >= 0, options.responseCache <= 3600 else {
            throw CommandFailure("--response-cache must be 0 to 3600 seconds")
        }
        settings.responseCacheLifetime = .milliseconds(Int(options.responseCache * 1000))
        // Readers only, several connections: 8 MiB of page cache each instead of the ingester's 64.
        let store = try StoreOpening.open(environment, pageCacheBytes: 8 << 20)
        // DECNET_EMBED_PROFILER: the profiler runs in this process (instead of `decnet profiler start`).
        let profiler =
            environment.embedProfiler
            ? ProfilerHost(store: store, stateDirectory: daemon.stateDirectory) : nil
        if let profiler { settings.profilerWake = { profiler.worker.wake() } }
        let server: APIServer
        do {
            server = try await APIServer(settings: settings, store: store)
        } catch {
            throw CommandFailure("\(name): the store is not usable: \(String(reflecting: error))")
        }
        if generated { Daemon.log("\(name): DECNET_DEVELOPER: signing tokens with a throwaway key") }
        Daemon.log("\(name) \(getpid()) on \(host):\(port) (store: \(environment.databaseBackend.rawValue))")
        let profiling = profiler.map { host in Task { await host.run() } }
        if profiler != nil { Daemon.log("\(name): the profiler runs in this process (DECNET_EMBED_PROFILER)") }
        defer { profiling?.cancel() }
        do {
            try await server.run()
        } catch {
            throw CommandFailure("\(name) on \(host):\(port): \(error)")
        }
        Daemon.log("\(name) \(getpid()) stopped")
        withExtendedLifetime(lock) {}
    }

    /// Waits until the port answers, so `start` returns with the API usable (or the log says why not).
    static func waitUntilListening(host: String, port: Int, daemon: Daemon) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        let probe = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        while clock.now < deadline {
            if Self.connects(probe, port) { return }
            guard daemon.running != nil else {
                throw CommandFailure("the \(daemon.name) exited while starting; its log:\n\(daemon.logTail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CommandFailure("the \(daemon.name) does not answer on \(host):\(port); its log:\n\(daemon.logTail())")
    }

    static func connects(_ host: String, _ port: Int) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else { return false }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0
    }

    /// `GET /config`: the environment as loaded, secrets left out.
    static func shown(_ environment: DecnetEnvironment) -> [String: String] {
        [
            "DECNET_MODE": environment.mode.rawValue,
            "DECNET_API_HOST": environment.apiHost, "DECNET_API_PORT": String(environment.apiPort),
            "DECNET_WEB_HOST": environment.webHost, "DECNET_WEB_PORT": String(environment.webPort),
            "DECNET_ADMIN_USER": environment.adminUser,
            "DECNET_DB_BACKEND": environment.databaseBackend.rawValue,
            "DECNET_DB_HOST": environment.databaseHost, "DECNET_DB_PORT": String(environment.databasePort),
            "DECNET_DB_NAME": environment.databaseName, "DECNET_DB_USER": environment.databaseUser,
            "DECNET_DB_PATH": environment.databasePath ?? "",
            "DECNET_INGEST_LOG_FILE": environment.ingestLogFile,
            "DECNET_LOG_MAX_BYTES": String(environment.logMaxBytes),
            "DECNET_LOG_GENERATIONS": String(environment.logGenerations),
            "DECNET_STATE_DIR": environment.stateDirectory,
            "DECNET_DEVELOPER": String(environment.developer),
        ]
    }

    /// `POST /deckies/deploy`: `decnet deploy --config FILE …` as a child of this process, its output returned.
    @Sendable static func deploy(_ arguments: [String]) async throws -> (ok: Bool, output: [String]) {
        try await Self.run(["deploy"] + arguments)
    }

    /// Runs this `decnet` with `arguments`, to its end, with its output.
    @Sendable static func run(_ arguments: [String]) async throws -> (ok: Bool, output: [String]) {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (status == 0, output.split(separator: "\n").map(String.init))
    }
}

struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Manage the REST API (JWT, /api/v1, :8000).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the REST API.")
        @OptionGroup var options: APIDaemon.Options
        func run() async throws { try await APIDaemon.start("api", dashboard: false, options: self.options) }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the REST API.")
        func run() async throws { try await DaemonCommands.stop("api") }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether the REST API runs.")
        func run() async throws { try await DaemonCommands.status("api") }
    }
}

struct WebCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Manage the web dashboard (and its API, same origin, :8080).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the dashboard.")
        @OptionGroup var options: APIDaemon.Options
        func run() async throws { try await APIDaemon.start("web", dashboard: true, options: self.options) }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the dashboard.")
        func run() async throws { try await DaemonCommands.stop("web") }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether the dashboard runs.")
        func run() async throws { try await DaemonCommands.status("web") }
    }
}
