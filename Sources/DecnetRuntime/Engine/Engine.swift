import DecnetCore
import DecnetServiceKit
import DecnetServices
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The native driver's engine: one process that serves a whole fleet. It makes each decky's namespace and
/// interface (`FleetNetwork`), opens every service socket inside that namespace, and serves them all on its
/// event loops. It owns the state file's `native.stopped` list; `decnet deploy` owns the rest.
///
/// Everything it does is a reconciliation of the state file with what is really there, so a restart after a
/// crash, `decnet reconcile` and a redeploy are the same operation.
public actor Engine {
    public struct Settings: Sendable {
        public var stateDirectory: String
        public var registry: ServiceRegistry
        public var sink: any EventSink
        public var limits: ConnectionLimits
        /// Where captured files go (default `<state>/artifacts`).
        public var artifactDirectory: String
        /// Progress and repairs, for the engine's log.
        public var log: @Sendable (String) -> Void
        /// Told as namespace deckies go on and off the wire (the packet layer).
        public var watchers: [any DeckyWatcher]

        public init(
            stateDirectory: String,
            registry: ServiceRegistry,
            sink: any EventSink,
            limits: ConnectionLimits = ConnectionLimits(),
            artifactDirectory: String? = nil,
            watchers: [any DeckyWatcher] = [],
            log: @escaping @Sendable (String) -> Void
        ) {
            self.watchers = watchers
            self.stateDirectory = stateDirectory
            self.registry = registry
            self.sink = sink
            self.limits = limits
            self.artifactDirectory =
                artifactDirectory ?? (stateDirectory as NSString).appendingPathComponent("artifacts")
            self.log = log
        }
    }

    /// Why a request cannot be carried out.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// One listening port of a running decky.
    struct Served {
        var kind: ServiceKind
        var port: Int
        var udp: Bool
        var boundPort: Int
        var listener: any RunningService
        var task: Task<Void, Never>
        /// Set when `run()` has returned: the listening socket and every connection are closed.
        var finished: Finished
    }

    /// A flag a listener's task sets when it ends.
    final class Finished: Sendable {
        let flag = Atomic<Bool>(false)
    }

    let settings: Settings
    private(set) var state: FleetState
    /// The state directory's canary tokens, which every decky's `canary` service answers for.
    let canaryTokens: CanaryTokenLookup
    private var served: [String: [Served]] = [:]
    private var failures: [String: String] = [:]
    private var starting: Set<String> = []
    private var phase = "starting"
    private var lastReport: [String] = []
    private let startedAt = Date()

    /// Changes run one at a time: an actor lets a second call in while the first awaits `ip`, and two
    /// reconciliations at once would both try to open the same listeners.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        while self.busy { await withCheckedContinuation { self.waiting.append($0) } }
        self.busy = true
    }

    private func release() {
        self.busy = false
        if !self.waiting.isEmpty { self.waiting.removeFirst().resume() }
    }

    public init(settings: Settings, state: FleetState) {
        self.settings = settings
        self.state = state
        self.canaryTokens = CanaryTokenLookup(CanaryTokenDirectory(stateDirectory: settings.stateDirectory))
    }

    var native: NativeDeployment { self.state.native ?? NativeDeployment(network: .loopback) }

    /// The namespaces' network, nil in the loopback network.
    var network: FleetNetwork? { FleetNetwork(state: self.state) }

    func decky(named name: String) -> Decky? { self.state.fleet.deckies.first { $0.name == name } }

    // MARK: reconciliation

    /// Reads the state file again (after `deploy` rewrote it) and reconciles.
    public func reload() async throws -> [String] {
        await self.acquire()
        defer { self.release() }
        guard let state = try FleetState.read(fromDirectory: self.settings.stateDirectory) else {
            throw Failure("no \(FleetState.fileName) in \(self.settings.stateDirectory)")
        }
        let removed = self.state.fleet.deckies.filter { old in !state.fleet.deckies.contains { $0.name == old.name } }
        var report: [String] = []
        for decky in removed {
            await self.takeDown(decky)
            report.append("\(decky.name): removed (no longer in the fleet)")
        }
        // A decky whose plan changed (address, MAC, services) is rebuilt from scratch.
        for decky in state.fleet.deckies {
            if let old = self.decky(named: decky.name), old != decky, self.served[decky.name] != nil {
                await self.takeDown(old)
                report.append("\(decky.name): changed; rebuilt")
            }
        }
        self.state = state
        return report + (await self.reconcileLocked())
    }

    /// Makes reality match the state: every decky not stopped gets its namespace, interface, sysctls and
    /// listeners; stopped and departed ones get none. Returns a line per repair.
    public func reconcile() async -> [String] {
        await self.acquire()
        defer { self.release() }
        return await self.reconcileLocked()
    }

    func reconcileLocked() async -> [String] {
        self.phase = "starting"
        BackgroundKeyGeneration.hold()
        defer {
            self.phase = "ready"
            BackgroundKeyGeneration.release()
        }
        var report: [String] = []
        let stopped = Set(self.native.stopped)
        let desired = self.state.fleet.deckies.filter { !stopped.contains($0.name) }
        for decky in self.state.fleet.deckies where stopped.contains(decky.name) {
            if self.served[decky.name] != nil
                || (self.network != nil && NamespaceThread.exists(FleetNetwork.namespace(of: decky)))
            {
                await self.takeDown(decky)
                report.append("\(decky.name): stopped (lifecycle)")
            }
        }
        self.starting = Set(desired.map(\.name))
        defer { self.starting = [] }

        if let network = self.network {
            do {
                try await network.prepareHost()
            } catch {
                for decky in desired { self.failures[decky.name] = "\(error)" }
                report.append("network: \(error)")
                self.lastReport = report
                return report
            }
            // Which deckies are missing from the wire, or there but wrong.
            let checkMAC = network.deckiesHaveOwnMAC
            let facts = await Self.inspectAll(desired)
            var build: [Decky] = []
            for decky in desired {
                let seen = facts[decky.name] ?? FleetNetwork.Facts(namespacePresent: false, interface: nil)
                if seen.matches(decky, checkMAC: checkMAC) { continue }
                for watcher in self.settings.watchers { await watcher.removed(decky) }
                if let listeners = self.served.removeValue(forKey: decky.name) {
                    await Self.closeAll(listeners)
                }
                if seen.namespacePresent {
                    await network.remove([decky])
                    report.append("\(decky.name): namespace was not as planned; rebuilt")
                } else {
                    report.append("\(decky.name): namespace created")
                }
                build.append(decky)
            }
            let made = await network.create(build)
            for (name, reason) in made {
                self.failures[name] = reason
                report.append("\(name): failed: \(reason)")
            }
        }

        let toServe = desired.filter {
            self.served[$0.name] == nil
                && (self.network == nil || NamespaceThread.exists(FleetNetwork.namespace(of: $0)))
        }
        report += await self.serveAll(toServe)
        self.lastReport = report
        return report
    }

    /// Inspects deckies' namespaces a few at a time.
    static func inspectAll(_ deckies: [Decky]) async -> [String: FleetNetwork.Facts] {
        await withTaskGroup(of: (String, FleetNetwork.Facts).self) { group in
            var results: [String: FleetNetwork.Facts] = [:]
            var iterator = deckies.makeIterator()
            for _ in 0..<8 {
                guard let decky = iterator.next() else { break }
                group.addTask { (decky.name, await FleetNetwork.inspect(decky)) }
            }
            for await (name, facts) in group {
                results[name] = facts
                if let decky = iterator.next() { group.addTask { (decky.name, await FleetNetwork.inspect(decky)) } }
            }
            return results
        }
    }

    /// Opens and serves the listeners of `deckies`.
    func serveAll(_ deckies: [Decky]) async -> [String] {
        var report: [String] = []
        var count = 0
        for decky in deckies {
            do {
                let listeners = try await self.openListeners(decky)
                self.served[decky.name] = listeners
                self.failures[decky.name] = nil
                if self.network != nil {
                    for watcher in self.settings.watchers {
                        await watcher.served(decky, namespace: FleetNetwork.namespace(of: decky))
                    }
                }
                count += 1
                if count % 100 == 0 { self.settings.log("serving \(count)/\(deckies.count) deckies") }
            } catch {
                self.failures[decky.name] = "\(error)"
                report.append("\(decky.name): failed: \(error)")
            }
            self.starting.remove(decky.name)
        }
        if count > 0 { report.append("serving \(count) decky(s)") }
        return report
    }

    /// The ports of a decky that have an emulator on their transport, in service order.
    func servablePorts(_ decky: Decky) -> [(kind: ServiceKind, port: Int, udp: Bool)] {
        let registry = self.settings.registry
        return decky.services.flatMap { instance -> [(kind: ServiceKind, port: Int, udp: Bool)] in
            instance.ports.compactMap { port -> (kind: ServiceKind, port: Int, udp: Bool)? in
                switch port.transport {
                case .tcp: registry.service(for: instance.kind) == nil ? nil : (instance.kind, Int(port.number), false)
                case .udp:
                    registry.datagramService(for: instance.kind) == nil ? nil : (instance.kind, Int(port.number), true)
                }
            }
        }
    }

    /// Opens every socket of a decky in one visit to its namespace, then hands each to its emulator.
    func openListeners(_ decky: Decky) async throws -> [Served] {
        let ports = self.servablePorts(decky)
        let namespace = self.network == nil ? nil : FleetNetwork.namespace(of: decky)
        let offset = self.native.portOffset
        let host = decky.ip.description
        let sockets: [(kind: ServiceKind, port: Int, bound: Int, fd: Int32, udp: Bool)] =
            try await NamespaceThread.run(namespace) {
                var opened: [(kind: ServiceKind, port: Int, bound: Int, fd: Int32, udp: Bool)] = []
                do {
                    for (kind, port, udp) in ports {
                        if udp {
                            // Made below, through NIO, on a visit of its own (see UDPListener.bind).
                            opened.append((kind, port, port, -1, true))
                            continue
                        }
                        do {
                            opened.append(
                                (kind, port, port, try NamespaceSocket.openListeningTCP(host: host, port: port), false)
                            )
                        } catch let failure as NamespaceSocket.Failure
                            where failure.code == EACCES && namespace == nil && port < 1024
                        {
                            // Without root a privileged port cannot be bound: the stated offset applies.
                            let shifted = port + offset
                            opened.append(
                                (
                                    kind, port, shifted,
                                    try NamespaceSocket.openListeningTCP(host: host, port: shifted), false
                                )
                            )
                        }
                    }
                } catch {
                    for socket in opened { close(socket.fd) }
                    throw error
                }
                return opened
            }
        let keyDirectory = EngineFiles.keys(self.settings.stateDirectory, decky: decky.name)
        var result: [Served] = []
        var remaining = sockets[...]
        do {
            while let socket = remaining.popFirst() {
                let instance = decky.services.first { $0.kind == socket.kind }
                let tlsPorts = Set(
                    (instance?.ports ?? []).map { Int($0.number) }.filter(ServiceContext.conventionalTLSPorts.contains)
                )
                var context = ServiceContext(
                    decky: decky.name,
                    hostname: decky.hostname,
                    service: socket.kind,
                    persona: instance?.persona ?? [:],
                    sink: self.settings.sink,
                    artifactDirectory: self.settings.artifactDirectory,
                    osFamily: decky.osFamily,
                    kernelVersion: instance?.persona["kernel_version"] ?? decky.distroProfile?.kernelVersion,
                    distro: decky.distro,
                    dataChannels: PosixDataChannels(namespace: namespace),
                    macAddress: decky.mac.description,
                    tlsPorts: tlsPorts,
                    keyDirectory: keyDirectory,
                    address: host
                )
                if namespace != nil { context.broadcast = self.state.fleet.subnet.broadcast.description }
                context.planted = PlantedFiles(
                    root: PlantedFiles.root(stateDirectory: self.settings.stateDirectory, decky: decky.name)
                )
                context.canaryTokens = self.canaryTokens
                let listener: any RunningService
                if socket.udp {
                    // In the decky's namespace the socket takes every address (multicast needs it); on the
                    // loopback network it keeps to the decky's own.
                    listener = try await ServiceLauncher.serveDatagrams(
                        socket.kind,
                        registry: self.settings.registry,
                        context: context,
                        host: namespace == nil ? host : "0.0.0.0",
                        port: socket.port,
                        namespace: namespace,
                        multicast: namespace != nil
                    )
                } else {
                    listener = try await ServiceLauncher.bind(
                        socket.kind,
                        registry: self.settings.registry,
                        context: context,
                        host: host,
                        port: socket.port,
                        limits: self.settings.limits,
                        socket: socket.fd
                    )
                }
                let finished = Finished()
                let task = Task {
                    await listener.run()
                    finished.flag.store(true, ordering: .releasing)
                }
                result.append(
                    Served(
                        kind: socket.kind,
                        port: socket.port,
                        udp: socket.udp,
                        boundPort: socket.bound,
                        listener: listener,
                        task: task,
                        finished: finished
                    )
                )
            }
        } catch {
            for socket in remaining { close(socket.fd) }
            await Self.closeAll(result)
            throw error
        }
        return result
    }

    /// Stops accepting and ends the open connections of `listeners`, then waits (up to two seconds) until
    /// their sockets are closed: an open socket would keep its namespace, and the decky's interface, alive.
    /// Returns how many had not finished by then.
    @discardableResult
    static func closeAll(_ listeners: [Served]) async -> Int {
        for served in listeners {
            await served.listener.close()
            served.task.cancel()
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(2)
        var pending = listeners.filter { !$0.finished.flag.load(ordering: .acquiring) }
        while !pending.isEmpty && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
            pending.removeAll { $0.finished.flag.load(ordering: .acquiring) }
        }
        return pending.count
    }

    /// Closes a decky's listeners and removes its namespace.
    func takeDown(_ decky: Decky) async {
        for watcher in self.settings.watchers { await watcher.removed(decky) }
        if let listeners = self.served.removeValue(forKey: decky.name) { await Self.closeAll(listeners) }
        self.failures[decky.name] = nil
        if let network = self.network { await network.remove([decky]) }
    }

    // MARK: lifecycle

    /// `decnet lifecycle start`: serves a stopped (or failed) decky again.
    public func start(_ name: String) async throws -> [String] {
        await self.acquire()
        defer { self.release() }
        guard self.decky(named: name) != nil else { throw self.unknown(name) }
        try self.setStopped(name, false)
        return await self.reconcileLocked()
    }

    /// `decnet lifecycle stop`: takes one decky off the wire; the others are not touched.
    public func stop(_ name: String) async throws -> [String] {
        await self.acquire()
        defer { self.release() }
        guard let decky = self.decky(named: name) else { throw self.unknown(name) }
        try self.setStopped(name, true)
        await self.takeDown(decky)
        return ["\(name): stopped"]
    }

    /// `decnet lifecycle restart`: down, then up, with the same identity.
    public func restart(_ name: String) async throws -> [String] {
        await self.acquire()
        defer { self.release() }
        guard let decky = self.decky(named: name) else { throw self.unknown(name) }
        await self.takeDown(decky)
        try self.setStopped(name, false)
        return ["\(name): taken down"] + (await self.reconcileLocked())
    }

    /// `decnet teardown --id`: takes the decky down and drops it from the state.
    public func remove(_ name: String) async throws -> [String] {
        await self.acquire()
        defer { self.release() }
        guard let decky = self.decky(named: name) else { throw self.unknown(name) }
        await self.takeDown(decky)
        self.state.fleet.deckies.removeAll { $0.name == name }
        self.state.native?.stopped.removeAll { $0 == name }
        try self.state.write(toDirectory: self.settings.stateDirectory)
        try? FileManager.default.removeItem(atPath: EngineFiles.keys(self.settings.stateDirectory, decky: name))
        return ["\(name): torn down"]
    }

    /// Closes every listener; with `removeNetwork`, also deletes every namespace and the host-side interface.
    public func shutdown(removeNetwork: Bool) async {
        await self.acquire()
        defer { self.release() }
        let listeners = self.served.values.flatMap { $0 }
        for decky in self.state.fleet.deckies where self.served[decky.name] != nil {
            for watcher in self.settings.watchers { await watcher.removed(decky) }
        }
        self.served = [:]
        let lingering = await Self.closeAll(listeners)
        if lingering > 0 { self.settings.log("\(lingering) listener(s) still closing after 2 s") }
        guard removeNetwork, let network = self.network else { return }
        await network.remove(self.state.fleet.deckies)
        await FleetNetwork.cleanUpHost(hairpin: self.native.hairpin)
    }

    func setStopped(_ name: String, _ stopped: Bool) throws {
        var native = self.native
        native.stopped.removeAll { $0 == name }
        if stopped { native.stopped.append(name) }
        self.state.native = native
        try self.state.write(toDirectory: self.settings.stateDirectory)
    }

    func unknown(_ name: String) -> Failure {
        let known = self.state.fleet.deckies.map(\.name).joined(separator: ", ")
        return Failure("no decky named '\(name)' in the fleet; known: \(known)")
    }

    // MARK: status

    /// The deckies served in namespaces now, with their namespace (for a watcher that starts late).
    public func servedNamespaceDeckies() -> [(Decky, String)] {
        guard self.network != nil else { return [] }
        return self.state.fleet.deckies.filter { self.served[$0.name] != nil }.map {
            ($0, FleetNetwork.namespace(of: $0))
        }
    }

    /// Every decky, live: the wire as seen from inside its namespace, and its listeners.
    /// - Parameter inspect: look inside every namespace (false: the listeners only, for progress polling).
    public func status(droppedEvents: Int = 0, inspect: Bool = true) async -> EngineStatus {
        let network = self.network
        let facts = network == nil || !inspect ? [:] : await Self.inspectAll(self.state.fleet.deckies)
        let stopped = Set(self.native.stopped)
        let deckies = self.state.fleet.deckies.map { decky -> DeckyStatus in
            let listeners = self.served[decky.name] ?? []
            let seen = facts[decky.name]
            var services: [ServicePortStatus] = []
            for instance in decky.services {
                for port in instance.ports {
                    let number = Int(port.number)
                    let udp = port.transport == .udp
                    if let served = listeners.first(where: {
                        $0.kind == instance.kind && $0.port == number && $0.udp == udp
                    }) {
                        services.append(
                            ServicePortStatus(
                                service: instance.kind.rawValue,
                                port: number,
                                boundPort: served.boundPort,
                                listening: true,
                                openConnections: served.listener.openConnections,
                                totalConnections: served.listener.totalConnections,
                                note: nil
                            )
                        )
                    } else {
                        let note: String?
                        if !self.settings.registry.implements(instance.kind) {
                            note = "no emulator yet"
                        } else if udp
                            ? self.settings.registry.datagramService(for: instance.kind) == nil
                            : self.settings.registry.service(for: instance.kind) == nil
                        {
                            note = "\(port.transport.rawValue) not served yet"
                        } else {
                            note = nil
                        }
                        services.append(
                            ServicePortStatus(
                                service: instance.kind.rawValue,
                                port: number,
                                boundPort: nil,
                                listening: false,
                                openConnections: 0,
                                totalConnections: 0,
                                note: note
                            )
                        )
                    }
                }
            }
            let state: DeckyStatus.State
            if stopped.contains(decky.name) {
                state = .stopped
            } else if self.failures[decky.name] != nil {
                state = .failed
            } else if self.served[decky.name] != nil {
                state = .running
            } else {
                state = self.starting.contains(decky.name) ? .starting : .failed
            }
            return DeckyStatus(
                name: decky.name,
                state: state,
                ip: decky.ip.description,
                mac: decky.mac.description,
                hostname: decky.hostname,
                osFamily: decky.osFamily.rawValue,
                distro: decky.distro,
                archetype: decky.archetype,
                namespace: network == nil ? nil : FleetNetwork.namespace(of: decky),
                namespacePresent: seen?.namespacePresent ?? false,
                interfaceUp: seen?.interface?.up ?? (network == nil),
                observedAddresses: seen?.interface?.addresses ?? (network == nil ? [decky.ip.description] : []),
                observedMAC: seen?.interface?.mac,
                services: services,
                error: self.failures[decky.name]
                    ?? (state == .failed && !self.starting.contains(decky.name)
                        ? "not serving; run decnet reconcile" : nil),
                personality: decky.personality.rawValue
            )
        }
        var description = self.native.network.rawValue
        if let lab = self.native.lab { description += " \(lab)" }
        if let parent = self.native.parent { description += " on \(parent)" }
        return EngineStatus(
            phase: self.phase,
            pid: getpid(),
            startedAt: self.startedAt,
            residentBytes: EngineStatus.residentBytes(),
            network: description,
            droppedEvents: droppedEvents,
            lastReport: self.lastReport,
            deckies: deckies
        )
    }
}
