import DecnetCore
import Foundation
import GRDB

/// The intelligence stack's documents and the bounty board, in SQLite.
extension SQLiteEventStore {
    private static func document(_ row: Row) -> IntelDocument? {
        guard let updated = RFC5424Parser.time(row["updated"]) else { return nil }
        return IntelDocument(kind: row["kind"], key: row["key"], body: row["body"], updated: updated)
    }

    public func intelDocuments(kind: String) async throws -> [IntelDocument] {
        try await self.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM intel WHERE kind = ? ORDER BY key", arguments: [kind])
                .compactMap(Self.document)
        }
    }

    public func intelDocument(kind: String, key: String) async throws -> IntelDocument? {
        try await self.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM intel WHERE kind = ? AND key = ?", arguments: [kind, key])
                .flatMap(Self.document)
        }
    }

    public func putIntelDocuments(_ documents: [IntelDocument], deleting: [(kind: String, key: String)]) async throws {
        guard !documents.isEmpty || !deleting.isEmpty else { return }
        try await self.pool.write { db in
            for (kind, key) in deleting {
                try db.execute(sql: "DELETE FROM intel WHERE kind = ? AND key = ?", arguments: [kind, key])
            }
            for document in documents {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO intel (kind, key, body, updated) VALUES (?, ?, ?, ?)",
                    arguments: [
                        document.kind, document.key, document.body, RFC5424Formatter.timestamp(document.updated),
                    ]
                )
            }
        }
    }

    public func bountyCount(kind: String?) async throws -> Int {
        try await self.pool.read { db in
            if let kind {
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM bounty WHERE bounty_type = ?", arguments: [kind])
                    ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM bounty") ?? 0
        }
    }

    public func bountyBoard(kind: String?, limit: Int, offset: Int) async throws -> [StoredBounty] {
        try await self.pool.read { db in
            let filter = kind == nil ? "" : "WHERE bounty_type = ?"
            var arguments: StatementArguments = kind.map { [$0] } ?? []
            arguments += [max(0, min(limit, LogQuery.maximumLimit)), max(0, offset)]
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT timestamp, bounty_type, attacker_ip, decky, service, payload FROM bounty \(filter)
                    ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?
                    """,
                arguments: arguments
            ).compactMap { row in
                guard let time = RFC5424Parser.time(row["timestamp"]) else { return nil }
                return StoredBounty(
                    time: time,
                    kind: row["bounty_type"],
                    decky: row["decky"],
                    service: row["service"],
                    payload: JSONText.decode([String: String].self, row["payload"]) ?? [:],
                    attackerIP: row["attacker_ip"]
                )
            }
        }
    }
}
