import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetRuntime
import DecnetStore
import Foundation

/// Opens the store the environment names: SQLite at `DECNET_DB_PATH` (default `<state dir>/decnet.db`), or
/// PostgreSQL at `DECNET_DB_HOST`/`_PORT`/`_NAME` as `DECNET_DB_USER` (`DECNET_DB_BACKEND=postgres`).
enum StoreOpening {
    static func open(_ environment: DecnetEnvironment) throws -> any EventStore {
        switch environment.databaseBackend {
        case .sqlite:
            let path =
                environment.databasePath ?? (environment.stateDirectory as NSString).appendingPathComponent("decnet.db")
            do {
                return try SQLiteEventStore(path: path)
            } catch {
                throw CommandFailure("SQLite store \(path): \(error) (DECNET_DB_PATH)")
            }
        case .postgres:
            return PostgresEventStore(
                PostgresEventStore.Settings(
                    host: environment.databaseHost,
                    port: environment.databasePort,
                    user: environment.databaseUser,
                    password: environment.databasePassword,
                    database: environment.databaseName
                )
            )
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

/// `decnet workers start`: the background workers; today the ingester (event log → store).
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Manage background workers.",
        subcommands: [Start.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the ingester in the foreground: the event log into the store, until SIGINT/SIGTERM."
        )

        @Option(help: "The event log to read (default: DECNET_INGEST_LOG_FILE).") var logFile: String?
        @Flag(help: "Ingest what the log holds now, then exit.") var once = false
        @Option(help: "Events per transaction.") var batchSize = 5000

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let store = try StoreOpening.open(environment)
            try await store.migrate()
            let path = self.logFile ?? environment.ingestLogFile
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandFailure("event log \(path) does not exist (DECNET_INGEST_LOG_FILE, --log-file)")
            }
            var ingester = LogIngester(path: path, store: store)
            ingester.batchSize = max(1, self.batchSize)
            ingester.report = { FileHandle.standardError.write(Data(("ingester: " + $0 + "\n").utf8)) }
            let follow = !self.once
            let started = ContinuousClock.now
            let work = Task(executorPreference: BlockingIOExecutor.shared) { [ingester] in
                try await ingester.run(follow: follow)
            }
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { work.cancel() }
            defer { signals.cancel() }
            let progress: LogIngester.Progress
            do {
                progress = try await work.value
            } catch {
                throw CommandFailure("ingester: \(error)")
            }
            let seconds =
                Double((ContinuousClock.now - started).components.attoseconds) / 1e18
                + Double((ContinuousClock.now - started).components.seconds)
            print(
                "ingested \(progress.inserted) event(s) in \(progress.batches) batch(es), \(progress.duplicates) already stored, \(progress.rejected) rejected line(s), \(String(format: "%.2f", seconds)) s"
            )
        }
    }
}
