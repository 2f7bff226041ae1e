import DecnetCore
import Foundation
import GRDB

/// The embedded store: one SQLite file (WAL, so readers never wait for the ingester) under the state directory,
/// through GRDB.
public final class SQLiteEventStore: EventStore {
    public let path: String
    let pool: DatabasePool

    /// The ingester's page cache per connection: see `init`.
    public static let ingestPageCache = 64 << 20

    /// - Parameter pageCacheBytes: SQLite's page cache per connection. The ingester wants the hot pages of the
    ///   uuid index at hand (64 MiB); a reader such as the API, with a pool of connections, does well with less.
    public init(path: String, pageCacheBytes: Int = SQLiteEventStore.ingestPageCache) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // WAL (DatabasePool's mode) with NORMAL sync: a committed batch survives a crash of the process;
            // a power loss may lose the last batches, which the cursor then reads again.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The uuid index takes inserts at random places: with SQLite's default 2 MiB page cache most of
            // them read their page back from the kernel. The ingester's 64 MiB cache and the file mapped (reads without a
            // copy) keep the hot pages at hand.
            try db.execute(sql: "PRAGMA cache_size = -\(max(1, pageCacheBytes >> 10))")
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        self.pool = try DatabasePool(path: path, configuration: configuration)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: logs, bounty, attackers, ingest cursor") { db in
            try db.execute(
                sql: """
                    CREATE TABLE logs (
                        id INTEGER PRIMARY KEY,
                        uuid TEXT NOT NULL UNIQUE,
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
                        fields TEXT NOT NULL,
                        raw TEXT NOT NULL
                    );
                    CREATE INDEX logs_timestamp ON logs (timestamp);
                    CREATE INDEX logs_attacker ON logs (attacker_ip, timestamp);
                    CREATE INDEX logs_event_type ON logs (event_type, timestamp);
                    CREATE TABLE bounty (
                        id INTEGER PRIMARY KEY,
                        log_uuid TEXT NOT NULL UNIQUE REFERENCES logs (uuid),
                        timestamp TEXT NOT NULL,
                        bounty_type TEXT NOT NULL,
                        attacker_ip TEXT NOT NULL,
                        decky TEXT NOT NULL,
                        service TEXT NOT NULL,
                        payload TEXT NOT NULL
                    );
                    CREATE INDEX bounty_attacker ON bounty (attacker_ip);
                    CREATE TABLE attackers (
                        ip TEXT PRIMARY KEY,
                        uuid TEXT NOT NULL UNIQUE,
                        first_seen TEXT NOT NULL,
                        last_seen TEXT NOT NULL,
                        event_count INTEGER NOT NULL,
                        login_attempts INTEGER NOT NULL,
                        credential_count INTEGER NOT NULL,
                        command_count INTEGER NOT NULL,
                        is_traversal INTEGER NOT NULL,
                        traversal_path TEXT NOT NULL,
                        deckies TEXT NOT NULL,
                        services TEXT NOT NULL,
                        fingerprints TEXT NOT NULL,
                        commands TEXT NOT NULL
                    );
                    CREATE TABLE ingest_cursor (
                        path TEXT PRIMARY KEY,
                        inode INTEGER NOT NULL,
                        offset INTEGER NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v2: API users") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        username TEXT PRIMARY KEY,
                        password_hash TEXT NOT NULL,
                        role TEXT NOT NULL,
                        must_change_password INTEGER NOT NULL,
                        token_version INTEGER NOT NULL,
                        created_at TEXT NOT NULL
                    )
                    """
            )
        }
        return migrator
    }

    public func migrate() async throws { try Self.migrator.migrate(self.pool) }

    public func reset() async throws {
        try await self.pool.write { db in
            for table in ["bounty", "logs", "attackers", "ingest_cursor", "users", "grdb_migrations"] {
                try db.execute(sql: "DROP TABLE IF EXISTS \(table)")
            }
        }
        try await self.migrate()
    }

    public func ingest(_ entries: [LogEntry], cursor: IngestCursor?) async throws -> IngestResult {
        try await self.pool.write { db in
            var result = IngestResult()
            var fresh: [HoneypotEvent] = []
            let insertLog = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO logs (uuid, timestamp, decky, hostname, service, event_type, session,
                        attacker_ip, attacker_port, decky_ip, decky_port, fields, raw)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            for entry in entries {
                let event = entry.event
                try insertLog.execute(arguments: [
                    event.uuid.uuidString.lowercased(), RFC5424Formatter.timestamp(event.time), event.decky,
                    event.hostname, event.service.rawValue, event.id.rawValue, event.session, event.source.ip,
                    event.source.port, event.destination.ip, event.destination.port, event.fieldsJSON, entry.line,
                ])
                if db.changesCount == 1 {
                    result.inserted += 1
                    fresh.append(event)
                } else {
                    result.duplicates += 1
                }
            }
            let insertBounty = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO bounty (log_uuid, timestamp, bounty_type, attacker_ip, decky, service,
                        payload) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
            )
            for event in fresh {
                guard let bounty = Bounty.from(event) else { continue }
                try insertBounty.execute(arguments: [
                    bounty.eventUUID.uuidString.lowercased(), RFC5424Formatter.timestamp(bounty.time), bounty.kind,
                    bounty.attackerIP, bounty.decky, bounty.service, JSONText.object(bounty.payload),
                ])
            }
            try Self.upsertAttackers(fresh, db)
            result.fresh = fresh
            if let cursor {
                try db.execute(
                    sql: """
                        INSERT INTO ingest_cursor (path, inode, offset) VALUES (?, ?, ?)
                        ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, offset = excluded.offset
                        """,
                    arguments: [cursor.path, Int64(bitPattern: cursor.inode), Int64(cursor.offset)]
                )
            }
            return result
        }
    }

    /// Reads each touched attacker once, folds the batch's events in, writes each once.
    private static func upsertAttackers(_ events: [HoneypotEvent], _ db: Database) throws {
        guard !events.isEmpty else { return }
        var known: [String: StoredAttacker] = [:]
        for ip in Set(events.map(\.source.ip)) {
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM attackers WHERE ip = ?", arguments: [ip]),
                let profile = Self.profile(row)
            {
                known[ip] = StoredAttacker(uuid: row["uuid"], profile: profile)
            }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO attackers (ip, uuid, first_seen, last_seen, event_count, login_attempts,
                    credential_count, command_count, is_traversal, traversal_path, deckies, services, fingerprints,
                    commands)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                \(StoredAttacker.upsertClause)
                """
        )
        for attacker in StoredAttacker.fold(events, into: known) {
            let row = attacker.columns
            try upsert.execute(arguments: [
                row.ip, row.uuid, row.firstSeen, row.lastSeen, row.eventCount, row.loginAttempts,
                row.credentialCount, row.commandCount, row.isTraversal, row.traversalPath, row.deckies, row.services,
                row.fingerprints, row.commands,
            ])
        }
    }

    static func profile(_ row: Row) -> AttackerProfile? {
        guard let first = RFC5424Parser.time(row["first_seen"]), let last = RFC5424Parser.time(row["last_seen"])
        else { return nil }
        return AttackerProfile(
            ip: row["ip"],
            firstSeen: first,
            lastSeen: last,
            eventCount: row["event_count"],
            loginAttempts: row["login_attempts"],
            credentialCount: row["credential_count"],
            commandCount: row["command_count"],
            deckies: JSONText.decode([String].self, row["deckies"]) ?? [],
            services: JSONText.decode([String].self, row["services"]) ?? [],
            traversalPath: row["traversal_path"],
            fingerprints: JSONText.decode([String: [String]].self, row["fingerprints"]) ?? [:],
            commands: JSONText.decode([String].self, row["commands"]) ?? []
        )
    }

    public func cursor(for path: String) async throws -> IngestCursor? {
        try await self.pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM ingest_cursor WHERE path = ?", arguments: [path])
            else { return nil }
            let inode: Int64 = row["inode"]
            let offset: Int64 = row["offset"]
            return IngestCursor(path: path, inode: UInt64(bitPattern: inode), offset: UInt64(offset))
        }
    }

    public func logs(_ query: LogQuery) async throws -> [HoneypotEvent] {
        var (filter, arguments) = Self.filter(query)
        arguments.append(max(0, min(query.limit, LogQuery.maximumLimit)).databaseValue)
        arguments.append(max(0, query.offset).databaseValue)
        let bound = arguments
        let sql = "SELECT raw FROM logs \(filter) ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?"
        return try await self.pool.read { db in
            try String.fetchAll(db, sql: sql, arguments: StatementArguments(bound)).compactMap {
                try? RFC5424Parser.event(from: $0)
            }
        }
    }

    /// The WHERE clause of a log query and its arguments.
    static func filter(_ query: LogQuery) -> (String, [DatabaseValue]) {
        // The seed's JSON_EXTRACT filter; the name goes into the path as a bound value, quotes removed.
        let conditions = query.conditions { _ in "json_extract(fields, '$.\"' || replace(?, '\"', '') || '\"') = ?" }
        return Self.whereClause(conditions)
    }

    static func whereClause(_ conditions: [(sql: String, values: [String])]) -> (String, [DatabaseValue]) {
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.map(\.sql).joined(separator: " AND ")
        return (filter, conditions.flatMap(\.values).map(\.databaseValue))
    }

    public func attackers() async throws -> [AttackerProfile] {
        try await self.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM attackers ORDER BY last_seen DESC").compactMap(Self.profile)
        }
    }

    public func attacker(ip: String) async throws -> AttackerProfile? {
        try await self.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM attackers WHERE ip = ?", arguments: [ip]).flatMap(Self.profile)
        }
    }

    public func counts() async throws -> [String: Int] {
        try await self.pool.read { db in
            var counts: [String: Int] = [:]
            for table in ["logs", "bounty", "attackers"] {
                counts[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
            }
            return counts
        }
    }
}
