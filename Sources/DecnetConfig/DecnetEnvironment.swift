import Configuration
import DecnetCore
import SystemPackage

/// The `DECNET_*` settings of the seed's Environment Configuration, typed, from (first match wins) the process
/// environment, then `.env.local` in the current directory (the deployment directory `decnet init` makes), then
/// defaults.
///
/// | Variable | Default | |
/// |---|---|---|
/// | `DECNET_MODE` | `master` | `master` or `agent` |
/// | `DECNET_API_HOST` / `DECNET_API_PORT` | `127.0.0.1` / `8000` | REST API (the seed binds 0.0.0.0; see docs/config.md) |
/// | `DECNET_WEB_HOST` / `DECNET_WEB_PORT` | `127.0.0.1` / `8080` | dashboard |
/// | `DECNET_JWT_SECRET` | none | for the API (which is to refuse the seed's example value `exampleJWTSecret`) |
/// | `DECNET_ADMIN_USER` / `DECNET_ADMIN_PASSWORD` | `admin` / `admin` | first login; must be changed then |
/// | `DECNET_DB_BACKEND` | `sqlite` | `sqlite` or `postgres` |
/// | `DECNET_DB_POOL_SIZE` / `DECNET_DB_MAX_OVERFLOW` | `20` / `40` | connection pool |
/// | `DECNET_DB_HOST` / `_PORT` / `_NAME` / `_USER` / `_PASSWORD` | `127.0.0.1` / `5432` / `decnet` / `decnet` / none | PostgreSQL |
/// | `DECNET_DB_SSLMODE` | `auto` | TLS to PostgreSQL: `disable`, `require` (encrypted, not verified), `verify-ca`, `verify-full`; `auto` is `verify-full`, or `disable` for a loopback host |
/// | `DECNET_DB_SSLROOTCERT` / `_SSLCERT` / `_SSLKEY` | system roots / none / none | CA file to verify the server; client certificate and key (PEM) |
/// | `DECNET_DB_PATH` | `<state dir>/decnet.db` | SQLite file |
/// | `DECNET_INGEST_LOG_FILE` | `/var/log/decnet/decnet.log` | RFC 5424 event log |
/// | `DECNET_LOG_MAX_BYTES` / `DECNET_LOG_GENERATIONS` | `104857600` / `10` | the log's rotation (0: never / keep all) |
/// | `DECNET_TRACING` / `DECNET_EMBED_PROFILER` | `false` / `false` | |
/// | `DECNET_STATE_DIR` | `.` | where `decnet-state.json` and `docker-compose.yml` live |
/// | `DECNET_SOURCE_DIR` | current directory | checkout whose Dockerfile the Docker driver builds `decnet-swift:latest` from |
/// | `DECNET_SNIFFER` | `true` | the engine's packet layer (scan detection, attacker fingerprints) |
/// | `DECNET_SNIFFER_BUFFER_KB` | `256` | its capture ring per decky, in KiB (64 to 65536) |
/// | `DECNET_DEVELOPER` | `false` | lets the API start without a JWT secret (a random one per process) |
public struct DecnetEnvironment: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable { case master, agent }
    public enum DatabaseBackend: String, Sendable, CaseIterable { case sqlite, postgres }
    /// TLS to PostgreSQL, named as libpq's `sslmode` names them (less `allow` and `prefer`, which fall back to a
    /// connection in the clear without saying so).
    public enum DatabaseTLSMode: String, Sendable, CaseIterable {
        case auto, disable, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var mode: Mode = .master
    public var apiHost = "127.0.0.1"
    public var apiPort: Int = 8000
    public var webHost = "127.0.0.1"
    public var webPort: Int = 8080
    public var jwtSecret: String?
    public var adminUser = "admin"
    public var adminPassword = "admin"
    public var databaseBackend: DatabaseBackend = .sqlite
    public var databasePoolSize: Int = 20
    public var databaseMaxOverflow: Int = 40
    public var databaseHost = "127.0.0.1"
    public var databasePort: Int = 5432
    public var databaseName = "decnet"
    public var databaseUser = "decnet"
    public var databasePassword: String?
    public var databaseTLSMode: DatabaseTLSMode = .auto
    /// PEM files: the CA that signed the server's certificate (else the system's roots), and a client
    /// certificate with its key for a server that asks for one.
    public var databaseTLSRootCertificates: String?
    public var databaseTLSCertificate: String?
    public var databaseTLSKey: String?
    public var databasePath: String?
    public var ingestLogFile = "/var/log/decnet/decnet.log"
    /// The event log rotates past this size (0: never), keeping this many full generations (0: all).
    public var logMaxBytes: UInt64 = 100 << 20
    public var logGenerations = 10
    public var tracing = false
    public var embedProfiler = false
    public var stateDirectory = "."
    public var sourceDirectory: String?
    /// The engine's packet layer on namespace deckies.
    public var sniffer = true
    /// Its capture ring per decky, in KiB.
    public var snifferBufferKB = 256
    /// Developer mode: the API starts without `DECNET_JWT_SECRET` (a random key per process) instead of refusing.
    public var developer = false

    /// The seed's example secret, refused wherever a real secret is needed.
    public static let exampleJWTSecret = "supersecretkey12345"

    public init() {}

    /// Every variable this type reads, for docs and for spotting typos.
    public static let variables: [String] = [
        "DECNET_MODE", "DECNET_API_HOST", "DECNET_API_PORT", "DECNET_WEB_HOST", "DECNET_WEB_PORT",
        "DECNET_JWT_SECRET", "DECNET_ADMIN_USER", "DECNET_ADMIN_PASSWORD", "DECNET_DB_BACKEND",
        "DECNET_DB_POOL_SIZE", "DECNET_DB_MAX_OVERFLOW", "DECNET_DB_HOST", "DECNET_DB_PORT", "DECNET_DB_NAME",
        "DECNET_DB_USER", "DECNET_DB_PASSWORD", "DECNET_DB_SSLMODE", "DECNET_DB_SSLROOTCERT", "DECNET_DB_SSLCERT",
        "DECNET_DB_SSLKEY", "DECNET_DB_PATH", "DECNET_INGEST_LOG_FILE", "DECNET_LOG_MAX_BYTES",
        "DECNET_LOG_GENERATIONS", "DECNET_TRACING",
        "DECNET_EMBED_PROFILER", "DECNET_STATE_DIR", "DECNET_SOURCE_DIR", "DECNET_DEVELOPER", "DECNET_SNIFFER",
        "DECNET_SNIFFER_BUFFER_KB",
    ]

    /// Loads from `environment` (the process's by default) and the `.env.local` file beside it, if any.
    /// - Throws: `ConfigurationError` naming every variable whose value is unusable.
    public static func load(
        environment: [String: String],
        environmentFile: String? = ".env.local"
    ) async throws -> DecnetEnvironment {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(Self.secrets))
        ]
        if let environmentFile {
            do {
                providers.append(
                    try await EnvironmentVariablesProvider(
                        environmentFilePath: FilePath(environmentFile),
                        allowMissing: true,
                        secretsSpecifier: .specific(Self.secrets)
                    )
                )
            } catch {
                throw ConfigurationError([Diagnostic(.environment, key: environmentFile, "cannot be read: \(error)")])
            }
        }
        return try Self(reader: ConfigReader(providers: providers))
    }

    static let secrets: Set<String> = ["DECNET_JWT_SECRET", "DECNET_ADMIN_PASSWORD", "DECNET_DB_PASSWORD"]

    /// Reads every setting through `reader` (keys `decnet.api.port` → `DECNET_API_PORT`).
    public init(reader: ConfigReader) throws {
        var parser = ValueParser(reader: reader.scoped(to: "decnet"))
        var result = DecnetEnvironment()
        result.mode = parser.choice("mode", default: result.mode)
        result.apiHost = parser.host("api.host", default: result.apiHost)
        result.apiPort = parser.port("api.port", default: result.apiPort)
        result.webHost = parser.host("web.host", default: result.webHost)
        result.webPort = parser.port("web.port", default: result.webPort)
        result.jwtSecret = parser.text("jwt.secret", secret: true)
        result.adminUser = parser.text("admin.user") ?? result.adminUser
        result.adminPassword = parser.text("admin.password", secret: true) ?? result.adminPassword
        result.databaseBackend = parser.choice("db.backend", default: result.databaseBackend)
        result.databasePoolSize = parser.integer("db.pool.size", range: 1...1000, default: result.databasePoolSize)
        result.databaseMaxOverflow = parser.integer(
            "db.max.overflow",
            range: 0...1000,
            default: result.databaseMaxOverflow
        )
        result.databaseHost = parser.text("db.host") ?? result.databaseHost
        result.databasePort = parser.port("db.port", default: result.databasePort)
        result.databaseName = parser.text("db.name") ?? result.databaseName
        result.databaseUser = parser.text("db.user") ?? result.databaseUser
        result.databasePassword = parser.text("db.password", secret: true)
        result.databaseTLSMode = parser.choice("db.sslmode", default: result.databaseTLSMode)
        result.databaseTLSRootCertificates = parser.text("db.sslrootcert")
        result.databaseTLSCertificate = parser.text("db.sslcert")
        result.databaseTLSKey = parser.text("db.sslkey")
        if (result.databaseTLSCertificate == nil) != (result.databaseTLSKey == nil) {
            parser.fail(
                result.databaseTLSKey == nil ? "db.sslkey" : "db.sslcert",
                "a client certificate needs its key: set both DECNET_DB_SSLCERT and DECNET_DB_SSLKEY, or neither"
            )
        }
        result.databasePath = parser.text("db.path")
        result.ingestLogFile = parser.text("ingest.log.file") ?? result.ingestLogFile
        result.logMaxBytes = UInt64(
            parser.integer("log.max.bytes", range: 0...(1 << 50), default: Int(result.logMaxBytes))
        )
        result.logGenerations = parser.integer("log.generations", range: 0...100_000, default: result.logGenerations)
        result.tracing = parser.flag("tracing", default: result.tracing)
        result.embedProfiler = parser.flag("embed.profiler", default: result.embedProfiler)
        result.stateDirectory = parser.text("state.dir") ?? result.stateDirectory
        result.sourceDirectory = parser.text("source.dir")
        result.developer = parser.flag("developer", default: result.developer)
        result.sniffer = parser.flag("sniffer", default: result.sniffer)
        result.snifferBufferKB = parser.integer("sniffer.buffer.kb", range: 64...65536, default: result.snifferBufferKB)
        if !parser.diagnostics.isEmpty { throw ConfigurationError(parser.diagnostics) }
        self = result
    }

    /// Where `decnet listener` writes the events it receives (beside the event log), for the workers to ingest.
    public var receivedLogFile: String {
        guard let slash = self.ingestLogFile.lastIndex(of: "/") else { return "decnet-received.log" }
        return self.ingestLogFile[...slash] + "decnet-received.log"
    }

    /// How the event log rotates.
    public var logRotation: RotatingLogFile.Policy {
        RotatingLogFile.Policy(maxBytes: self.logMaxBytes, generations: self.logGenerations)
    }

    /// `DECNET_DB_SSLMODE` with `auto` decided: `verify-full`, or `disable` for a loopback host (the connection
    /// never leaves the machine).
    public var resolvedDatabaseTLSMode: DatabaseTLSMode {
        guard self.databaseTLSMode == .auto else { return self.databaseTLSMode }
        let loopback = self.databaseHost == "localhost" || self.databaseHost.hasPrefix("127.")
        return loopback ? .disable : .verifyFull
    }

    /// The SQLite file: `DECNET_DB_PATH`, else `decnet.db` in the state directory.
    public var resolvedDatabasePath: String { self.databasePath ?? self.stateDirectory + "/decnet.db" }
}

/// Reads strings through a `ConfigReader` and converts them here, so that a bad value is an error naming the
/// variable rather than a silent fall-back to the default.
private struct ValueParser {
    let reader: ConfigReader
    var diagnostics: [Diagnostic] = []

    init(reader: ConfigReader) { self.reader = reader }

    static func variable(_ key: String) -> String {
        "DECNET_" + key.uppercased().map { $0 == "." ? "_" : $0 }
    }

    mutating func fail(_ key: String, _ message: String) {
        self.diagnostics.append(Diagnostic(.environment, key: Self.variable(key), message))
    }

    func text(_ key: String, secret: Bool = false) -> String? {
        guard let value = self.reader.string(forKey: ConfigKey(key), isSecret: secret) else { return nil }
        let trimmed = value.trimmingWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    mutating func integer(_ key: String, range: ClosedRange<Int>, default value: Int) -> Int {
        guard let text = self.text(key) else { return value }
        guard let number = Int(text), range.contains(number) else {
            self.fail(
                key,
                "'\(text)' is out of range; expected a whole number from \(range.lowerBound) to \(range.upperBound)"
            )
            return value
        }
        return number
    }

    mutating func port(_ key: String, default value: Int) -> Int {
        self.integer(key, range: 1...65535, default: value)
    }

    mutating func host(_ key: String, default value: String) -> String {
        guard let text = self.text(key) else { return value }
        guard IPv4Address(text) != nil || InputSyntax.isHostname(text) else {
            self.fail(key, "'\(text)' is not an address; expected an IPv4 address or hostname, e.g. 127.0.0.1")
            return value
        }
        return text
    }

    mutating func flag(_ key: String, default value: Bool) -> Bool {
        guard let text = self.text(key) else { return value }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            self.fail(key, "'\(text)' is not a yes/no value; expected true or false")
            return value
        }
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, default value: T) -> T
    where T.RawValue == String {
        guard let text = self.text(key) else { return value }
        if let parsed = T(rawValue: text.lowercased()) { return parsed }
        let expected = T.allCases.map(\.rawValue).joined(separator: " or ")
        if key == "db.backend" && text.lowercased() == "mysql" {
            self.fail(
                key,
                "mysql is the seed's shared store; DECNET-Swift uses PostgreSQL for that: expected \(expected)"
            )
        } else {
            self.fail(key, "'\(text)' is not recognised; expected \(expected)")
        }
        return value
    }
}
