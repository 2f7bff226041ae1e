import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetIntel
import DecnetPipeline
import DecnetRuntime
import DecnetStore
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `decnet profiler start|stop|status`: the attacker profiler (profiles, identities, campaigns) as a daemon;
/// `DECNET_EMBED_PROFILER=true` runs the same worker inside `decnet api`/`decnet web` instead.
struct ProfilerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiler",
        abstract: "Manage the attacker profiler worker (behaviour, phases, tools, identities, campaigns).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    static let name = "profiler"

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Profile attackers as their events are stored, as a daemon (or in the foreground).",
            discussion:
                "Woken by attacker.observed on the bus; it also checks the store every --interval seconds, so nothing is missed when the bus is down."
        )

        @Option(help: "Seconds between checks of the store when the bus is quiet.") var interval: Double = 5
        @Option(
            help:
                "Directory of TTP rule files (*.ini) read on top of the default rules (default: <state dir>/rules/ttp)."
        )
        var rules: String?
        @Flag(help: "Profile what the store holds now, then exit (in the foreground).") var once = false
        @Flag(help: "Stay in the foreground.") var foreground = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            guard self.interval >= 0.1, self.interval <= 3600 else {
                throw CommandFailure("--interval must be 0.1-3600")
            }
            let store = try StoreOpening.open(environment, pageCacheBytes: 16 << 20)
            do {
                try await store.migrate()
            } catch {
                throw CommandFailure("\(environment.databaseBackend.rawValue) store: \(String(reflecting: error))")
            }
            let daemon = Daemon(ProfilerCommand.name, stateDirectory: environment.stateDirectory)
            if self.once {
                let worker = ProfilerWorker(
                    store: store,
                    geo: ProfilerHost.geo(),
                    rulesDirectory: TTPCommand.rulesDirectory(environment, self.rules)
                )
                let report = try await worker.runOnce()
                print(
                    "profiled \(report.profiled) attacker(s): \(report.identities) identit\(report.identities == 1 ? "y" : "ies"), \(report.campaigns) campaign(s)"
                )
                return
            }
            guard self.foreground else {
                let pid = try await daemon.spawn(
                    commandPath: ["profiler", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                print("profiler started (pid \(pid)) on the \(environment.databaseBackend.rawValue) store")
                return
            }
            let lock = try daemon.lock()
            let host = ProfilerHost(
                store: store,
                stateDirectory: daemon.stateDirectory,
                interval: self.interval,
                rulesDirectory: TTPCommand.rulesDirectory(environment, self.rules)
            )
            let running = Task { await host.run(status: { daemon.writeStatus($0) }) }
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { running.cancel() }
            defer { signals.cancel() }
            Daemon.log("profiler \(getpid()) (store: \(environment.databaseBackend.rawValue))")
            await running.value
            Daemon.log("profiler \(getpid()) stopped")
            withExtendedLifetime(lock) {}
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the profiler.")
        func run() async throws { try await DaemonCommands.stop(ProfilerCommand.name) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the profiler's runs and what it found.")
        func run() async throws { try await DaemonCommands.status(ProfilerCommand.name) }
    }
}

/// The profiler worker with what surrounds it in a process: the bus (woken by `attacker.observed`, publishing
/// what it finds, a heartbeat) and its status.
struct ProfilerHost: Sendable {
    let worker: ProfilerWorker
    /// The webhook deliveries: every bus message offered, each subscription's own queue.
    let webhooks: WebhookDispatcher
    let bus: BusPublisher
    let socket: String
    let interval: Double

    init(store: any EventStore, stateDirectory: String, interval: Double = 5, rulesDirectory: String? = nil) {
        self.socket = BusTopics.socket(stateDirectory: stateDirectory)
        let bus = BusPublisher(socketPath: self.socket, name: "profiler")
        self.bus = bus
        self.interval = interval
        self.webhooks = WebhookDispatcher(store: store)
        let rules = rulesDirectory ?? URL(fileURLWithPath: stateDirectory).appendingPathComponent("rules/ttp").path
        self.worker = ProfilerWorker(
            store: store,
            geo: Self.geo(),
            rulesDirectory: rules,
            publish: { subject, payload in
                guard let subject = try? Subject(subject) else { return }
                bus.publish(subject, payload)
            }
        )
    }

    /// The GeoIP database, when one is installed (ASNs for identities).
    static func geo() -> LocationDatabase? {
        LocationDatabase.defaultPath().flatMap { try? LocationDatabase(path: $0) }
    }

    /// Runs until cancelled.
    func run(status: @escaping @Sendable (ProfilerWorker.Statistics) -> Void = { _ in }) async {
        let worker = self.worker
        let bus = self.bus
        let socket = self.socket
        let webhooks = self.webhooks
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await bus.run() }
            group.addTask { await worker.run(interval: .milliseconds(Int(self.interval * 1000))) }
            group.addTask {
                // Woken by what the ingester stores; when no broker runs, the interval alone drives it.
                while !Task.isCancelled {
                    try? await BusConnection.subscribe(socket, pattern: "attacker.observed", name: "profiler") { _, _ in
                        worker.wake()
                        return !Task.isCancelled
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask {
                await BusTopics.heartbeat("profiler", on: bus) { [:] }
            }
            group.addTask { await webhooks.run() }
            group.addTask {
                // Every message, for the webhooks (each subscription filters its own topics), while there is a
                // subscription at all: a busy fleet's every event is a lot to read for nobody.
                while !Task.isCancelled {
                    if webhooks.isActive {
                        try? await BusConnection.subscribe(socket, pattern: ">", name: "profiler-webhooks") {
                            subject,
                            payload in
                            webhooks.offer(subject: subject, payload: Array(payload.readableBytesView))
                            return !Task.isCancelled && webhooks.isActive
                        }
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    status(await worker.statistics)
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
