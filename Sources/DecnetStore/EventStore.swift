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

/// An event with its RFC 5424 line, as the log holds it (the store keeps both: the line for export, the fields
/// for queries).
public struct LogEntry: Sendable {
    public var event: HoneypotEvent
    public var line: String

    public init(event: HoneypotEvent, line: String) {
        self.event = event
        self.line = line
    }

    /// An event not read from a log: its line is rendered.
    public init(_ event: HoneypotEvent) {
        self.init(event: event, line: RFC5424Formatter.line(for: event))
    }
}

/// What one `ingest` did.
public struct IngestResult: Sendable, Equatable {
    /// Events stored for the first time.
    public var inserted = 0
    /// Events already stored (the same uuid), left as they were.
    public var duplicates = 0
    /// The events stored for the first time, in order (what the ingester publishes on the bus).
    public var fresh: [HoneypotEvent] = []

    public init(inserted: Int = 0, duplicates: Int = 0, fresh: [HoneypotEvent] = []) {
        self.inserted = inserted
        self.duplicates = duplicates
        self.fresh = fresh
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
    public var limit = 100
    public var offset = 0

    public init(
        eventType: EventID? = nil,
        attackerIP: String? = nil,
        decky: String? = nil,
        service: ServiceKind? = nil,
        fields: [String: String] = [:],
        limit: Int = 100,
        offset: Int = 0
    ) {
        self.eventType = eventType
        self.attackerIP = attackerIP
        self.decky = decky
        self.service = service
        self.fields = fields
        self.limit = limit
        self.offset = offset
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
public protocol EventStore: Sendable {
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
}
