import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPipeline
import DecnetRuntime
import DecnetStore
import Foundation
import Synchronization

/// Opens the store the environment names: SQLite at `DECNET_DB_PATH` (default `<state dir>/decnet.db`), or
/// PostgreSQL at `DECNET_DB_HOST`/`_PORT`/`_NAME` as `DECNET_DB_USER` (`DECNET_DB_BACKEND=postgres`).
enum StoreOpening {
    /// - Parameter pageCacheBytes: SQLite's page cache per connection (the ingester's default; the API asks for
    ///   less, having several reader connections).
    static func open(
        _ environment: DecnetEnvironment,
        pageCacheBytes: Int = SQLiteEventStore.ingestPageCache
    ) throws -> any EventStore {
        switch environment.databaseBackend {
        case .sqlite:
            let path =
                environment.databasePath ?? (environment.stateDirectory as NSString).appendingPathComponent("decnet.db")
            do {
                return try SQLiteEventStore(path: path, pageCacheBytes: pageCacheBytes)
            } catch {
                throw CommandFailure("SQLite store \(path): \(error) (DECNET_DB_PATH)")
            }
        case .postgres:
            let verification: PostgresEventStore.TLS.Verification? =
                switch environment.resolvedDatabaseTLSMode {
                case .disable: nil
                case .require: PostgresEventStore.TLS.Verification.none
                case .verifyCA: .chain
                case .verifyFull, .auto: .full
                }
            do {
                return try PostgresEventStore(
                    PostgresEventStore.Settings(
                        host: environment.databaseHost,
                        port: environment.databasePort,
                        user: environment.databaseUser,
                        password: environment.databasePassword,
                        database: environment.databaseName,
                        tls: PostgresEventStore.TLS(
                            verification: verification,
                            rootCertificates: environment.databaseTLSRootCertificates,
                            certificate: environment.databaseTLSCertificate,
                            key: environment.databaseTLSKey
                        )
                    )
                )
            } catch {
                throw CommandFailure("PostgreSQL store: \(error)")
            }
        }
    }
}

/// `decnet db migrate|reset`: the store's schema.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database operations.",
        subcommands: [Migrate.self, Reset.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or upgrade the schema.")

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let store = try StoreOpening.open(environment)
            do {
                try await store.migrate()
            } catch {
                throw CommandFailure(
                    "migration failed (\(environment.databaseBackend.rawValue) store): \(String(reflecting: error))"
                )
            }
            print("schema up to date; rows: \(try await Self.describe(store))")
        }

        static func describe(_ store: any EventStore) async throws -> String {
            try await store.counts().sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                .joined(separator: ", ")
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every stored event and profile.")

        @Flag(help: "Confirm: everything stored is deleted.") var yes = false

        func run() async throws {
            guard self.yes else { throw CommandFailure("`decnet db reset` deletes every stored event; add --yes") }
            let store = try StoreOpening.open(try await EnvironmentLoading.load())
            try await store.reset()
            print("store emptied; rows: \(try await Migrate.describe(store))")
        }
    }
}

/// `decnet workers start|stop|status`: the background workers; today the ingester (event logs → store).
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Manage background workers (the ingester: event logs into the store).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    static let name = "workers"

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ingest the event logs into the store, as a daemon (or in the foreground until SIGINT/SIGTERM).",
            discussion:
                "By default it reads DECNET_INGEST_LOG_FILE and, when it exists, the listener's decnet-received.log beside it."
        )

        @Option(help: "An event log to read (repeatable; default: DECNET_INGEST_LOG_FILE and the listener's log).")
        var logFile: [String] = []
        @Flag(help: "Ingest what the logs hold now, then exit (in the foreground).") var once = false
        @Flag(help: "Stay in the foreground.") var foreground = false
        @Option(
            help:
                "Events per transaction, at most (a backlog is stored in batches this large; a live log commits as soon as it is read)."
        )
        var batchSize = 20000

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            var paths = self.logFile
            if paths.isEmpty {
                paths = [environment.ingestLogFile]
                if FileManager.default.fileExists(atPath: environment.receivedLogFile) {
                    paths.append(environment.receivedLogFile)
                }
            }
            for path in paths where LogTail.generations(of: path).isEmpty {
                throw CommandFailure("event log \(path) does not exist (DECNET_INGEST_LOG_FILE, --log-file)")
            }
            let store = try StoreOpening.open(environment)
            do {
                try await store.migrate()
            } catch {
                throw CommandFailure("\(environment.databaseBackend.rawValue) store: \(String(reflecting: error))")
            }
            let daemon = Daemon(WorkersCommand.name, stateDirectory: environment.stateDirectory)
            guard self.foreground || self.once else {
                let pid = try await daemon.spawn(
                    commandPath: ["workers", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                print(
                    "workers started (pid \(pid)): \(paths.joined(separator: ", ")) into the \(environment.databaseBackend.rawValue) store"
                )
                return
            }
            let lock = self.once ? nil : try daemon.lock()
            let follow = !self.once
            let started = ContinuousClock.now
            let startedAt = Date()
            let progress = ProgressBoard()
            let batchSize = self.batchSize
            // What is stored goes out on the bus (when a broker runs; the publisher never waits for one).
            let bus = BusPublisher(socketPath: BusTopics.socket(stateDirectory: daemon.stateDirectory), name: "workers")
            let publishing = Task { await bus.run() }
            let reuse = CredentialReuseDetector()
            // A credential first seen before this start is still matched when it comes back.
            do {
                try await reuse.remember(from: store)
            } catch {
                FileHandle.standardError.write(Data("workers: stored credentials not read back: \(error)\n".utf8))
            }
            let heartbeat = Task {
                await BusTopics.heartbeat("ingester", on: bus) {
                    let logs = progress.logs.withLock { $0 }
                    return [
                        "inserted": String(logs.values.reduce(0) { $0 + $1.inserted }),
                        "rejected": String(logs.values.reduce(0) { $0 + $1.rejected }),
                    ]
                }
            }
            let ingest = { @Sendable [paths] (store: any EventStore) async throws -> LogIngester.Progress in
                try await withThrowingTaskGroup(of: (String, LogIngester.Progress).self) { group in
                    for path in paths {
                        var ingester = LogIngester(path: path, store: store)
                        ingester.batchSize = max(1, batchSize)
                        ingester.report = { FileHandle.standardError.write(Data(("ingester: " + $0 + "\n").utf8)) }
                        ingester.progress = { current in
                            progress.logs.withLock { $0[path] = current }
                            progress.committed.add(1, ordering: .relaxed)
                        }
                        ingester.stored = { events in
                            BusTopics.publish(events, on: bus)
                            reuse.publish(events, on: bus)
                        }
                        group.addTask(executorPreference: BlockingIOExecutor.shared) { [ingester] in
                            (path, try await ingester.run(follow: follow))
                        }
                    }
                    var total = LogIngester.Progress()
                    for try await (_, done) in group { total.add(done) }
                    return total
                }
            }
            let work = Task(executorPreference: BlockingIOExecutor.shared) {
                guard follow else {
                    let total = try await ingest(store)
                    // A run that times itself ends when the store has copied its log back too.
                    await store.settle()
                    return total
                }
                // Following, a store that fails (locked past the busy timeout, its file removed, PostgreSQL gone)
                // is opened again and reading resumes from the store's cursor: nothing the cursor has not
                // passed is lost, and nothing it has passed is stored twice (uuids are unique).
                var store = store
                var retry = StoreRetry()
                while true {
                    do {
                        return try await ingest(store)
                    } catch {
                        if Task.isCancelled { return LogIngester.Progress() }
                        let wait = retry.failed(committed: progress.committed.load(ordering: .relaxed))
                        FileHandle.standardError.write(
                            Data("ingester: \(error); opening the store again in \(wait) s\n".utf8)
                        )
                        do { try await Task.sleep(for: .seconds(wait)) } catch { return LogIngester.Progress() }
                        do {
                            let reopened = try StoreOpening.open(environment)
                            try await reopened.migrate()
                            store = reopened
                            FileHandle.standardError.write(Data("ingester: the store is open again\n".utf8))
                        } catch {
                            FileHandle.standardError.write(Data("ingester: the store did not open: \(error)\n".utf8))
                        }
                    }
                }
            }
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { work.cancel() }
            defer { signals.cancel() }
            let reporting = Task {
                guard !self.once else { return }
                while !Task.isCancelled {
                    daemon.writeStatus(
                        WorkersStatus(
                            pid: getpid(),
                            started: startedAt,
                            store: environment.databaseBackend.rawValue,
                            logs: progress.logs.withLock { $0 }
                        )
                    )
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            let total: LogIngester.Progress
            do {
                total = try await work.value
            } catch {
                reporting.cancel()
                heartbeat.cancel()
                publishing.cancel()
                throw CommandFailure("ingester: \(error)")
            }
            reporting.cancel()
            heartbeat.cancel()
            await bus.close(running: publishing)
            withExtendedLifetime(lock) {}
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
            print(
                "ingested \(total.inserted) event(s) in \(total.batches) batch(es), \(total.duplicates) already stored, \(total.rejected) rejected line(s), \(String(format: "%.2f", seconds)) s"
            )
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the workers.")
        func run() async throws { try await DaemonCommands.stop(WorkersCommand.name) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the workers' progress per event log.")
        func run() async throws { try await DaemonCommands.status(WorkersCommand.name) }
    }
}

/// Each event log's progress, for `workers status`.
final class ProgressBoard: Sendable {
    let logs = Mutex([String: LogIngester.Progress]())

    /// Batches committed since the workers started, over every log and every opening of the store.
    let committed = Atomic<Int>(0)
}

/// How long the workers wait before opening a failed store again: 1 s, doubling to 30 s while failures follow
/// each other with nothing committed between them, back to 1 s once a batch was.
struct StoreRetry {
    private var wait = 1
    private var committedAtLastFailure: Int?

    /// - Parameter committed: batches committed so far.
    mutating func failed(committed: Int) -> Int {
        if let last = self.committedAtLastFailure, last == committed {
            self.wait = min(self.wait * 2, 30)
        } else {
            self.wait = 1
        }
        self.committedAtLastFailure = committed
        return self.wait
    }
}

struct WorkersStatus: Codable {
    var pid: Int32
    var started: Date
    var store: String
    var logs: [String: LogIngester.Progress]
}
