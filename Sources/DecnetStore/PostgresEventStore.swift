import DecnetCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// The shared store for many hosts: PostgreSQL through postgres-nio, the same tables as SQLite with the event
/// fields as JSONB. A batch is one transaction of a few statements whatever its size (arrays through `unnest`),
/// so the round trips do not grow with the batch.
public final class PostgresEventStore: EventStore {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var tls: TLS

        public init(host: String, port: Int, user: String, password: String?, database: String, tls: TLS = .disabled) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
            self.database = database
            self.tls = tls
        }
    }

    /// TLS to the server (libpq's `sslmode` and its files).
    public struct TLS: Sendable {
        public enum Verification: Sendable {
            /// Encrypted, the certificate not checked (`require`).
            case none
            /// Signed by a trusted CA (`verify-ca`).
            case chain
            /// Signed by a trusted CA and for the host connected to (`verify-full`).
            case full
        }

        /// nil: no TLS (`disable`).
        public var verification: Verification?
        /// PEM file of the CA to trust; the system's roots when nil.
        public var rootCertificates: String?
        /// PEM client certificate and key, for a server that asks for one.
        public var certificate: String?
        public var key: String?

        public static let disabled = TLS(verification: nil)

        public init(
            verification: Verification?,
            rootCertificates: String? = nil,
            certificate: String? = nil,
            key: String? = nil
        ) {
            self.verification = verification
            self.rootCertificates = rootCertificates
            self.certificate = certificate
            self.key = key
        }

        /// NIOSSL's client configuration, nil for no TLS.
        func configuration() throws -> TLSConfiguration? {
            guard let verification = self.verification else { return nil }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification =
                switch verification {
                case .none: .none
                case .chain: .noHostnameVerification
                case .full: .fullVerification
                }
            if let roots = self.rootCertificates {
                guard FileManager.default.isReadableFile(atPath: roots) else {
                    throw ConfigurationFailure("DECNET_DB_SSLROOTCERT: \(roots) cannot be read")
                }
                configuration.trustRoots = .file(roots)
            }
            if let certificate = self.certificate, let key = self.key {
                do {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map {
                        .certificate($0)
                    }
                } catch {
                    throw ConfigurationFailure("DECNET_DB_SSLCERT: \(certificate) is not a PEM certificate (\(error))")
                }
                do {
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                } catch {
                    throw ConfigurationFailure("DECNET_DB_SSLKEY: \(key) is not a PEM private key (\(error))")
                }
            }
            return configuration
        }
    }

    /// A TLS setting that cannot be used (a file missing or not PEM).
    public struct ConfigurationFailure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    let client: PostgresClient
    private let settings: Settings
    private let running: Task<Void, Never>
    let logger = Logger(label: "decnet.store.postgres")

    /// - Throws: `ConfigurationFailure` when a TLS file cannot be used; reaching the server is tried later.
    public init(_ settings: Settings) throws {
        self.settings = settings
        var configuration = PostgresClient.Configuration(
            host: settings.host,
            port: settings.port,
            username: settings.user,
            password: settings.password,
            database: settings.database,
            // Required when asked for: never a silent fall-back to the clear.
            tls: try settings.tls.configuration().map { .require($0) } ?? .disable
        )
        configuration.options.connectTimeout = .seconds(5)
        self.client = PostgresClient(configuration: configuration)
        self.running = Task { [client] in await client.run() }
    }

    deinit { self.running.cancel() }

    /// Closes the connection pool.
    public func close() async {
        self.running.cancel()
        await self.running.value
    }

    static let migrations: [(version: Int, sql: [PostgresQuery])] = [
        (
            1,
            [
                """
                CREATE TABLE logs (
                    id BIGSERIAL PRIMARY KEY,
                    uuid UUID NOT NULL UNIQUE,
                    timestamp TEXT NOT NULL,
                    decky TEXT NOT NULL,
                    hostname TEXT NOT NULL,
                    service TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    session TEXT NOT NULL,
                    attacker_ip TEXT NOT NULL,
                    attacker_port INTEGER NOT NULL,
                    decky_ip TEXT NOT NULL,
                    decky_port INTEGER NOT NULL,
                    fields JSONB NOT NULL,
                    raw TEXT NOT NULL
                )
                """,
                "CREATE INDEX logs_timestamp ON logs (timestamp)",
                "CREATE INDEX logs_attacker ON logs (attacker_ip, timestamp)",
                "CREATE INDEX logs_event_type ON logs (event_type, timestamp)",
                """
                CREATE TABLE bounty (
                    id BIGSERIAL PRIMARY KEY,
                    log_uuid UUID NOT NULL UNIQUE REFERENCES logs (uuid),
                    timestamp TEXT NOT NULL,
                    bounty_type TEXT NOT NULL,
                    attacker_ip TEXT NOT NULL,
                    decky TEXT NOT NULL,
                    service TEXT NOT NULL,
                    payload JSONB NOT NULL
                )
                """,
                "CREATE INDEX bounty_attacker ON bounty (attacker_ip)",
                """
                CREATE TABLE attackers (
                    ip TEXT PRIMARY KEY,
                    uuid UUID NOT NULL UNIQUE,
                    first_seen TEXT NOT NULL,
                    last_seen TEXT NOT NULL,
                    event_count INTEGER NOT NULL,
                    login_attempts INTEGER NOT NULL,
                    credential_count INTEGER NOT NULL,
                    command_count INTEGER NOT NULL,
                    is_traversal BOOLEAN NOT NULL,
                    traversal_path TEXT NOT NULL,
                    deckies JSONB NOT NULL,
                    services JSONB NOT NULL,
                    fingerprints JSONB NOT NULL,
                    commands JSONB NOT NULL
                )
                """,
                "CREATE TABLE ingest_cursor (path TEXT PRIMARY KEY, inode BIGINT NOT NULL, \"offset\" BIGINT NOT NULL)",
            ]
        ),
        (
            2,
            [
                """
                CREATE TABLE users (
                    username TEXT PRIMARY KEY,
                    password_hash TEXT NOT NULL,
                    role TEXT NOT NULL,
                    must_change_password BOOLEAN NOT NULL,
                    token_version INTEGER NOT NULL,
                    created_at TEXT NOT NULL
                )
                """
            ]
        ),
        (
            3,
            [
                // A bounty row is written only with its event's first storing, in the same transaction: the
                // unique index and foreign key on its event's uuid checked what cannot happen.
                "ALTER TABLE bounty DROP CONSTRAINT IF EXISTS bounty_log_uuid_fkey",
                "ALTER TABLE bounty DROP CONSTRAINT IF EXISTS bounty_log_uuid_key",
            ]
        ),
        (
            4,
            [
                // The intelligence stack's documents (see `IntelDocument`); text, since JSONB refuses the NUL an
                // attacker's password may hold.
                """
                CREATE TABLE intel (
                    kind TEXT NOT NULL,
                    key TEXT NOT NULL,
                    body TEXT NOT NULL,
                    updated TEXT NOT NULL,
                    PRIMARY KEY (kind, key)
                )
                """,
                "CREATE INDEX bounty_type ON bounty (bounty_type, timestamp)",
            ]
        ),
    ]

    /// How long the first statement may wait for the server: the pool would otherwise keep retrying a server
    /// that is not there.
    static let reachDeadline: Duration = .seconds(30)

    struct Unreachable: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `operation`, or fails with a clear message when the server does not answer in time.
    private func reaching<Result: Sendable>(
        _ operation: @escaping @Sendable () async throws -> Result
    ) async throws
        -> Result
    {
        let where_ = "\(self.settings.host):\(self.settings.port)"
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: Self.reachDeadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw Unreachable(description: "PostgreSQL at \(where_) did not answer within 30 s")
            }
            return result
        }
    }

    public func migrate() async throws {
        try await self.probe()
        try await self.reaching { try await self.applyMigrations() }
    }

    /// Connects once outside the pool, which would only retry, to say why the server cannot be used: nothing
    /// listening, no TLS offered, a certificate that fails its check, a login refused.
    func probe() async throws {
        let settings = self.settings
        let tls: PostgresConnection.Configuration.TLS
        if let configuration = try settings.tls.configuration() {
            tls = .require(try NIOSSLContext(configuration: configuration))
        } else {
            tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: settings.host,
            port: settings.port,
            username: settings.user,
            password: settings.password,
            database: settings.database,
            tls: tls
        )
        configuration.options.connectTimeout = .seconds(10)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: self.logger)
        } catch {
            throw Unreachable(
                description:
                    "PostgreSQL at \(settings.host):\(settings.port): \(Self.reason(error, host: settings.host))"
            )
        }
        try? await connection.close()
    }

    /// What went wrong in words an operator can act on (postgres-nio's own description hides the details).
    static func reason(_ error: any Error, host: String) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if error.code == .sslUnsupported {
            return "the server offers no TLS (DECNET_DB_SSLMODE=disable connects in the clear: a trusted network only)"
        }
        if let message = error.serverInfo?[.message] { return "refused by the server: \(message)" }
        if let underlying = error.underlying {
            if underlying is NIOSSLError || "\(type(of: underlying))".contains("SSL") {
                return "TLS failed (\(underlying)): the server's certificate must be signed by the CA in "
                    + "DECNET_DB_SSLROOTCERT (or a system root) and name \(host), the DECNET_DB_HOST connected to"
            }
            return "\(underlying)"
        }
        return String(reflecting: error)
    }

    private func applyMigrations() async throws {
        try await self.client.withTransaction(logger: self.logger) { connection in
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS decnet_migrations (version INTEGER PRIMARY KEY)",
                logger: self.logger
            )
            // One migrator at a time across hosts.
            try await connection.query("LOCK TABLE decnet_migrations IN EXCLUSIVE MODE", logger: self.logger)
            var applied = Set<Int>()
            for try await version in try await connection.query(
                "SELECT version FROM decnet_migrations",
                logger: self.logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.sql { try await connection.query(statement, logger: self.logger) }
                try await connection.query(
                    "INSERT INTO decnet_migrations (version) VALUES (\(migration.version))",
                    logger: self.logger
                )
            }
        }
    }

    public func reset() async throws {
        try await self.client.query(
            "DROP TABLE IF EXISTS bounty, logs, attackers, ingest_cursor, users, intel, decnet_migrations CASCADE",
            logger: self.logger
        )
        try await self.migrate()
    }

    public func ingest(_ entries: [LogEntry], cursor: IngestCursor?) async throws -> IngestResult {
        guard !entries.isEmpty || cursor != nil else { return IngestResult() }
        return try await self.client.withTransaction(logger: self.logger) { connection in
            var columns = (
                uuid: [String](), time: [String](), decky: [String](), hostname: [String](), service: [String](),
                type: [String](), session: [String](), ip: [String](), port: [Int](), deckyIP: [String](),
                deckyPort: [Int](), fields: [String](), raw: [String]()
            )
            for entry in entries {
                let event = entry.event
                columns.uuid.append(entry.row.uuid)
                columns.time.append(entry.row.timestamp)
                columns.decky.append(event.decky)
                columns.hostname.append(event.hostname)
                columns.service.append(event.service.rawValue)
                columns.type.append(event.id.rawValue)
                columns.session.append(event.session)
                columns.ip.append(event.source.ip)
                columns.port.append(event.source.port)
                columns.deckyIP.append(event.destination.ip)
                columns.deckyPort.append(event.destination.port)
                columns.fields.append(entry.row.fields)
                columns.raw.append(entry.line)
            }
            var inserted = Set<String>()
            if !entries.isEmpty {
                let rows = try await connection.query(
                    """
                    INSERT INTO logs (uuid, timestamp, decky, hostname, service, event_type, session, attacker_ip,
                        attacker_port, decky_ip, decky_port, fields, raw)
                    SELECT u::uuid, t, d, h, s, e, se, ip, p, dip, dp, f::jsonb, r
                    FROM unnest(\(columns.uuid)::text[], \(columns.time)::text[], \(columns.decky)::text[],
                        \(columns.hostname)::text[], \(columns.service)::text[], \(columns.type)::text[],
                        \(columns.session)::text[], \(columns.ip)::text[], \(columns.port)::int[],
                        \(columns.deckyIP)::text[], \(columns.deckyPort)::int[], \(columns.fields)::text[],
                        \(columns.raw)::text[]) AS x(u, t, d, h, s, e, se, ip, p, dip, dp, f, r)
                    ON CONFLICT (uuid) DO NOTHING
                    RETURNING uuid::text
                    """,
                    logger: self.logger
                )
                for try await uuid in rows.decode(String.self) { inserted.insert(uuid) }
            }
            let stored = entries.filter { inserted.contains($0.row.uuid) }
            let fresh = stored.map(\.event)
            let bounty = stored.compactMap { entry in entry.row.bounty.map { (entry, $0) } }
            if !bounty.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO bounty (log_uuid, timestamp, bounty_type, attacker_ip, decky, service, payload)
                    SELECT u::uuid, t, k, ip, d, s, p::jsonb
                    FROM unnest(\(bounty.map(\.0.row.uuid))::text[], \(bounty.map(\.0.row.timestamp))::text[],
                        \(bounty.map(\.1.kind))::text[], \(bounty.map(\.0.event.source.ip))::text[],
                        \(bounty.map(\.0.event.decky))::text[], \(bounty.map(\.0.event.service.rawValue))::text[],
                        \(bounty.map(\.1.payload))::text[])
                        AS x(u, t, k, ip, d, s, p)
                    """,
                    logger: self.logger
                )
            }
            try await Self.upsertAttackers(fresh, connection, self.logger)
            if let cursor {
                try await connection.query(
                    """
                    INSERT INTO ingest_cursor (path, inode, "offset")
                    VALUES (\(cursor.path), \(Int64(bitPattern: cursor.inode)), \(Int64(cursor.offset)))
                    ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, "offset" = excluded."offset"
                    """,
                    logger: self.logger
                )
            }
            return IngestResult(inserted: fresh.count, duplicates: entries.count - fresh.count, fresh: fresh)
        }
    }

    static let attackerColumns = """
        ip, uuid::text, first_seen, last_seen, event_count, login_attempts, credential_count, command_count,
        traversal_path, deckies::text, services::text, fingerprints::text, commands::text
        """

    typealias AttackerRow = (
        String, String, String, String, Int, Int, Int, Int, String, String, String, String, String
    )

    static func attacker(_ row: AttackerRow) -> StoredAttacker? {
        guard let first = RFC5424Parser.time(row.2), let last = RFC5424Parser.time(row.3) else { return nil }
        return StoredAttacker(
            uuid: row.1,
            profile: AttackerProfile(
                ip: row.0,
                firstSeen: first,
                lastSeen: last,
                eventCount: row.4,
                loginAttempts: row.5,
                credentialCount: row.6,
                commandCount: row.7,
                deckies: JSONText.decode([String].self, row.9) ?? [],
                services: JSONText.decode([String].self, row.10) ?? [],
                traversalPath: row.8,
                fingerprints: JSONText.decode([String: [String]].self, row.11) ?? [:],
                commands: JSONText.decode([String].self, row.12) ?? []
            )
        )
    }

    private static func upsertAttackers(
        _ events: [HoneypotEvent],
        _ connection: PostgresConnection,
        _ logger: Logger
    )
        async throws
    {
        guard !events.isEmpty else { return }
        let ips = Array(Set(events.map(\.source.ip)))
        var known: [String: StoredAttacker] = [:]
        let rows = try await connection.query(
            "SELECT \(unescaped: Self.attackerColumns) FROM attackers WHERE ip = ANY(\(ips)::text[]) FOR UPDATE",
            logger: logger
        )
        for try await row in rows.decode(AttackerRow.self) {
            if let attacker = Self.attacker(row) { known[attacker.profile.ip] = attacker }
        }
        let rowsOut = StoredAttacker.fold(events, into: known).map(\.columns)
        try await connection.query(
            """
            INSERT INTO attackers (ip, uuid, first_seen, last_seen, event_count, login_attempts, credential_count,
                command_count, is_traversal, traversal_path, deckies, services, fingerprints, commands)
            SELECT ip, u::uuid, f, l, ec, la, cc, co, tr, tp, d::jsonb, s::jsonb, fp::jsonb, c::jsonb
            FROM unnest(\(rowsOut.map(\.ip))::text[], \(rowsOut.map(\.uuid))::text[], \(rowsOut.map(\.firstSeen))::text[],
                \(rowsOut.map(\.lastSeen))::text[], \(rowsOut.map(\.eventCount))::int[],
                \(rowsOut.map(\.loginAttempts))::int[], \(rowsOut.map(\.credentialCount))::int[],
                \(rowsOut.map(\.commandCount))::int[], \(rowsOut.map(\.isTraversal))::bool[],
                \(rowsOut.map(\.traversalPath))::text[], \(rowsOut.map(\.deckies))::text[],
                \(rowsOut.map(\.services))::text[], \(rowsOut.map(\.fingerprints))::text[],
                \(rowsOut.map(\.commands))::text[]) AS x(ip, u, f, l, ec, la, cc, co, tr, tp, d, s, fp, c)
            \(unescaped: StoredAttacker.upsertClause)
            """,
            logger: logger
        )
    }

    public func cursor(for path: String) async throws -> IngestCursor? {
        let rows = try await self.client.query(
            "SELECT inode, \"offset\" FROM ingest_cursor WHERE path = \(path)",
            logger: self.logger
        )
        for try await (inode, offset) in rows.decode((Int64, Int64).self) {
            return IngestCursor(path: path, inode: UInt64(bitPattern: inode), offset: UInt64(offset))
        }
        return nil
    }

    public func logs(_ query: LogQuery) async throws -> [HoneypotEvent] {
        let (filter, bindings) = Self.filter(query)
        let limit = max(0, min(query.limit, LogQuery.maximumLimit))
        let sql = PostgresQuery(
            unsafeSQL:
                "SELECT raw FROM logs \(filter) ORDER BY timestamp DESC, id DESC LIMIT \(limit) OFFSET \(max(0, query.offset))",
            binds: bindings
        )
        var events: [HoneypotEvent] = []
        for try await raw in try await self.client.query(sql, logger: self.logger).decode(String.self) {
            if let event = try? RFC5424Parser.event(from: raw) { events.append(event) }
        }
        return events
    }

    /// The WHERE clause of a log query and its bindings.
    static func filter(_ query: LogQuery) -> (String, PostgresBindings) {
        // The seed's JSON_EXTRACT filter as JSONB's ->>; name and value are bound, never spliced.
        Self.whereClause(query.conditions { _ in "fields ->> ? = ?" })
    }

    /// Conditions written with `?` placeholders, numbered for PostgreSQL in order.
    static func whereClause(_ conditions: [(sql: String, values: [String])]) -> (String, PostgresBindings) {
        guard !conditions.isEmpty else { return ("", PostgresBindings()) }
        var bindings = PostgresBindings()
        var text = "WHERE "
        for (index, condition) in conditions.enumerated() {
            if index > 0 { text += " AND " }
            var values = condition.values.makeIterator()
            for character in condition.sql {
                if character == "?", let value = values.next() {
                    bindings.append(value)
                    text += "$\(bindings.count)"
                } else {
                    text.append(character)
                }
            }
        }
        return (text, bindings)
    }

    public func attackers() async throws -> [AttackerProfile] {
        try await self.attackerRows("SELECT \(unescaped: Self.attackerColumns) FROM attackers ORDER BY last_seen DESC")
    }

    public func attacker(ip: String) async throws -> AttackerProfile? {
        try await self.attackerRows("SELECT \(unescaped: Self.attackerColumns) FROM attackers WHERE ip = \(ip)").first
    }

    func attackerRows(_ query: PostgresQuery) async throws -> [AttackerProfile] {
        var profiles: [AttackerProfile] = []
        for try await row in try await self.client.query(query, logger: self.logger).decode(AttackerRow.self) {
            if let attacker = Self.attacker(row) { profiles.append(attacker.profile) }
        }
        return profiles
    }

    public func counts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let rows = try await self.client.query(
            "SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM bounty), (SELECT count(*) FROM attackers)",
            logger: self.logger
        )
        for try await (logs, bounty, attackers) in rows.decode((Int, Int, Int).self) {
            counts = ["logs": logs, "bounty": bounty, "attackers": attackers]
        }
        return counts
    }
}
