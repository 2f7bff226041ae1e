import DecnetCore
import Foundation

/// Where the ingester's position in the event log is kept, in the same transaction as the events it covers, so a
/// restart neither skips nor repeats a line.
public struct IngestCursor: Sendable, Equatable {
    public var path: String
    /// The log file's inode: a new one means the file was rotated.
    public var inode: UInt64
    /// Bytes of that file already ingested (always at a line end).
    public var offset: UInt64

    public init(path: String, inode: UInt64, offset: UInt64) {
        self.path = path
        self.inode = inode
        self.offset = offset
    }
}

/// An event with its RFC 5424 line, as the log holds it.
public struct LogEntry: Sendable {
    public let event: HoneypotEvent
    /// The values the stores write for it, made where the entry is made (the ingester's reading thread), so the
    /// store's writer only binds them.
    let row: LogRow

    /// The line: kept when the event does not render it again byte for byte, rendered otherwise.
    public var line: String { self.row.raw ?? RFC5424Formatter.line(for: self.event) }

    public init(event: HoneypotEvent, line: String) {
        var line = line
        self.event = event
        self.row = line.withUTF8 { LogRow(event, line: $0) }
    }

    /// From the log's bytes: the line is made a string only when it must be kept.
    public init(event: HoneypotEvent, line: ArraySlice<UInt8>) {
        self.event = event
        self.row = line.withUnsafeBufferPointer { LogRow(event, line: $0) }
    }

    /// An event not read from a log: its line is rendered.
    public init(_ event: HoneypotEvent) {
        self.init(event: event, line: RFC5424Formatter.line(for: event))
    }
}

/// The text columns of an event's `logs` row and its `bounty` row, if it yields one.
struct LogRow: Sendable {
    let uuid: String
    let timestamp: String
    /// The fields as one JSON object, in their order.
    let fields: String
    /// The line, when the row's columns would not render it again byte for byte (SQLite keeps only these; see
    /// `SQLiteEventStore`): a late event (no column holds the flag), a repeated field name (the JSON keeps the
    /// first), or a line not in the formatter's exact shape.
    let raw: String?
    let bounty: (kind: String, payload: String)?

    init(_ event: HoneypotEvent, line: UnsafeBufferPointer<UInt8>) {
        self.uuid = event.uuid.lowercasedText
        self.timestamp = RFC5424Formatter.timestamp(event.time)
        self.fields = event.fieldsJSON
        self.raw = !event.late && Self.renders(event, as: line) ? nil : String(decoding: line, as: UTF8.self)
        self.bounty = Bounty.row(for: event)
    }

    /// Whether the formatter writes exactly `line` for the event, and its fields have no repeated name (the
    /// line would hold every value, the JSON only the first).
    static func renders(_ event: HoneypotEvent, as line: UnsafeBufferPointer<UInt8>) -> Bool {
        // Sized for the line it should equal: rendering into an empty array reallocated it as it grew.
        var rendered: [UInt8] = []
        rendered.reserveCapacity(line.count + 64)
        RFC5424Formatter.write(event, to: &rendered)
        guard line.count == rendered.count, memcmp(line.baseAddress!, rendered, rendered.count) == 0 else {
            return false
        }
        let fields = event.fields
        guard fields.count <= 16 else { return Set(fields.map(\.name)).count == fields.count }
        for index in fields.indices where fields[..<index].contains(where: { $0.name == fields[index].name }) {
            return false
        }
        return true
    }
}

/// What one `ingest` did.
public struct IngestResult: Sendable, Equatable {
    /// Events stored for the first time.
    public var inserted = 0
    /// Events already stored (the same uuid), left as they were.
    public var duplicates = 0
    /// The events stored for the first time, in order (what the ingester publishes on the bus). Gathered when
    /// read, not when stored: the SQLite store hands back its batch and the positions it stored, so the copying
    /// (and the batch's release) happens on the bus's side instead of between one batch's commit and the next.
    public var fresh: [HoneypotEvent] {
        get {
            switch self.stored {
            case .events(let events): events
            case .positions(let batch, let positions): positions.map { batch[$0].event }
            }
        }
        set { self.stored = .events(newValue) }
    }

    private enum Stored: Sendable {
        case events([HoneypotEvent])
        case positions(batch: [LogEntry], [Int])
    }

    private var stored: Stored

    public init(inserted: Int = 0, duplicates: Int = 0, fresh: [HoneypotEvent] = []) {
        self.inserted = inserted
        self.duplicates = duplicates
        self.stored = .events(fresh)
    }

    /// The entries at `positions` of `batch` were stored for the first time.
    init(inserted: Int, duplicates: Int, batch: [LogEntry], positions: [Int]) {
        self.inserted = inserted
        self.duplicates = duplicates
        self.stored = .positions(batch: batch, positions)
    }

    public static func == (lhs: IngestResult, rhs: IngestResult) -> Bool {
        lhs.inserted == rhs.inserted && lhs.duplicates == rhs.duplicates && lhs.fresh == rhs.fresh
    }
}

/// A filter on stored events: the seed's log search, including fields inside an event (its JSON_EXTRACT
/// filters), newest first.
public struct LogQuery: Sendable {
    public var eventType: EventID?
    public var attackerIP: String?
    public var decky: String?
    public var service: ServiceKind?
    /// Event fields that must have exactly these values (`user_agent`, `username`, `hassh` …).
    public var fields: [String: String] = [:]
    /// Events at or after this time.
    public var since: Date?
    /// Events before this time.
    public var until: Date?
    public var limit = 100
    public var offset = 0

    public init(
        eventType: EventID? = nil,
        attackerIP: String? = nil,
        decky: String? = nil,
        service: ServiceKind? = nil,
        fields: [String: String] = [:],
        since: Date? = nil,
        until: Date? = nil,
        limit: Int = 100,
        offset: Int = 0
    ) {
        self.eventType = eventType
        self.attackerIP = attackerIP
        self.decky = decky
        self.service = service
        self.fields = fields
        self.since = since
        self.until = until
        self.limit = limit
        self.offset = offset
    }

    /// The largest page a query returns.
    public static let maximumLimit = 10_000

    /// The conditions of the query, each with its bound values in order: the same filter for every backend's
    /// statement (values are bound, never spliced). `jsonField` renders one field condition for the backend.
    func conditions(jsonField: (_ name: String) -> String) -> [(sql: String, values: [String])] {
        var conditions: [(sql: String, values: [String])] = []
        if let type = self.eventType { conditions.append(("event_type = ?", [type.rawValue])) }
        if let ip = self.attackerIP { conditions.append(("attacker_ip = ?", [ip])) }
        if let decky = self.decky { conditions.append(("decky = ?", [decky])) }
        if let service = self.service { conditions.append(("service = ?", [service.rawValue])) }
        // Timestamps are stored as fixed-width RFC 3339 UTC text, so text order is time order.
        if let since = self.since { conditions.append(("timestamp >= ?", [RFC5424Formatter.timestamp(since)])) }
        if let until = self.until { conditions.append(("timestamp < ?", [RFC5424Formatter.timestamp(until)])) }
        for (name, value) in self.fields.sorted(by: { $0.key < $1.key }) {
            conditions.append((jsonField(name), [name, value]))
        }
        return conditions
    }
}

/// One attacker (one source address) as the store aggregates it.
public struct AttackerProfile: Sendable, Equatable, Codable {
    public var ip: String
    public var firstSeen: Date
    public var lastSeen: Date
    public var eventCount: Int
    public var loginAttempts: Int
    public var credentialCount: Int
    public var commandCount: Int
    /// Deckies touched, in the order first touched.
    public var deckies: [String]
    public var services: [String]
    /// Every hop between deckies in time order: `decky-A -> decky-B -> decky-A`.
    public var traversalPath: String
    /// Fingerprints seen, by kind (`hassh`, `ja3`, `ja4`, `user_agent`, `client_version`).
    public var fingerprints: [String: [String]]
    /// The latest commands (at most `maximumCommands`).
    public var commands: [String]

    public var isTraversal: Bool { self.deckies.count > 1 }

    public static let maximumCommands = 200
}

/// The event store: the seed's `logs`, `bounty` and `attackers` tables behind one interface, with SQLite
/// (embedded, the default) and PostgreSQL (shared by many hosts) behind it.
public protocol EventStore: IntelStore {
    /// Creates or upgrades the schema (versioned migrations).
    func migrate() async throws
    /// Drops every table and migrates again.
    func reset() async throws
    /// Stores events exactly once (by uuid), their bounty and attacker aggregates, and the cursor, in one
    /// transaction.
    func ingest(_ entries: [LogEntry], cursor: IngestCursor?) async throws -> IngestResult
    func cursor(for path: String) async throws -> IngestCursor?
    func logs(_ query: LogQuery) async throws -> [HoneypotEvent]
    func attackers() async throws -> [AttackerProfile]
    func attacker(ip: String) async throws -> AttackerProfile?
    /// Rows per table: `logs`, `bounty`, `attackers`.
    func counts() async throws -> [String: Int]

    /// How many events the query matches (its limit and offset aside).
    func countLogs(_ query: LogQuery) async throws -> Int
    /// Events the query matches per `interval` seconds, oldest bucket first; empty buckets are left out.
    func histogram(_ query: LogQuery, interval: Int) async throws -> [HistogramBucket]
    /// A page of attackers, filtered and sorted.
    func attackers(_ query: AttackerQuery) async throws -> AttackerPage
    /// What was harvested from one attacker (credentials, fingerprints, artifacts), newest first.
    func bounty(attackerIP: String, limit: Int) async throws -> [StoredBounty]
    /// Totals for the overview.
    func statistics(now: Date) async throws -> StoreStatistics

    /// The API's users.
    func users() async throws -> [APIUser]
    func user(named username: String) async throws -> APIUser?
    /// Adds a user; false when the name is taken.
    func createUser(_ user: APIUser) async throws -> Bool
    /// Replaces a user's hash, role and flags (by username).
    func updateUser(_ user: APIUser) async throws
    /// False when there was no such user.
    func deleteUser(named username: String) async throws -> Bool
    /// Returns when the work a store does after its commits (SQLite's log checkpoints) has caught up.
    func settle() async
}

extension EventStore {
    public func settle() async {}
}
