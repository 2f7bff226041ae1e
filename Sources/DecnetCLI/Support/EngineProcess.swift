import CDecnetLinux
import DecnetCore
import DecnetPacket
import DecnetPipeline
import DecnetRuntime
import DecnetServices
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs the native engine in this process (`decnet engine run`, `deploy --foreground`): takes the pid lock,
/// opens the control socket, reconciles the fleet and serves it until SIGTERM/SIGINT or a `shutdown` request.
enum EngineHost {
    static func serve(
        stateDirectory: String,
        ingestLogFile: String,
        rotation: RotatingLogFile.Policy,
        sniffer: PacketLayer.Settings? = nil
    ) async throws {
        let lock: PIDLock
        do {
            lock = try EngineLock.take(stateDirectory: stateDirectory)
        } catch {
            throw CommandFailure("\(error)")
        }
        let state: FleetState
        do {
            guard let read = try FleetState.read(fromDirectory: stateDirectory), read.driver == "native" else {
                throw CommandFailure(
                    "no native fleet in \(FleetState.path(in: stateDirectory)); run `decnet deploy` first"
                )
            }
            state = read
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("\(error)")
        }
        let output: LogFileOutput
        do {
            output = try LogFileOutput(path: ingestLogFile, rotation: rotation)
        } catch {
            throw CommandFailure("event log \(ingestLogFile): cannot be opened for appending (DECNET_INGEST_LOG_FILE)")
        }
        let dispatcher = EventDispatcher(outputs: [output])
        let delivery = Task(executorPreference: BlockingIOExecutor.shared) { await dispatcher.run() }
        // `--log-target`: the log also goes, in the clear, to a syslog receiver on loopback.
        let logTarget = LogTargetForwarding(logPath: ingestLogFile, stateDirectory: stateDirectory)
        if let line = await logTarget.apply(state.fleet.logTarget) { Self.log(line) }
        // The packet layer follows the namespace deckies (there are none in the loopback network).
        let packets = SnifferControl(
            settings: state.native?.network == .loopback ? nil : sniffer,
            stateDirectory: stateDirectory,
            state: state,
            sink: dispatcher
        )
        // OS personalities: each shaped decky's SYN-ACKs, RSTs and ICMP leave through its queue (not on loopback).
        let personalities = state.native?.network == .loopback ? nil : PersonalityLayer { Self.log($0) }
        var watchers: [any DeckyWatcher] = packets.layer.map { [$0] } ?? []
        if let personalities { watchers.append(personalities) }
        let engine = Engine(
            settings: Engine.Settings(
                stateDirectory: stateDirectory,
                registry: .builtin,
                sink: dispatcher,
                watchers: watchers,
                log: { Self.log($0) }
            ),
            state: state
        )
        if let line = packets.startIfWanted() { Self.log(line) }
        let server: EngineControlServer
        do {
            server = try await EngineControlServer.bind(path: EngineFiles.socket(stateDirectory))
        } catch {
            dispatcher.finish()
            await delivery.value
            throw CommandFailure("control socket \(EngineFiles.socket(stateDirectory)): \(error)")
        }
        // Decky states and the engine's health go out on the bus (when a broker runs).
        let bus = BusPublisher(socketPath: BusTopics.socket(stateDirectory: stateDirectory), name: "engine")
        let publishing = Task { await bus.run() }
        let states = DeckyStatePublisher(bus: bus)
        let heartbeat = Task {
            await BusTopics.heartbeat("engine", on: bus) { ["dropped_events": String(dispatcher.dropped)] }
        }
        Self.log("engine \(getpid()) up: \(state.fleet.deckies.count) decky(s), events to \(ingestLogFile)")
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) {
            Self.log("signal received: closing listeners (namespaces stay; `decnet teardown` removes them)")
            Task { await server.close() }
        }
        let serving = Task {
            if let error = await server.run({ request in
                let response = await Self.handle(
                    request,
                    engine: engine,
                    server: server,
                    dispatcher: dispatcher,
                    logTarget: logTarget,
                    packets: packets,
                    personalities: personalities
                )
                if request.op != .status && request.op != .shutdown {
                    states.publish(await engine.status(inspect: false))
                }
                return response
            }) {
                Self.log("control socket failed: \(error)")
            }
        }
        for line in await engine.reconcile() { Self.log(line) }
        states.publish(await engine.status(inspect: false))
        await serving.value
        signals.cancel()
        await engine.shutdown(removeNetwork: false)
        await packets.layer?.stop()
        await personalities?.stop()
        dispatcher.finish()
        await delivery.value
        await logTarget.apply(nil)
        // The engine is gone: nothing it served is up.
        states.publishAll("stopped")
        heartbeat.cancel()
        await bus.close(running: publishing, grace: .seconds(1))
        try? FileManager.default.removeItem(atPath: EngineFiles.socket(stateDirectory))
        Self.log("engine \(getpid()) stopped")
        withExtendedLifetime(lock) {}
    }

    static func handle(
        _ request: EngineRequest,
        engine: Engine,
        server: EngineControlServer,
        dispatcher: EventDispatcher,
        logTarget: LogTargetForwarding,
        packets: SnifferControl,
        personalities: PersonalityLayer?
    ) async -> EngineResponse {
        do {
            var report: [String] = []
            switch request.op {
            case .status:
                break
            case .start, .stop, .restart, .remove:
                guard let name = request.decky else {
                    return EngineResponse(ok: false, error: "\(request.op.rawValue) needs a decky name")
                }
                switch request.op {
                case .start: report = try await engine.start(name)
                case .stop: report = try await engine.stop(name)
                case .restart: report = try await engine.restart(name)
                default: report = try await engine.remove(name)
                }
            case .reload:
                report = try await engine.reload()
                // A deploy that changed `--log-target` moves the forwarding now, not at the next restart.
                if let state = try FleetState.read(fromDirectory: logTarget.stateDirectory),
                    let line = await logTarget.apply(state.fleet.logTarget)
                {
                    report.append(line)
                }
            case .shutdown:
                await engine.shutdown(removeNetwork: request.removeNetwork ?? false)
                await packets.layer?.stop()
                await personalities?.stop()
                Task { await server.close() }
                return EngineResponse(ok: true, report: ["engine \(getpid()) stopping"])
            case .snifferStart:
                report = try await packets.start(serving: await engine.servedNamespaceDeckies())
            case .snifferStop:
                report = try await packets.stop()
            }
            for line in report { Self.log(line) }
            var status = await engine.status(droppedEvents: dispatcher.dropped, inspect: !(request.brief ?? false))
            status.sniffer = packets.status
            if let shaping = personalities?.status {
                for index in status.deckies.indices {
                    status.deckies[index].shaping = shaping[status.deckies[index].name]
                }
            }
            return EngineResponse(ok: true, report: report, status: status)
        } catch {
            return EngineResponse(ok: false, error: "\(error)")
        }
    }

    /// One line of the engine's log (its standard output, which the daemon writes to `decnet-engine.log`).
    static func log(_ message: String) { Daemon.log(message) }
}

/// `--log-target`: the event log also goes, in the clear, to a syslog receiver on loopback, from a cursor of its
/// own (`decnet-log-target.cursor`). A new target takes over from where the last one stopped, so each event goes
/// to one receiver, in order, even across a change.
actor LogTargetForwarding {
    let logPath: String
    nonisolated let stateDirectory: String
    private var target: String?
    private var running: Task<Void, Never>?

    init(logPath: String, stateDirectory: String) {
        self.logPath = logPath
        self.stateDirectory = stateDirectory
    }

    /// Forwards to `target` (nil: nowhere) from now on; returns a line for the engine's log when it changed.
    @discardableResult
    func apply(_ target: String?) async -> String? {
        guard target != self.target || (target != nil && self.running == nil) else { return nil }
        let previous = self.target
        if let running = self.running {
            running.cancel()
            await running.value
            self.running = nil
        }
        self.target = target
        guard let target else { return previous.map { "log target \($0): stopped" } }
        guard let (host, port) = InputSyntax.hostPort(target) else {
            return "log target \(target) refused: not host:port"
        }
        do {
            var forwarder = try SyslogForwarder(
                SyslogForwarder.Settings(
                    logPath: self.logPath,
                    host: "\(host)",
                    port: Int(port),
                    identity: nil,
                    cursorPath: (self.stateDirectory as NSString).appendingPathComponent("decnet-log-target.cursor")
                )
            )
            forwarder.log = { EngineHost.log("log target \(target): \($0)") }
            self.running = Task(executorPreference: BlockingIOExecutor.shared) { [forwarder] in await forwarder.run() }
        } catch {
            self.target = nil
            return "log target \(target) refused: \(error)"
        }
        return previous.map { "log target moved from \($0) to \(target)" } ?? "log target \(target): forwarding"
    }
}

/// Starting, finding and waiting for the engine daemon from the CLI.
enum EngineProcess {
    /// The running engine's pid, if any.
    static func running(_ stateDirectory: String) -> Int32? { EngineLock.runningPID(stateDirectory: stateDirectory) }

    /// Starts `decnet engine run` as a daemon (own session, output to `decnet-engine.log`) and returns its pid.
    static func spawn(stateDirectory: String) throws -> pid_t {
        try Daemon("engine", stateDirectory: stateDirectory).launch(["engine", "run"])
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// Whether a child we started is still alive (reaps it when it is not).
    static func isAlive(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return false }
        if result == 0 { return true }
        // Not our child: alive unless gone or a zombie waiting for its new parent to reap it.
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        return state != "Z"
    }

    /// Waits until the engine answers and has finished reconciling; shows progress on a terminal.
    static func waitReady(
        stateDirectory: String,
        pid: pid_t,
        timeout: Duration = .seconds(600)
    ) async throws -> EngineStatus {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let terminal = isatty(STDOUT_FILENO) == 1
        var shown = false
        while clock.now < deadline {
            if !Self.isAlive(pid) {
                throw CommandFailure("the engine exited while starting; its log:\n\(Self.logTail(stateDirectory))")
            }
            if let response = try? await EngineClient.send(
                EngineRequest(.status, brief: true),
                stateDirectory: stateDirectory
            ),
                let status = response.status
            {
                let serving = status.deckies.filter { $0.state != .starting }.count
                if terminal {
                    FileHandle.standardOutput.write(Data("\rdeckies up: \(serving)/\(status.deckies.count)".utf8))
                    shown = true
                }
                if status.phase == "ready" {
                    if shown { print("") }
                    // One full look (inside every namespace) for the table the caller prints.
                    let full = try? await EngineClient.send(EngineRequest(.status), stateDirectory: stateDirectory)
                    return full?.status ?? status
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CommandFailure(
            "the engine did not finish starting in \(timeout); its log:\n\(Self.logTail(stateDirectory))"
        )
    }

    /// Waits for a pid to go away (teardown), then insists.
    static func waitExit(_ pid: pid_t, timeout: Duration = .seconds(20)) async {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if !Self.isAlive(pid) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(pid, SIGKILL)
    }

    /// The last lines of the engine's log.
    static func logTail(_ stateDirectory: String, lines: Int = 20) -> String {
        Daemon("engine", stateDirectory: stateDirectory).logTail(lines: lines)
    }

    /// Makes sure an engine serves the state directory: starts one when none runs, then waits for it.
    @discardableResult
    static func ensureRunning(stateDirectory: String) async throws -> (status: EngineStatus, started: Bool) {
        if let pid = Self.running(stateDirectory) {
            let response = try await EngineClient.send(EngineRequest(.status), stateDirectory: stateDirectory)
            guard let status = response.status else {
                throw CommandFailure("the engine (pid \(pid)) answered without a status: \(response.error ?? "?")")
            }
            return (status, false)
        }
        let pid = try Self.spawn(stateDirectory: stateDirectory)
        return (try await Self.waitReady(stateDirectory: stateDirectory, pid: pid), true)
    }

    /// Sends a request to the running engine; fails clearly when there is none.
    static func send(_ request: EngineRequest, stateDirectory: String) async throws -> EngineResponse {
        let response: EngineResponse
        do {
            response = try await EngineClient.send(request, stateDirectory: stateDirectory)
        } catch {
            throw CommandFailure("\(error)")
        }
        guard response.ok else { throw CommandFailure(response.error ?? "the engine refused") }
        return response
    }
}

/// Publishes `decky.{name}.state` whenever a decky's state differs from what was last published.
final class DeckyStatePublisher: Sendable {
    let bus: BusPublisher
    private let last = Mutex<[String: String]>([:])

    init(bus: BusPublisher) { self.bus = bus }

    func publish(_ status: EngineStatus) {
        var seen = Set<String>()
        for decky in status.deckies {
            seen.insert(decky.name)
            let state = decky.state.rawValue
            let changed = self.last.withLock { last in
                defer { last[decky.name] = state }
                return last[decky.name] != state
            }
            if changed {
                self.bus.publish(
                    "decky.\(decky.name).state",
                    json: BusTopics.DeckyState(decky: decky.name, state: state)
                )
            }
        }
        self.forget(Array(seen))
    }

    /// Publishes `state` for every decky last published, and forgets them.
    func publishAll(_ state: String) {
        let names = self.last.withLock { last in
            defer { last.removeAll() }
            return last.keys.sorted()
        }
        for name in names {
            self.bus.publish("decky.\(name).state", json: BusTopics.DeckyState(decky: name, state: state))
        }
    }

    /// Publishes `removed` for deckies no longer in the fleet.
    private func forget(_ present: [String]) {
        let seen = Set(present)
        let removed = self.last.withLock { last in
            let gone = last.keys.filter { !seen.contains($0) }
            for name in gone { last[name] = nil }
            return gone
        }
        for name in removed {
            self.bus.publish("decky.\(name).state", json: BusTopics.DeckyState(decky: name, state: "removed"))
        }
    }
}
