import DecnetCore
import Foundation
import GRDB
import Synchronization

/// The embedded store: one SQLite file (WAL, so readers never wait for the ingester) under the state directory,
/// through GRDB.
public final class SQLiteEventStore: EventStore {
    public let path: String
    let pool: DatabasePool
    /// The device and inode of the file the pool opened: a store removed or replaced under an open pool goes on
    /// writing into the unlinked file, where nobody would ever read it (see `ingest`).
    private let identity: (device: UInt64, inode: UInt64)?
    /// The attacker profiles this store last wrote, by address (see `upsertAttackers`).
    private let attackerCache = Mutex<[String: StoredAttacker]>([:])
    /// Checkpoints the write-ahead log beside the writer. Every connection's WAL hook points at it, and every
    /// connection holds it (its configuration keeps the `prepareDatabase` closure that installed the hook), so it
    /// outlives them all.
    let checkpointer: WALCheckpointer

    /// The ingester's page cache per connection: see `init`.
    public static let ingestPageCache = 64 << 20
    /// Seconds a connection waits for another process's write lock before it reports the store busy.
    public static let busyTimeout: TimeInterval = 15

    /// - Parameter pageCacheBytes: SQLite's page cache per connection. The ingester wants the hot pages of the
    ///   uuid index at hand (64 MiB); a reader such as the API, with a pool of connections, does well with less.
    public convenience init(path: String, pageCacheBytes: Int = SQLiteEventStore.ingestPageCache) throws {
        try self.init(path: path, pageCacheBytes: pageCacheBytes, checkpointer: WALCheckpointer(path: path))
    }

    init(path: String, pageCacheBytes: Int, checkpointer: WALCheckpointer) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        // Processes that share the file (the workers, the API, the dashboard) wait for each other's write lock
        // instead of failing at once: at a first start the API met "database is locked" while the workers made
        // the schema.
        configuration.busyMode = .timeout(SQLiteEventStore.busyTimeout)
        configuration.prepareDatabase { db in
            // WAL (DatabasePool's mode) with NORMAL sync: a committed batch survives a crash of the process;
            // a power loss may lose the last batches, which the cursor then reads again.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The uuid index takes inserts at random places: with SQLite's default 2 MiB page cache most of
            // them read their page back from the kernel. The ingester's 64 MiB cache and the file mapped (reads without a
            // copy) keep the hot pages at hand.
            try db.execute(sql: "PRAGMA cache_size = -\(max(1, pageCacheBytes >> 10))")
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
            if let connection = db.sqliteConnection { checkpointer.install(on: connection) }
        }
        self.checkpointer = checkpointer
        self.pool = try DatabasePool(path: path, configuration: configuration)
        self.identity = Self.identity(of: path)
    }

    /// Returns when the write-ahead log's background checkpoints asked for so far have run (see
    /// `WALCheckpointer`): the end of a run that times itself includes them.
    public func settle() async {
        await self.checkpointer.settle()
    }

    static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// Throws when the store's file is no longer the one this store opened (removed, or replaced by another).
    func checkTheFileIsOurs() throws {
        guard let identity = self.identity else { return }
        guard let now = Self.identity(of: self.path) else {
            throw StoreFileGone(path: self.path, replaced: false)
        }
        if now != identity { throw StoreFileGone(path: self.path, replaced: true) }
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
        migrator.registerMigration("v3: lines kept only when needed, bounty without its uuid index") { db in
            // `raw` may be NULL: the row's columns render the line again (see `LogRow.raw`); the log file keeps
            // every line as written. A bounty row is written only with its event's first storing, in the same
            // transaction, so its unique index and foreign key checked what cannot happen, at two index
            // operations per event. SQLite alters neither in place: both tables are copied.
            try db.execute(
                sql: """
                    CREATE TABLE bounty_v3 (
                        id INTEGER PRIMARY KEY,
                        log_uuid TEXT NOT NULL,
                        timestamp TEXT NOT NULL,
                        bounty_type TEXT NOT NULL,
                        attacker_ip TEXT NOT NULL,
                        decky TEXT NOT NULL,
                        service TEXT NOT NULL,
                        payload TEXT NOT NULL
                    );
                    INSERT INTO bounty_v3 SELECT id, log_uuid, timestamp, bounty_type, attacker_ip, decky, service,
                        payload FROM bounty;
                    DROP TABLE bounty;
                    ALTER TABLE bounty_v3 RENAME TO bounty;
                    CREATE INDEX bounty_attacker ON bounty (attacker_ip);
                    CREATE TABLE logs_v3 (
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
                        raw TEXT
                    );
                    INSERT INTO logs_v3 SELECT id, uuid, timestamp, decky, hostname, service, event_type, session,
                        attacker_ip, attacker_port, decky_ip, decky_port, fields, raw FROM logs;
                    DROP TABLE logs;
                    ALTER TABLE logs_v3 RENAME TO logs;
                    CREATE INDEX logs_timestamp ON logs (timestamp);
                    CREATE INDEX logs_attacker ON logs (attacker_ip, timestamp);
                    CREATE INDEX logs_event_type ON logs (event_type, timestamp);
                    """
            )
        }
        migrator.registerMigration("v4: the intelligence stack's documents") { db in
            try db.execute(
                sql: """
                    CREATE TABLE intel (
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        body TEXT NOT NULL,
                        updated TEXT NOT NULL,
                        PRIMARY KEY (kind, key)
                    );
                    CREATE INDEX bounty_type ON bounty (bounty_type, timestamp);
                    """
            )
        }
        return migrator
    }

    public func migrate() async throws { try Self.migrator.migrate(self.pool) }

    public func reset() async throws {
        try await self.pool.write { db in
            for table in ["bounty", "logs", "attackers", "ingest_cursor", "users", "intel", "grdb_migrations"] {
                try db.execute(sql: "DROP TABLE IF EXISTS \(table)")
            }
        }
        try await self.migrate()
    }

    public func ingest(_ entries: [LogEntry], cursor: IngestCursor?) async throws -> IngestResult {
        // Stored into a file that was removed, events would be acknowledged (the cursor moved past them) and lost.
        try self.checkTheFileIsOurs()
        // The writer is the ingester's bottleneck. It reads each entry in place (no copy of an event), folds the
        // attackers as it stores, and notes which entries it stored: the events are gathered for the bus after
        // it, off its thread.
        let (stored, fresh) = try await self.pool.write { db in
            var result = IngestResult()
            var fresh: [Int] = []
            fresh.reserveCapacity(entries.count)
            let insertLog = try BoundStatement(
                db,
                sql: """
                    INSERT OR IGNORE INTO logs (uuid, timestamp, decky, hostname, service, event_type, session,
                        attacker_ip, attacker_port, decky_ip, decky_port, fields, raw)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            let insertBounty = try BoundStatement(
                db,
                sql: """
                    INSERT INTO bounty (log_uuid, timestamp, bounty_type, attacker_ip, decky, service, payload)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
            )
            var fold = AttackerFold()
            var inOrder = true
            try entries.withUnsafeBufferPointer { entries in
                for index in entries.indices {
                    insertLog.bind(1, entries[index].row.uuid)
                    insertLog.bind(2, entries[index].row.timestamp)
                    insertLog.bind(3, entries[index].event.decky)
                    insertLog.bind(4, entries[index].event.hostname)
                    insertLog.bind(5, entries[index].event.service.rawValue)
                    insertLog.bind(6, entries[index].event.id.rawValue)
                    insertLog.bind(7, entries[index].event.session)
                    insertLog.bind(8, entries[index].event.source.ip)
                    insertLog.bind(9, entries[index].event.source.port)
                    insertLog.bind(10, entries[index].event.destination.ip)
                    insertLog.bind(11, entries[index].event.destination.port)
                    insertLog.bind(12, entries[index].row.fields)
                    if let raw = entries[index].row.raw { insertLog.bind(13, raw) } else { insertLog.bindNull(13) }
                    guard try insertLog.run() == 1 else {
                        result.duplicates += 1
                        continue
                    }
                    result.inserted += 1
                    fresh.append(index)
                    // Only an event stored just now yields its bounty row, so a bounty is never written twice.
                    if let bounty = entries[index].row.bounty {
                        insertBounty.bind(1, entries[index].row.uuid)
                        insertBounty.bind(2, entries[index].row.timestamp)
                        insertBounty.bind(3, bounty.kind)
                        insertBounty.bind(4, entries[index].event.source.ip)
                        insertBounty.bind(5, entries[index].event.decky)
                        insertBounty.bind(6, entries[index].event.service.rawValue)
                        insertBounty.bind(7, bounty.payload)
                        try insertBounty.run()
                    }
                    // A batch read from the log is in time order: folded as it is stored, unless it is not.
                    inOrder = inOrder && entries[index].event.time >= fold.latest
                    if inOrder { try fold.absorb(entries[index].event) { try self.storedAttacker($0, db) } }
                }
            }
            let touched: [StoredAttacker]
            if inOrder {
                touched = fold.attackers
            } else {
                // Out of time order (a late event): the batch is sorted and folded again from the stored profiles.
                var known: [String: StoredAttacker] = [:]
                for ip in Set(fresh.map({ entries[$0].event.source.ip })) {
                    known[ip] = try self.storedAttacker(ip, db)
                }
                touched = StoredAttacker.fold(fresh.map { entries[$0].event }, into: known)
            }
            try self.writeAttackers(touched, db)
            if let cursor {
                try db.execute(
                    sql: """
                        INSERT INTO ingest_cursor (path, inode, offset) VALUES (?, ?, ?)
                        ON CONFLICT (path) DO UPDATE SET inode = excluded.inode, offset = excluded.offset
                        """,
                    arguments: [cursor.path, Int64(bitPattern: cursor.inode), Int64(cursor.offset)]
                )
            }
            return (result, fresh)
        }
        return IngestResult(inserted: stored.inserted, duplicates: stored.duplicates, batch: entries, positions: fresh)
    }

    /// An attacker's stored profile: the one this store wrote last time (`attackerCache`) when the row still
    /// holds it (same uuid and event count: every write of a profile changes its count), which spares decoding
    /// its JSON columns batch after batch; else read from its row; nil for an attacker not stored yet.
    private func storedAttacker(_ ip: String, _ db: Database) throws -> StoredAttacker? {
        if let cached = self.attackerCache.withLock({ $0[ip] }) {
            let check = try db.cachedStatement(sql: "SELECT uuid, event_count FROM attackers WHERE ip = ?")
            if let row = try Row.fetchOne(check, arguments: [ip]), row["uuid"] == cached.uuid,
                row["event_count"] == cached.profile.eventCount
            {
                return cached
            }
        }
        let read = try db.cachedStatement(sql: "SELECT * FROM attackers WHERE ip = ?")
        guard let row = try Row.fetchOne(read, arguments: [ip]), let profile = Self.profile(row) else { return nil }
        return StoredAttacker(uuid: row["uuid"], profile: profile)
    }

    /// Writes each attacker a batch touched, once, and keeps what it wrote in `attackerCache`.
    private func writeAttackers(_ written: [StoredAttacker], _ db: Database) throws {
        guard !written.isEmpty else { return }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO attackers (ip, uuid, first_seen, last_seen, event_count, login_attempts,
                    credential_count, command_count, is_traversal, traversal_path, deckies, services, fingerprints,
                    commands)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                \(StoredAttacker.upsertClause)
                """
        )
        for attacker in written {
            let row = attacker.columns
            try upsert.execute(arguments: [
                row.ip, row.uuid, row.firstSeen, row.lastSeen, row.eventCount, row.loginAttempts,
                row.credentialCount, row.commandCount, row.isTraversal, row.traversalPath, row.deckies, row.services,
                row.fingerprints, row.commands,
            ])
        }
        self.attackerCache.withLock { cache in
            if cache.count + written.count > Self.attackerCacheLimit { cache.removeAll(keepingCapacity: true) }
            for attacker in written { cache[attacker.profile.ip] = attacker }
        }
    }

    /// Profiles kept by `attackerCache` at most (about 2 KiB each at their largest).
    static let attackerCacheLimit = 20_000

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
        let sql = """
            SELECT uuid, timestamp, decky, hostname, service, event_type, session, attacker_ip, attacker_port,
                decky_ip, decky_port, fields, raw
            FROM logs \(filter) ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?
            """
        return try await self.pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(bound)).compactMap(Self.event)
        }
    }

    /// The event of a `logs` row: parsed from its line when the line was kept, made from the columns otherwise
    /// (they render that line byte for byte).
    static func event(_ row: Row) -> HoneypotEvent? {
        if let raw: String = row["raw"] { return try? RFC5424Parser.event(from: raw) }
        guard let uuid = (row["uuid"] as String?).flatMap({ UUID(canonicalText: $0.utf8) }),
            let time = RFC5424Parser.time(row["timestamp"])
        else { return nil }
        return HoneypotEvent(
            uuid: uuid,
            time: time,
            id: EventID(rawValue: row["event_type"]),
            decky: row["decky"],
            hostname: row["hostname"],
            service: ServiceKind(rawValue: row["service"]),
            session: row["session"],
            source: Endpoint(ip: row["attacker_ip"], port: row["attacker_port"]),
            destination: Endpoint(ip: row["decky_ip"], port: row["decky_port"]),
            fields: JSONText.fields(row["fields"]) ?? []
        )
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

/// The store's file was removed or replaced while the store had it open: what is written now would be lost.
public struct StoreFileGone: Error, CustomStringConvertible {
    public let path: String
    public let replaced: Bool
    public var description: String {
        "the store's file \(self.path) was \(self.replaced ? "replaced" : "removed") while it was open"
    }
}
