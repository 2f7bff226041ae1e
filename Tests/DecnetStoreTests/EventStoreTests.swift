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
            return try PostgresEventStore(
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

    /// A batch out of time order (late events from another host's log) folds into the attacker as the same
    /// events in order would: its path and commands in time order, its first and last sighting the earliest and
    /// the latest.
    @Test(arguments: StoreHarness.Backend.available)
    func aBatchOutOfTimeOrderFoldsAsInOrder(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { harness in
            let store = try harness.open()
            try await store.migrate()
            var events = Self.scenario()
            events.insert(events.remove(at: 6), at: 0)  // db-01's login (second 10) first: in this order the
            // path would be "db-01 -> web-01"
            _ = try await store.ingest(events.map(LogEntry.init), cursor: nil)
            let attacker = try #require(try await store.attacker(ip: "10.77.0.254"))
            #expect(attacker.traversalPath == "web-01 -> db-01 -> web-01")
            #expect(attacker.commands == ["uname -a"] && attacker.eventCount == 8)
            #expect(attacker.firstSeen == Self.start && attacker.lastSeen == Self.start.addingTimeInterval(20))
        }
    }

    /// The packet layer's scan reports and SYN fingerprint land on the attacker like any event: its TCP
    /// fingerprint beside its TLS and SSH ones, the scan in its path.
    @Test(arguments: StoreHarness.Backend.available)
    func theAttackersTCPFingerprintAndScansAreStored(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { harness in
            let store = try harness.open()
            try await store.migrate()
            let events = [
                Self.event(
                    .clientFingerprint,
                    from: "10.77.0.66",
                    at: "web-01",
                    second: 0,
                    service: "sniffer",
                    [
                        ("client", "Linux"), ("ja4t", "64240_2-4-8-1-3_1460_10"),
                        ("tcp_signature", "4:64+0:0:1460:mss*44,10:mss,sok,ts,nop,ws:df,id+:0"), ("os_guess", "Linux"),
                    ]
                ),
                Self.event(
                    .scanDetected,
                    from: "10.77.0.66",
                    at: "web-01",
                    second: 1,
                    service: "sniffer",
                    [("scan_id", "0123456789ab"), ("scan_type", "tcp_syn")]
                ),
                Self.event(
                    .scanDetected,
                    from: "10.77.0.66",
                    at: "db-01",
                    second: 1.5,
                    service: "sniffer",
                    [("scan_id", "0123456789ab"), ("scan_type", "tcp_syn")]
                ),
            ]
            _ = try await store.ingest(events.map(LogEntry.init), cursor: nil)
            let attacker = try #require(try await store.attacker(ip: "10.77.0.66"))
            #expect(attacker.fingerprints["ja4t"] == ["64240_2-4-8-1-3_1460_10"])
            #expect(attacker.fingerprints["os_guess"] == ["Linux"])
            #expect(attacker.fingerprints["tcp_signature"]?.count == 1)
            #expect(attacker.traversalPath == "web-01 -> db-01")
            let bounty = try await store.bounty(attackerIP: "10.77.0.66", limit: 10)
            #expect(bounty.map(\.kind) == ["fingerprint"])
        }
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

/// What the API reads, on both backends: counts and histograms under the same filters, pages of attackers,
/// bounty, totals, and the API's users.
@Suite struct APIQueryStoreTests {
    @Test(arguments: StoreHarness.Backend.available)
    func theAPIQueriesAgreeOnBothBackends(_ backend: StoreHarness.Backend) async throws {
        try await StoreHarness.with(backend) { try await Self.queries(try $0.open()) }
    }

    static func queries(_ store: any EventStore) async throws {
        try await store.migrate()
        let start = EventStoreTests.start
        _ = try await store.ingest(EventStoreTests.scenario().map(LogEntry.init), cursor: nil)

        #expect(try await store.countLogs(LogQuery()) == 9)
        #expect(try await store.countLogs(LogQuery(fields: ["username": "root"])) == 2)
        #expect(try await store.countLogs(LogQuery(since: start.addingTimeInterval(10))) == 3)
        #expect(try await store.countLogs(LogQuery(until: start.addingTimeInterval(2))) == 3)
        #expect(try await store.countLogs(LogQuery(decky: "db-01", service: "mysql")) == 1)
        let window = try await store.logs(
            LogQuery(since: start.addingTimeInterval(1), until: start.addingTimeInterval(4), limit: 10)
        )
        #expect(window.map(\.id) == [.commandInput, .loginSuccess, .loginFailed])

        let buckets = try await store.histogram(LogQuery(), interval: 10)
        let base = (start.timeIntervalSince1970 / 10).rounded(.down) * 10
        let expected = Dictionary(grouping: EventStoreTests.scenario()) {
            (($0.time.timeIntervalSince1970 / 10).rounded(.down) * 10)
        }.mapValues(\.count)
        #expect(buckets.map(\.time.timeIntervalSince1970) == expected.keys.sorted())
        #expect(buckets.map(\.count) == expected.keys.sorted().map { expected[$0]! })
        #expect(buckets.first?.time.timeIntervalSince1970 == base)
        #expect(try await store.histogram(LogQuery(eventType: .loginFailed), interval: 3600).map(\.count) == [2])

        let all = try await store.attackers(AttackerQuery())
        #expect(all.total == 2 && all.items.map(\.ip) == ["10.77.0.254", "10.77.0.99"])
        #expect(try await store.attackers(AttackerQuery(search: ".99")).items.map(\.ip) == ["10.77.0.99"])
        #expect(try await store.attackers(AttackerQuery(search: "_")).total == 0)
        #expect(try await store.attackers(AttackerQuery(service: "mysql")).items.map(\.ip) == ["10.77.0.254"])
        #expect(try await store.attackers(AttackerQuery(decky: "db-01")).total == 2)
        #expect(try await store.attackers(AttackerQuery(traversalOnly: true)).items.map(\.ip) == ["10.77.0.254"])
        let paged = try await store.attackers(AttackerQuery(sort: .events, limit: 1, offset: 1))
        #expect(paged.total == 2 && paged.items.map(\.ip) == ["10.77.0.99"])

        let bounty = try await store.bounty(attackerIP: "10.77.0.254", limit: 100)
        #expect(bounty.count == 5)
        #expect(bounty.first?.kind == "credential" && bounty.first?.payload["username"] == "sa")
        #expect(bounty.contains { $0.kind == "download" && $0.payload["tool"] == "wget" })
        #expect(
            Set(bounty.filter { $0.kind == "credential" }.compactMap { $0.payload["password"] }) == ["123456", "toor"]
        )

        let statistics = try await store.statistics(now: start.addingTimeInterval(60))
        #expect(statistics.events == 9 && statistics.attackers == 2 && statistics.credentials == 3)
        #expect(statistics.eventsLastHour == 9 && statistics.attackersToday == 2 && statistics.traversals == 1)
        let later = try await store.statistics(now: start.addingTimeInterval(2 * 86_400))
        #expect(later.eventsLastHour == 0 && later.attackersToday == 0 && later.events == 9)

        let admin = APIUser(username: "admin", passwordHash: "$2b$04$hash", role: .admin, mustChangePassword: true)
        #expect(try await store.createUser(admin))
        #expect(!(try await store.createUser(admin)))
        var changed = try #require(try await store.user(named: "admin"))
        #expect(changed.role == .admin && changed.mustChangePassword && changed.tokenVersion == 1)
        changed.passwordHash = "$2b$04$other"
        changed.mustChangePassword = false
        changed.tokenVersion = 2
        try await store.updateUser(changed)
        #expect(try await store.user(named: "admin") == changed)
        #expect(
            try await store.createUser(
                APIUser(username: "ana", passwordHash: "h", role: .viewer, mustChangePassword: true)
            )
        )
        #expect(try await store.users().map(\.username) == ["admin", "ana"])
        #expect(try await store.deleteUser(named: "ana"))
        #expect(!(try await store.deleteUser(named: "ana")))
        #expect(try await store.user(named: "ana") == nil)
    }
}
