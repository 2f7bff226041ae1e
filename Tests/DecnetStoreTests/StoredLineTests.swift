import DecnetCore
import DecnetTesting
import Foundation
import GRDB
import Testing

@testable import DecnetStore

/// SQLite keeps an event's line only when its columns would not render it again byte for byte; either way, what
/// the store gives back is the event and the line as the log held them.
@Suite struct StoredLineTests {
    /// Lines of every kind: the formatter's own, a late event's, one with a repeated field name, one another
    /// writer changed (an SD-ELEMENT of its own, another MSG), and one with attacker text that needs escapes.
    static func lines() -> (kept: [String], rendered: [String]) {
        let base = EventStoreTests.event(
            .loginFailed,
            from: "10.77.0.254",
            at: "web-01",
            second: 1,
            [("username", "root"), ("password", "12\"34]\\56"), ("method", "password")]
        )
        var late = base
        late.uuid = .timeOrdered()
        late.late = true
        var repeated = base
        repeated.uuid = .timeOrdered()
        repeated.fields = [EventField("header", "a"), EventField("header", "b")]
        var foreign = base
        foreign.uuid = .timeOrdered()
        let foreignLine = RFC5424Formatter.line(for: foreign)
            .replacingOccurrences(of: "] login.failed", with: "][origin ip=\"10.77.0.1\"] relayed")
        var command = EventStoreTests.event(.commandInput, from: "10.77.0.99", at: "db-01", second: 2)
        command.fields = [EventField("command", "echo \u{1}\"x\" ] ünï 🐍"), EventField("args", "")]
        return (
            [late, repeated].map { RFC5424Formatter.line(for: $0) } + [foreignLine],
            [base, command].map { RFC5424Formatter.line(for: $0) }
        )
    }

    @Test(arguments: StoreHarness.Backend.available)
    func whatComesBackIsWhatTheLogHeld(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { harness in
            let store = try harness.open()
            try await store.migrate()
            let (kept, rendered) = Self.lines()
            let entries = try (kept + rendered).map { LogEntry(event: try RFC5424Parser.event(from: $0), line: $0) }
            #expect(entries.map(\.line) == kept + rendered)
            #expect(entries.map { $0.row.raw != nil } == kept.map { _ in true } + rendered.map { _ in false })
            let result = try await store.ingest(entries, cursor: nil)
            #expect(result.inserted == entries.count)
            let stored = try await store.logs(LogQuery())
            for entry in entries {
                let back = try #require(stored.first { $0.uuid == entry.event.uuid })
                #expect(back == entry.event, "\(entry.line)")
            }
            guard harness.backend == .sqlite else { return }
            // In the file: the line where it was needed, nothing where the columns render it.
            let database = try DatabaseQueue(path: harness.directory.url.appendingPathComponent("decnet.db").path)
            let raws = try await database.read { db in
                try Row.fetchAll(db, sql: "SELECT uuid, raw FROM logs").map {
                    ($0["uuid"] as String, $0["raw"] as String?)
                }
            }
            for entry in entries {
                let raw = try #require(raws.first { $0.0 == entry.event.uuid.lowercasedText })
                #expect(raw.1 == entry.row.raw)
            }
        }
    }

    /// The writer binds each row's text from one arena (`BindArena`): values larger than its block, rows that
    /// make it grow midway, and empty values must all come back exactly.
    @Test func valuesOfEverySizeComeBackExactly() async throws {
        try await StoreHarness.with(.sqlite) { harness in
            let store = try harness.open()
            try await store.migrate()
            let sizes = [0, 1, 15, 16, 300, 16 * 1024 - 1, 16 * 1024, 40_000, 7, 100_000, 3]
            let entries = try sizes.enumerated().map { index, size in
                let text = String((0..<size).map { Character(UnicodeScalar(UInt8(0x61 + ($0 + index) % 26))) })
                let event = EventStoreTests.event(
                    .commandInput,
                    from: "10.77.0.\(index + 1)",
                    at: "db-01",
                    second: Double(index),
                    [("command", text), ("args", ""), ("tail", String(repeating: "ü", count: index))]
                )
                let line = RFC5424Formatter.line(for: event)
                return LogEntry(event: try RFC5424Parser.event(from: line), line: line)
            }
            #expect(try await store.ingest(entries, cursor: nil).inserted == entries.count)
            let stored = try await store.logs(LogQuery())
            for entry in entries {
                let back = try #require(stored.first { $0.uuid == entry.event.uuid })
                #expect(back == entry.event)
            }
        }
    }

    @Test func theArenasCopiesOutliveItsGrowthUntilReset() {
        let arena = BindArena(capacity: 8)
        var copies: [(UnsafeRawPointer, [UInt8])] = []
        for size in [3, 5, 1, 20, 2, 64, 9] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 + size) }
            let copy = bytes.withUnsafeBytes { arena.copy($0) }
            copies.append((copy, bytes))
        }
        for (pointer, bytes) in copies {
            #expect(Array(UnsafeRawBufferPointer(start: pointer, count: bytes.count)) == bytes)
        }
        arena.reset()
        let again = [UInt8](repeating: 0xAB, count: 100)
        let copy = again.withUnsafeBytes { arena.copy($0) }
        #expect(Array(UnsafeRawBufferPointer(start: copy, count: 100)) == again)
    }

    @Test func bountyPayloadsAreWhatTheDictionaryWouldGive() {
        for event in EventStoreTests.scenario() {
            let row = Bounty.row(for: event)
            let bounty = Bounty.from(event)
            #expect(row?.kind == bounty?.kind)
            #expect(row?.payload == bounty.map { JSONText.object($0.payload) })
        }
    }

    /// A database the previous version wrote (schema v2, every line kept, a unique bounty index) is upgraded
    /// with its rows, and then takes lines without keeping them.
    @Test func aVersion2DatabaseIsUpgradedWithItsRows() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("decnet.db").path
        let events = EventStoreTests.scenario()
        let event = events[2]
        let line = RFC5424Formatter.line(for: event)
        do {
            let old = try DatabaseQueue(path: path)
            try await old.write { db in
                try db.execute(sql: Self.version2Schema)
                try db.execute(
                    sql: """
                        INSERT INTO logs (uuid, timestamp, decky, hostname, service, event_type, session, attacker_ip,
                            attacker_port, decky_ip, decky_port, fields, raw)
                        VALUES (?, ?, 'web-01', 'web-01', 'ssh', 'login.failed', ?, '10.77.0.254', 40000, '10.77.0.10',
                            22, '{"password":"123456","username":"root"}', ?);
                        INSERT INTO bounty (log_uuid, timestamp, bounty_type, attacker_ip, decky, service, payload)
                        VALUES (?, ?, 'credential', '10.77.0.254', 'web-01', 'ssh', '{}');
                        """,
                    arguments: [
                        event.uuid.lowercasedText, RFC5424Formatter.timestamp(event.time), event.session, line,
                        event.uuid.lowercasedText, RFC5424Formatter.timestamp(event.time),
                    ]
                )
            }
            try old.close()
        }
        let store = try SQLiteEventStore(path: path)
        try await store.migrate()
        #expect(try await store.counts() == ["logs": 1, "bounty": 1, "attackers": 0])
        #expect(try await store.logs(LogQuery()) == [event])
        let more = events.map(LogEntry.init)
        let result = try await store.ingest(more, cursor: nil)
        #expect(result.inserted == more.count - 1 && result.duplicates == 1)
        #expect(try await store.counts() == ["logs": 9, "bounty": 6, "attackers": 2])
        #expect(Set(try await store.logs(LogQuery()).map(\.uuid)) == Set(more.map(\.event.uuid)))
    }

    /// What migrations v1 and v2 made (kept here as they were shipped).
    static let version2Schema = """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
        INSERT INTO grdb_migrations VALUES ('v1: logs, bounty, attackers, ingest cursor'), ('v2: API users');
        CREATE TABLE logs (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, timestamp TEXT NOT NULL,
            decky TEXT NOT NULL, hostname TEXT NOT NULL, service TEXT NOT NULL, event_type TEXT NOT NULL,
            session TEXT NOT NULL, attacker_ip TEXT NOT NULL, attacker_port INTEGER NOT NULL,
            decky_ip TEXT NOT NULL, decky_port INTEGER NOT NULL, fields TEXT NOT NULL, raw TEXT NOT NULL);
        CREATE INDEX logs_timestamp ON logs (timestamp);
        CREATE INDEX logs_attacker ON logs (attacker_ip, timestamp);
        CREATE INDEX logs_event_type ON logs (event_type, timestamp);
        CREATE TABLE bounty (id INTEGER PRIMARY KEY, log_uuid TEXT NOT NULL UNIQUE REFERENCES logs (uuid),
            timestamp TEXT NOT NULL, bounty_type TEXT NOT NULL, attacker_ip TEXT NOT NULL, decky TEXT NOT NULL,
            service TEXT NOT NULL, payload TEXT NOT NULL);
        CREATE INDEX bounty_attacker ON bounty (attacker_ip);
        CREATE TABLE attackers (ip TEXT PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL, event_count INTEGER NOT NULL, login_attempts INTEGER NOT NULL,
            credential_count INTEGER NOT NULL, command_count INTEGER NOT NULL, is_traversal INTEGER NOT NULL,
            traversal_path TEXT NOT NULL, deckies TEXT NOT NULL, services TEXT NOT NULL, fingerprints TEXT NOT NULL,
            commands TEXT NOT NULL);
        CREATE TABLE ingest_cursor (path TEXT PRIMARY KEY, inode INTEGER NOT NULL, offset INTEGER NOT NULL);
        CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
            must_change_password INTEGER NOT NULL, token_version INTEGER NOT NULL, created_at TEXT NOT NULL);
        """
}
