import DecnetCore
import Foundation

/// What the intelligence stack keeps in the store: one JSON document per attacker profile, identity, campaign or
/// operator decision, by kind and key. The seed spreads these over typed tables (`attacker_behavior`,
/// `attacker_identities`, `campaigns` …) whose columns change with every feature; here the profiler writes whole
/// documents it also reads back, so one table serves both backends and a new field needs no migration. What the
/// API filters on (kind, key, update time) are columns.
public struct IntelDocument: Sendable, Equatable {
    /// `profile` (key: attacker address), `identity` and `campaign` (key: uuid), `override` (key: uuid).
    public var kind: String
    public var key: String
    /// A JSON object.
    public var body: String
    public var updated: Date

    public init(kind: String, key: String, body: String, updated: Date) {
        self.kind = kind
        self.key = key
        self.body = body
        self.updated = updated
    }

    /// Encodes `value` as the body.
    public init(kind: String, key: String, value: some Encodable, updated: Date) throws {
        self.init(
            kind: kind,
            key: key,
            body: String(decoding: try Self.encoder.encode(value), as: UTF8.self),
            updated: updated
        )
    }

    /// The body decoded as `type`; nil when it is not one (written by another version).
    public func decode<T: Decodable>(_ type: T.Type) -> T? {
        try? Self.decoder.decode(type, from: Data(self.body.utf8))
    }

    /// Dates as the store writes them (RFC 3339 with microseconds): a date read back equals the one written, so
    /// the profiler can tell an attacker's last event has not changed, and two decisions a second apart keep
    /// their order.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC5424Formatter.timestamp(date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC5424Parser.time(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return decoder
    }()
}

/// A store that keeps the intelligence stack's documents (both backends).
public protocol IntelStore: Sendable {
    /// Every document of a kind, by key.
    func intelDocuments(kind: String) async throws -> [IntelDocument]
    func intelDocument(kind: String, key: String) async throws -> IntelDocument?
    /// Writes (inserts or replaces) `documents` and deletes `deleting` (kind, key), in one transaction.
    func putIntelDocuments(_ documents: [IntelDocument], deleting: [(kind: String, key: String)]) async throws
    /// The bounty of every attacker, newest first, optionally of one kind (`credential`, `fingerprint`,
    /// `artifact`, `download`).
    func bountyBoard(kind: String?, limit: Int, offset: Int) async throws -> [StoredBounty]
    /// How many bounty rows there are (of one kind).
    func bountyCount(kind: String?) async throws -> Int
}
