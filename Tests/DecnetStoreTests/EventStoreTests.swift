import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

/// A fresh store of one backend for one test: a SQLite file in a temporary directory, or a private PostgreSQL
/// server (`PostgresServer`).
struct StoreHarness {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite
        case postgres
        var testDescription: String { self.rawValue }
        /// SQLite always; PostgreSQL where a server can be started, and always under CI (where it must).
        static var available: [Backend] { PostgresServer.isUsable ? [.sqlite, .postgres] : [.sqlite] }
    }

    let backend: Backend
    let directory: TemporaryDirectory
    let server: PostgresServer?

    static func with(_ backend: Backend, _ body: (StoreHarness) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = backend == .postgres ? try await PostgresServer.start() : nil
        let harness = StoreHarness(backend: backend, directory: directory, server: server)
        do {
            try await body(harness)
        } catch {
            await server?.stop()
            throw error
        }
        await server?.stop()
    }

    /// A store on this backend's database; each call is a new client (as another process would be).
    func open() throws -> any EventStore {
        switch self.backend {
        case .sqlite:
            return try SQLiteEventStore(path: self.directory.url.appendingPathComponent("decnet.db").path)
        case .postgres:
            let server = self.server!
            return PostgresEventStore(
                PostgresEventStore.Settings(
                    host: server.host,
                    port: server.port,
                    user: server.user,
                    password: nil,
                    database: server.database
                )
            )
        }
    }
}

/// One store test suite for both backends (a real SQLite file, a real PostgreSQL server): events stored exactly
/// once, bounty and attacker aggregates as the seed describes them, queries on fields inside an event, the
/// cursor kept with the events.
@Suite struct EventStoreTests {
    static let start = Date(timeIntervalSince1970: 1_795_283_508)

    static func event(
        _ id: EventID,
        from ip: String,
        at decky: String,
        second: Double,
        service: ServiceKind = "ssh",
        _ fields: [(String, String)] = []
    ) -> HoneypotEvent {
        HoneypotEvent(
            time: Self.start.addingTimeInterval(second),
            id: id,
            decky: decky,
            hostname: decky,
            service: service,
            session: "s-\(ip)-\(decky)",
            source: Endpoint(ip: ip, port: 40000),
            destination: Endpoint(ip: "10.77.0.10", port: 22),
            fields: fields.map { EventField($0.0, $0.1) }
        )
    }

    static func scenario() -> [HoneypotEvent] {
        [
            Self.event(.connectionOpen, from: "10.77.0.254", at: "web-01", second: 0),
            Self.event(
                .clientFingerprint,
                from: "10.77.0.254",
                at: "web-01",
                second: 0.1,
                [("hassh", "472b5de333ad665af5cbf10ff892c4df"), ("client_version", "SSH-2.0-OpenSSH_9.2p1")]
            ),
            Self.event(
                .loginFailed,
                from: "10.77.0.254",
                at: "web-01",
                second: 1,
                [("username", "root"), ("password", "123456")]
            ),
            Self.event(
                .loginSuccess,
                from: "10.77.0.254",
                at: "web-01",
                second: 2,
                [("username", "root"), ("password", "toor")]
            ),
            Self.event(
                .commandInput,
                from: "10.77.0.254",
                at: "web-01",
                second: 3,
                [("command", "uname"), ("args", "-a")]
            ),
            Self.event(
                .fileDownload,
                from: "10.77.0.254",
                at: "web-01",
                second: 4,
                [("url", "http://198.51.100.7/x.sh"), ("tool", "wget")]
            ),
            Self.event(
                .loginFailed,
                from: "10.77.0.254",
                at: "db-01",
                second: 10,
                service: "mysql",
                [("username", "sa")]
            ),
            Self.event(
                .clientFingerprint,
                from: "10.77.0.99",
                at: "db-01",
                second: 11,
                service: "http",
                [("user_agent", "curl/7.88.1")]
            ),
            Self.event(.connectionOpen, from: "10.77.0.254", at: "web-01", second: 20),
        ]
    }

    @Test(arguments: StoreHarness.Backend.available)
    func eventsAreStoredOnceWithTheirBountyAndAttackers(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { try await Self.storedOnce(try $0.open()) }
    }

    static func storedOnce(_ store: any EventStore) async throws {
        try await store.migrate()
        try await store.migrate()  // idempotent
        let entries = Self.scenario().map(LogEntry.init)
        let first = try await store.ingest(entries, cursor: nil)
        #expect(first.inserted == 9 && first.duplicates == 0 && first.fresh.count == 9)
        // The same events again (a replay after a crash): nothing changes.
        let again = try await store.ingest(Array(entries.prefix(5)), cursor: nil)
        #expect(again.inserted == 0 && again.duplicates == 5 && again.fresh.isEmpty)
        #expect(try await store.counts() == ["logs": 9, "bounty": 6, "attackers": 2])

        let attacker = try #require(try await store.attacker(ip: "10.77.0.254"))
        #expect(attacker.traversalPath == "web-01 -> db-01 -> web-01")
        #expect(attacker.deckies == ["web-01", "db-01"] && attacker.isTraversal)
        #expect(attacker.services == ["ssh", "mysql"])
        #expect(attacker.eventCount == 8 && attacker.loginAttempts == 3 && attacker.credentialCount == 2)
        #expect(attacker.commands == ["uname -a"] && attacker.commandCount == 1)
        #expect(attacker.fingerprints["hassh"] == ["472b5de333ad665af5cbf10ff892c4df"])
        #expect(attacker.firstSeen == Self.start && attacker.lastSeen == Self.start.addingTimeInterval(20))
        let visitor = try #require(try await store.attacker(ip: "10.77.0.99"))
        #expect(!visitor.isTraversal && visitor.fingerprints["user_agent"] == ["curl/7.88.1"])

        // A later batch folds into the same profile.
        _ = try await store.ingest(
            [LogEntry(Self.event(.commandInput, from: "10.77.0.254", at: "db-01", second: 30, [("command", "id")]))],
            cursor: nil
        )
        let later = try #require(try await store.attacker(ip: "10.77.0.254"))
        #expect(later.traversalPath == "web-01 -> db-01 -> web-01 -> db-01" && later.commands == ["uname -a", "id"])
    }

    @Test(arguments: StoreHarness.Backend.available)
    func logsAreQueriedByFieldsInsideTheEvent(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { try await Self.queried(try $0.open()) }
    }

    static func queried(_ store: any EventStore) async throws {
        try await store.migrate()
        let events = Self.scenario()
        _ = try await store.ingest(events.map(LogEntry.init), cursor: nil)
        let roots = try await store.logs(LogQuery(fields: ["username": "root"]))
        #expect(roots.map(\.id) == [.loginSuccess, .loginFailed], "newest first")
        #expect(roots.last == events[2], "read back as it went in")
        let curl = try await store.logs(LogQuery(service: "http", fields: ["user_agent": "curl/7.88.1"]))
        #expect(curl.count == 1 && curl[0].source.ip == "10.77.0.99")
        // A hostile field name is bound as a JSON path, never spliced into the SQL.
        let hostile = try await store.logs(LogQuery(fields: ["x') OR 1=1 --": "y"]))
        #expect(hostile.isEmpty)
        let page = try await store.logs(LogQuery(attackerIP: "10.77.0.254", limit: 2, offset: 1))
        #expect(page.count == 2 && page[0].time == Self.start.addingTimeInterval(10))
    }

    @Test(arguments: StoreHarness.Backend.available)
    func theCursorIsKeptWithItsEventsAndResetEmptiesTheStore(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { harness in
            let store = try harness.open()
            try await Self.cursorKept(store, reopened: try harness.open())
        }
    }

    static func cursorKept(_ store: any EventStore, reopened: any EventStore) async throws {
        try await store.migrate()
        let cursor = IngestCursor(path: "/var/log/decnet/decnet.log", inode: 1234, offset: 5678)
        _ = try await store.ingest(Self.scenario().map(LogEntry.init), cursor: cursor)
        // Another client of the same database sees both.
        #expect(try await reopened.cursor(for: cursor.path) == cursor)
        #expect(try await reopened.counts()["logs"] == 9)
        try await reopened.reset()
        #expect(try await reopened.counts() == ["logs": 0, "bounty": 0, "attackers": 0])
        #expect(try await reopened.cursor(for: cursor.path) == nil)
    }
}
