import DecnetCore
import Foundation
import GRDB

/// What the API reads: counts, histograms, pages of attackers, bounty, totals, and its users.
extension SQLiteEventStore {
    public func countLogs(_ query: LogQuery) async throws -> Int {
        let (filter, arguments) = Self.filter(query)
        return try await self.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM logs \(filter)", arguments: StatementArguments(arguments))
                ?? 0
        }
    }

    public func histogram(_ query: LogQuery, interval: Int) async throws -> [HistogramBucket] {
        let (filter, arguments) = Self.filter(query)
        let step = max(1, interval)
        // The first 19 characters are the whole seconds, which strftime reads as UTC.
        let sql = """
            SELECT (CAST(strftime('%s', substr(timestamp, 1, 19)) AS INTEGER) / \(step)) * \(step) AS bucket, count(*)
            FROM logs \(filter) GROUP BY bucket ORDER BY bucket
            """
        return try await self.pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map {
                HistogramBucket(time: Date(timeIntervalSince1970: Double($0[0] as Int64)), count: $0[1])
            }
        }
    }

    public func attackers(_ query: AttackerQuery) async throws -> AttackerPage {
        let conditions = query.conditions { column in
            "EXISTS (SELECT 1 FROM json_each(\(column)) WHERE value = ?)"
        }
        let (filter, arguments) = Self.whereClause(conditions)
        let limit = max(0, min(query.limit, AttackerQuery.maximumLimit))
        let offset = max(0, query.offset)
        return try await self.pool.read { db in
            let total =
                try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM attackers \(filter)",
                    arguments: StatementArguments(arguments)
                ) ?? 0
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM attackers \(filter) ORDER BY \(query.sort.orderBy) LIMIT \(limit) OFFSET \(offset)",
                arguments: StatementArguments(arguments)
            )
            return AttackerPage(total: total, items: rows.compactMap(Self.profile))
        }
    }

    public func bounty(attackerIP: String, limit: Int) async throws -> [StoredBounty] {
        try await self.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT timestamp, bounty_type, decky, service, payload FROM bounty WHERE attacker_ip = ?
                    ORDER BY timestamp DESC, id DESC LIMIT ?
                    """,
                arguments: [attackerIP, max(0, min(limit, LogQuery.maximumLimit))]
            ).compactMap { row in
                guard let time = RFC5424Parser.time(row["timestamp"]) else { return nil }
                return StoredBounty(
                    time: time,
                    kind: row["bounty_type"],
                    decky: row["decky"],
                    service: row["service"],
                    payload: JSONText.decode([String: String].self, row["payload"]) ?? [:]
                )
            }
        }
    }

    public func statistics(now: Date) async throws -> StoreStatistics {
        let hourAgo = RFC5424Formatter.timestamp(now.addingTimeInterval(-3_600))
        let midnight = RFC5424Formatter.timestamp(StoreStatistics.startOfDay(now))
        return try await self.pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM attackers),
                        (SELECT count(*) FROM bounty WHERE bounty_type = 'credential'),
                        (SELECT count(*) FROM logs WHERE timestamp >= ?),
                        (SELECT count(*) FROM attackers WHERE last_seen >= ?),
                        (SELECT count(*) FROM attackers WHERE is_traversal)
                    """,
                arguments: [hourAgo, midnight]
            )
            return StoreStatistics(
                events: row?[0] ?? 0,
                attackers: row?[1] ?? 0,
                credentials: row?[2] ?? 0,
                eventsLastHour: row?[3] ?? 0,
                attackersToday: row?[4] ?? 0,
                traversals: row?[5] ?? 0
            )
        }
    }

    private static func user(_ row: Row) -> APIUser? {
        guard let role = APIUser.Role(rawValue: row["role"]), let created = RFC5424Parser.time(row["created_at"])
        else { return nil }
        return APIUser(
            username: row["username"],
            passwordHash: row["password_hash"],
            role: role,
            mustChangePassword: row["must_change_password"],
            tokenVersion: row["token_version"],
            createdAt: created
        )
    }

    public func users() async throws -> [APIUser] {
        try await self.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY username").compactMap(Self.user)
        }
    }

    public func user(named username: String) async throws -> APIUser? {
        try await self.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE username = ?", arguments: [username])
                .flatMap(Self.user)
        }
    }

    public func createUser(_ user: APIUser) async throws -> Bool {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO users (username, password_hash, role, must_change_password, token_version,
                        created_at) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    user.username, user.passwordHash, user.role.rawValue, user.mustChangePassword, user.tokenVersion,
                    RFC5424Formatter.timestamp(user.createdAt),
                ]
            )
            return db.changesCount == 1
        }
    }

    public func updateUser(_ user: APIUser) async throws {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    UPDATE users SET password_hash = ?, role = ?, must_change_password = ?, token_version = ?
                    WHERE username = ?
                    """,
                arguments: [
                    user.passwordHash, user.role.rawValue, user.mustChangePassword, user.tokenVersion, user.username,
                ]
            )
        }
    }

    public func deleteUser(named username: String) async throws -> Bool {
        try await self.pool.write { db in
            try db.execute(sql: "DELETE FROM users WHERE username = ?", arguments: [username])
            return db.changesCount == 1
        }
    }
}
