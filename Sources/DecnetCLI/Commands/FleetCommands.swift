import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetDocker
import DecnetRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decnet engine run`: the native driver's engine in the foreground. `deploy` starts it as a daemon.
struct EngineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "The native engine that serves every decky (deploy starts it; run it yourself under systemd).",
        subcommands: [EngineRunCommand.self]
    )
}

struct EngineRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Serve the deployed native fleet in the foreground until SIGTERM.",
        discussion: "Events go to $DECNET_INGEST_LOG_FILE; `decnet status` talks to it through decnet-engine.sock."
    )

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        try await EngineHost.serve(
            stateDirectory: environment.stateDirectory,
            ingestLogFile: environment.ingestLogFile,
            rotation: environment.logRotation,
            sniffer: SnifferSettings.from(environment)
        )
    }
}

/// Reading the state for the fleet commands.
enum FleetStateLoading {
    static func load(_ environment: DecnetEnvironment) throws -> FleetState? {
        do {
            return try FleetState.read(fromDirectory: environment.stateDirectory)
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    static func requireRoot(for native: NativeDeployment?) throws {
        guard let native, native.network != .loopback, getuid() != 0 else { return }
        throw CommandFailure(
            "the \(native.network.rawValue) network needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); run with sudo"
        )
    }
}

/// `decnet teardown --all | --id NAME`.
struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teardown",
        abstract: "Stop and remove deckies.",
        discussion: "Examples:\n  decnet teardown --all\n  decnet teardown --id decky-02"
    )

    @Flag(help: "Remove every decky, the engine and the state.") var all = false
    @Option(help: "Remove one decky.") var id: String?

    func validate() throws {
        if self.all == (self.id != nil) { throw ValidationError("expected exactly one of --all or --id NAME") }
    }

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        let directory = environment.stateDirectory
        guard let state = try FleetStateLoading.load(environment) else {
            print("nothing is deployed (no \(FleetState.fileName) in \(directory))")
            return
        }
        if state.driver == "docker" {
            try self.dockerTeardown(state, directory: directory)
            return
        }
        try FleetStateLoading.requireRoot(for: state.native)
        let pid = EngineProcess.running(directory)
        if let id = self.id {
            guard state.fleet.deckies.contains(where: { $0.name == id }) else {
                throw CommandFailure("no decky named '\(id)' in the fleet")
            }
            if pid != nil {
                let response = try await EngineProcess.send(
                    EngineRequest(.remove, decky: id),
                    stateDirectory: directory
                )
                for line in response.report ?? [] { print(line) }
            } else {
                await FleetNetwork.remove([id], attachment: FleetNetwork.attachment(for: state))
                var updated = state
                updated.fleet.deckies.removeAll { $0.name == id }
                updated.native?.stopped.removeAll { $0 == id }
                try updated.write(toDirectory: directory)
                try? FileManager.default.removeItem(atPath: EngineFiles.keys(directory, decky: id))
                print("\(id): torn down")
            }
            return
        }
        await Self.tearDownAll(state, directory: directory)
        print("torn down \(state.fleet.deckies.count) decky(s)")
    }

    /// Stops the engine (if it runs) and removes every decky of `state` and the state itself.
    static func tearDownAll(_ state: FleetState, directory: String) async {
        if let pid = EngineProcess.running(directory) {
            _ = try? await EngineClient.send(EngineRequest(.shutdown, removeNetwork: true), stateDirectory: directory)
            await EngineProcess.waitExit(pid)
        }
        // Whatever the engine left (or a killed engine never removed).
        await FleetNetwork.remove(state.fleet.deckies.map(\.name), attachment: FleetNetwork.attachment(for: state))
        await FleetNetwork.cleanUpHost(hairpin: state.native?.hairpin ?? false)
        let keys = state.fleet.deckies.map { EngineFiles.keys(directory, decky: $0.name) }
        for path in [FleetState.path(in: directory), EngineFiles.socket(directory)] + keys {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func dockerTeardown(_ state: FleetState, directory: String) throws {
        guard self.all else {
            throw CommandFailure("the Docker driver tears down whole fleets; use --all")
        }
        if state.deployed, let compose = state.composeFile {
            do {
                try DockerEngine.checkReachable(environment: ProcessInfo.processInfo.environment)
                try DockerEngine.compose(["down"], composeFile: compose)
            } catch {
                throw CommandFailure("the Docker driver cannot tear down: \(error)")
            }
        }
        try? FileManager.default.removeItem(atPath: FleetState.path(in: directory))
        print("torn down \(state.fleet.deckies.count) decky(s)")
    }
}

/// `decnet lifecycle start|stop|restart|status --id NAME`.
struct LifecycleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifecycle",
        abstract: "Manage individual decky lifecycle.",
        discussion: "Example: decnet lifecycle stop --id decky-02"
    )

    enum Action: String, ExpressibleByArgument, CaseIterable { case start, stop, restart, status }

    @Argument(help: "start, stop, restart or status.") var action: Action
    @Option(help: "The decky.") var id: String

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        let directory = environment.stateDirectory
        guard let state = try FleetStateLoading.load(environment), state.deployed || state.driver == "native" else {
            throw CommandFailure("no fleet is deployed here; run `decnet deploy` first")
        }
        guard let decky = state.fleet.deckies.first(where: { $0.name == self.id }) else {
            let known = state.fleet.deckies.map(\.name).joined(separator: ", ")
            throw CommandFailure("no decky named '\(self.id)'; known: \(known)")
        }
        if state.driver == "docker" { return try self.docker(decky, state: state) }
        try FleetStateLoading.requireRoot(for: state.native)
        let operation: EngineRequest.Operation
        switch self.action {
        case .status:
            guard EngineProcess.running(directory) != nil else {
                print("\(self.id): engine not running (run `decnet reconcile`)")
                return
            }
            operation = .status
        case .start: operation = .start
        case .stop: operation = .stop
        case .restart: operation = .restart
        }
        if operation != .status {
            let (_, started) = try await EngineProcess.ensureRunning(stateDirectory: directory)
            if started { print("engine was not running; started it") }
        }
        let response = try await EngineProcess.send(EngineRequest(operation, decky: self.id), stateDirectory: directory)
        for line in response.report ?? [] where line.hasPrefix(self.id + ":") { print(line) }
        if let decky = response.status?.deckies.first(where: { $0.name == self.id }) {
            print(StatusTable.render([decky]))
        }
    }
}

extension LifecycleCommand {
    /// The Docker driver: the decky's base container and its service containers, through compose (which stops
    /// the services before the base whose network they share, and starts the base first).
    func docker(_ decky: Decky, state: FleetState) throws {
        guard let compose = state.composeFile else { throw CommandFailure("the state names no compose file") }
        let containers = [decky.name] + decky.services.map { ComposeWriter.containerName(decky, $0.kind) }
        do {
            try DockerEngine.checkReachable(environment: ProcessInfo.processInfo.environment)
            if self.action != .status {
                try DockerEngine.compose([self.action.rawValue] + containers, composeFile: compose)
            }
            var fleet = state.fleet
            fleet.deckies = [decky]
            print(DockerFleetTable.render(fleet, containers: try DockerEngine.containers()))
        } catch {
            throw CommandFailure("the Docker driver cannot \(self.action.rawValue) \(decky.name): \(error)")
        }
    }
}

/// `decnet reconcile`: the state file against namespaces, interfaces and listeners; repairs the difference.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Reconcile the desired fleet state with reality (namespaces, interfaces, listeners)."
    )

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        let directory = environment.stateDirectory
        guard let state = try FleetStateLoading.load(environment), state.driver == "native", state.deployed else {
            print("no deployed native fleet here; nothing to reconcile")
            return
        }
        try FleetStateLoading.requireRoot(for: state.native)
        let status: EngineStatus
        if EngineProcess.running(directory) != nil {
            let response = try await EngineProcess.send(EngineRequest(.reload), stateDirectory: directory)
            for line in response.report ?? [] { print(line) }
            status = try await EngineProcess.send(EngineRequest(.status), stateDirectory: directory).status!
        } else {
            print("engine was not running; starting it")
            status = try await EngineProcess.ensureRunning(stateDirectory: directory).status
            for line in status.lastReport { print(line) }
        }
        print(StatusTable.render(status.deckies))
        let failed = status.deckies.filter { $0.state == .failed }
        if !failed.isEmpty { throw CommandFailure("\(failed.count) decky(s) failed; see above") }
    }
}

/// `decnet inventory`: every known decky with its metadata.
struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List all known deckies and their metadata."
    )

    @Flag(help: "JSON for scripts.") var json = false

    struct Entry: Codable {
        var name: String
        var ip: String
        var mac: String
        var hostname: String
        var osFamily: String
        var distro: String
        var archetype: String?
        var services: [String]
        var ports: [String]
        var driver: String
        var namespace: String?
        var desired: String
    }

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        guard let state = try FleetStateLoading.load(environment) else {
            if self.json { return try JSONOutput.print([Entry]()) }
            print("no deckies known (no \(FleetState.fileName))")
            return
        }
        let stopped = Set(state.native?.stopped ?? [])
        let entries = state.fleet.deckies.map { decky in
            Entry(
                name: decky.name,
                ip: decky.ip.description,
                mac: decky.mac.description,
                hostname: decky.hostname,
                osFamily: decky.osFamily.rawValue,
                distro: decky.distro,
                archetype: decky.archetype,
                services: decky.services.map(\.kind.rawValue),
                ports: decky.services.flatMap { $0.ports.map(\.description) },
                driver: state.driver,
                namespace: state.native.map {
                    $0.network == .loopback ? nil : NativeDeployment.namespace(of: decky.name)
                }
                    ?? nil,
                desired: stopped.contains(decky.name) ? "stopped" : (state.deployed ? "running" : "planned")
            )
        }
        if self.json { return try JSONOutput.print(entries) }
        var table = TextTable("NAME", "IP", "MAC", "HOSTNAME", "OS", "DISTRO", "ARCHETYPE", "PORTS", "DESIRED")
        for entry in entries {
            table.add(
                entry.name,
                entry.ip,
                entry.mac,
                entry.hostname,
                entry.osFamily,
                entry.distro,
                entry.archetype ?? "-",
                entry.ports.joined(separator: ","),
                entry.desired
            )
        }
        print(table.render())
    }
}

/// The live table of `status`, `lifecycle` and `reconcile`.
enum StatusTable {
    static func render(_ deckies: [DeckyStatus]) -> String {
        var table = TextTable("NAME", "STATE", "IP", "MAC", "NAMESPACE", "IFACE", "LISTENING", "CONN NOW/TOTAL")
        for decky in deckies {
            let listening = decky.services.filter(\.listening).map { service in
                service.boundPort.map {
                    $0 == service.port ? "\(service.service):\($0)" : "\(service.service):\($0)(\(service.port))"
                }
                    ?? service.service
            }
            let namespace = decky.namespace.map { decky.namespacePresent ? $0 : "\($0) (missing)" } ?? "-"
            table.add(
                decky.name,
                decky.state.rawValue,
                decky.ip,
                decky.observedMAC ?? decky.mac,
                namespace,
                decky.interfaceUp ? "up" : "down",
                listening.isEmpty ? "-" : listening.joined(separator: ","),
                "\(decky.openConnections)/\(decky.totalConnections)"
            )
        }
        var lines = [table.render()]
        var unserved: [String: Int] = [:]
        for decky in deckies {
            for service in decky.services {
                if let note = service.note { unserved["\(service.service) (\(note))", default: 0] += 1 }
            }
        }
        if !unserved.isEmpty {
            let items = unserved.sorted { $0.key < $1.key }.map { "\($0.key) on \($0.value) port(s)" }
            lines.append("not served: " + items.joined(separator: ", "))
        }
        for decky in deckies where decky.error != nil { lines.append("\(decky.name): \(decky.error!)") }
        return lines.joined(separator: "\n")
    }
}
