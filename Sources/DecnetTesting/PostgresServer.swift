import Foundation

/// A private PostgreSQL server for one test: Debian's `postgresql` binaries, a fresh cluster in a temporary
/// directory owned by the `postgres` user (the server refuses to run as root), listening on 127.0.0.1 only, with
/// a `decnet` superuser (trust authentication, loopback only) and a `decnet` database. Nothing of the machine's
/// own clusters is touched.
public final class PostgresServer: @unchecked Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binaries + "/postgres") }
    /// Whether a test needing a server should run: installed (and root, to start it as `postgres`), or CI.
    public static var isUsable: Bool { (Self.isInstalled && getuid() == 0) || ExternalTool.isCI }

    public let directory: String
    public let port: Int
    public let host = "127.0.0.1"
    public let user = "decnet"
    public let database = "decnet"
    private let process: Process

    private init(directory: String, port: Int, process: Process) {
        self.directory = directory
        self.port = port
        self.process = process
    }

    public static func start() async throws -> PostgresServer {
        guard Self.isInstalled else {
            throw Failure("PostgreSQL 15 is not installed (apt-get install postgresql; .ci/run does)")
        }
        let directory = "/tmp/decnet-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try await ProcessRunner.run("/bin/chown", ["postgres:postgres", directory])
        let data = directory + "/data"
        let initialized = try await ProcessRunner.run(
            "/usr/sbin/runuser",
            [
                "-u", "postgres", "--", Self.binaries + "/initdb", "-D", data, "-U", "decnet", "--auth=trust", "-E",
                "UTF8",
            ]
        )
        guard initialized.status == 0 else { throw Failure("initdb: \(initialized.standardError)") }
        let port = Int.random(in: 20_000...29_999)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        process.arguments = [
            "-u", "postgres", "--", Self.binaries + "/postgres", "-D", data, "-h", "127.0.0.1", "-p", String(port),
            "-k", directory, "-c", "fsync=off", "-c", "max_connections=50",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let server = PostgresServer(directory: directory, port: port, process: process)
        for _ in 0..<100 {
            let ready = try await ProcessRunner.run(
                Self.binaries + "/pg_isready",
                ["-h", "127.0.0.1", "-p", String(port), "-U", "decnet"]
            )
            if ready.status == 0 {
                let created = try await ProcessRunner.run(
                    Self.binaries + "/createdb",
                    ["-h", "127.0.0.1", "-p", String(port), "-U", "decnet", "decnet"]
                )
                guard created.status == 0 else { throw Failure("createdb: \(created.standardError)") }
                return server
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await server.stop()
        throw Failure("PostgreSQL on port \(port) did not become ready")
    }

    /// Stops the server (the runuser child and its postgres) and removes the cluster.
    public func stop() async {
        if self.process.isRunning {
            // SIGTERM to runuser reaches postgres: a smart shutdown; then the directory goes.
            self.process.terminate()
            for _ in 0..<100 where self.process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
