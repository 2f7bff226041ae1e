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

    /// What a server with TLS uses (PEM files, copied into the cluster), and whether it asks every client for a
    /// certificate (`hostssl … clientcert=verify-full`: signed by `authority`, its CN the user's name).
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var key: String
        public var authority: String
        public var requireClientCertificate: Bool

        public init(certificate: String, key: String, authority: String, requireClientCertificate: Bool) {
            self.certificate = certificate
            self.key = key
            self.authority = authority
            self.requireClientCertificate = requireClientCertificate
        }
    }

    /// - Parameter tls: TLS on, and only TLS over TCP (`hostssl`); nil: no TLS.
    public static func start(tls: TLSFiles? = nil) async throws -> PostgresServer {
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
                "UTF8", "--no-sync",
            ]
        )
        guard initialized.status == 0 else { throw Failure("initdb: \(initialized.standardError)") }
        var settings: [String] = []
        if let tls {
            for (source, name) in [(tls.certificate, "server.crt"), (tls.key, "server.key"), (tls.authority, "ca.crt")]
            {
                let target = data + "/" + name
                try FileManager.default.copyItem(atPath: source, toPath: target)
                // The server refuses a key others can read.
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target)
                _ = try await ProcessRunner.run("/bin/chown", ["postgres:postgres", target])
            }
            let clientCertificate = tls.requireClientCertificate ? " clientcert=verify-full" : ""
            try "local all all trust\nhostssl all all 127.0.0.1/32 trust\(clientCertificate)\n"
                .write(toFile: data + "/pg_hba.conf", atomically: false, encoding: .utf8)
            settings = [
                "-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key", "-c",
                "ssl_ca_file=ca.crt",
            ]
        }
        let port = Int.random(in: 20_000...29_999)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        process.arguments =
            [
                "-u", "postgres", "--", Self.binaries + "/postgres", "-D", data, "-h", "127.0.0.1", "-p", String(port),
                "-k", directory, "-c", "fsync=off", "-c", "max_connections=50",
            ] + settings
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
                // Through the UNIX socket, which needs no TLS.
                let created = try await ProcessRunner.run(
                    Self.binaries + "/createdb",
                    ["-h", directory, "-p", String(port), "-U", "decnet", "decnet"]
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
