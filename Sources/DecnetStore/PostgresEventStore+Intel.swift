import DecnetCore
import Foundation
import PostgresNIO

/// The intelligence stack's documents and the bounty board, in PostgreSQL.
extension PostgresEventStore {
    private func documents(_ query: PostgresQuery) async throws -> [IntelDocument] {
        var found: [IntelDocument] = []
        let rows = try await self.client.query(query, logger: self.logger)
        for try await (kind, key, body, updated) in rows.decode((String, String, String, String).self) {
            guard let time = RFC5424Parser.time(updated) else { continue }
            found.append(IntelDocument(kind: kind, key: key, body: body, updated: time))
        }
        return found
    }

    public func intelDocuments(kind: String) async throws -> [IntelDocument] {
        try await self.documents("SELECT kind, key, body, updated FROM intel WHERE kind = \(kind) ORDER BY key")
    }

    public func intelDocument(kind: String, key: String) async throws -> IntelDocument? {
        try await self.documents(
            "SELECT kind, key, body, updated FROM intel WHERE kind = \(kind) AND key = \(key)"
        ).first
    }

    public func putIntelDocuments(_ documents: [IntelDocument], deleting: [(kind: String, key: String)]) async throws {
        guard !documents.isEmpty || !deleting.isEmpty else { return }
        try await self.client.withTransaction(logger: self.logger) { connection in
            for (kind, key) in deleting {
                try await connection.query(
                    "DELETE FROM intel WHERE kind = \(kind) AND key = \(key)",
                    logger: self.logger
                )
            }
            for document in documents {
                let updated = RFC5424Formatter.timestamp(document.updated)
                try await connection.query(
                    """
                    INSERT INTO intel (kind, key, body, updated) VALUES (\(document.kind), \(document.key),
                        \(document.body), \(updated))
                    ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body, updated = EXCLUDED.updated
                    """,
                    logger: self.logger
                )
            }
        }
    }

    public func bountyCount(kind: String?) async throws -> Int {
        let rows =
            if let kind {
                try await self.client.query(
                    "SELECT count(*) FROM bounty WHERE bounty_type = \(kind)",
                    logger: self.logger
                )
            } else {
                try await self.client.query("SELECT count(*) FROM bounty", logger: self.logger)
            }
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    public func bountyBoard(kind: String?, limit: Int, offset: Int) async throws -> [StoredBounty] {
        let limit = max(0, min(limit, LogQuery.maximumLimit))
        let offset = max(0, offset)
        let query: PostgresQuery
        if let kind {
            query = """
                SELECT timestamp, bounty_type, attacker_ip, decky, service, payload::text FROM bounty
                WHERE bounty_type = \(kind) ORDER BY timestamp DESC, id DESC LIMIT \(limit) OFFSET \(offset)
                """
        } else {
            query = """
                SELECT timestamp, bounty_type, attacker_ip, decky, service, payload::text FROM bounty
                ORDER BY timestamp DESC, id DESC LIMIT \(limit) OFFSET \(offset)
                """
        }
        var found: [StoredBounty] = []
        let rows = try await self.client.query(query, logger: self.logger)
        for try await (time, type, ip, decky, service, payload) in rows.decode(
            (String, String, String, String, String, String).self
        ) {
            guard let when = RFC5424Parser.time(time) else { continue }
            found.append(
                StoredBounty(
                    time: when,
                    kind: type,
                    decky: decky,
                    service: service,
                    payload: JSONText.decode([String: String].self, payload) ?? [:],
                    attackerIP: ip
                )
            )
        }
        return found
    }
}
