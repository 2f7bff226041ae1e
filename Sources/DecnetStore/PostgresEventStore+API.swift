import DecnetCore
import Foundation
import PostgresNIO

/// What the API reads: counts, histograms, pages of attackers, bounty, totals, and its users.
extension PostgresEventStore {
    public func countLogs(_ query: LogQuery) async throws -> Int {
        let (filter, bindings) = Self.filter(query)
        let rows = try await self.client.query(
            PostgresQuery(unsafeSQL: "SELECT count(*) FROM logs \(filter)", binds: bindings),
            logger: self.logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    public func histogram(_ query: LogQuery, interval: Int) async throws -> [HistogramBucket] {
        let (filter, bindings) = Self.filter(query)
        let step = max(1, interval)
        let sql = """
            SELECT (floor(extract(epoch FROM (substr(timestamp, 1, 19) || 'Z')::timestamptz) / \(step)) * \(step))::bigint
                AS bucket, count(*)
            FROM logs \(filter) GROUP BY bucket ORDER BY bucket
            """
        var buckets: [HistogramBucket] = []
        let rows = try await self.client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: self.logger)
        for try await (bucket, count) in rows.decode((Int64, Int).self) {
            buckets.append(HistogramBucket(time: Date(timeIntervalSince1970: Double(bucket)), count: count))
        }
        return buckets
    }

    public func attackers(_ query: AttackerQuery) async throws -> AttackerPage {
        let (filter, bindings) = Self.whereClause(query.conditions { "\($0) @> jsonb_build_array(?::text)" })
        let limit = max(0, min(query.limit, AttackerQuery.maximumLimit))
        var total = 0
        for try await count in try await self.client.query(
            PostgresQuery(unsafeSQL: "SELECT count(*) FROM attackers \(filter)", binds: bindings),
            logger: self.logger
        ).decode(Int.self) {
            total = count
        }
        let items = try await self.attackerRows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.attackerColumns) FROM attackers \(filter) ORDER BY \(query.sort.orderBy)
                    LIMIT \(limit) OFFSET \(max(0, query.offset))
                    """,
                binds: bindings
            )
        )
        return AttackerPage(total: total, items: items)
    }

    public func bounty(attackerIP: String, limit: Int) async throws -> [StoredBounty] {
        let rows = try await self.client.query(
            """
            SELECT timestamp, bounty_type, decky, service, payload::text FROM bounty WHERE attacker_ip = \(attackerIP)
            ORDER BY timestamp DESC, id DESC LIMIT \(max(0, min(limit, LogQuery.maximumLimit)))
            """,
            logger: self.logger
        )
        var found: [StoredBounty] = []
        for try await (time, kind, decky, service, payload) in rows.decode(
            (String, String, String, String, String).self
        ) {
            guard let when = RFC5424Parser.time(time) else { continue }
            found.append(
                StoredBounty(
                    time: when,
                    kind: kind,
                    decky: decky,
                    service: service,
                    payload: JSONText.decode([String: String].self, payload) ?? [:]
                )
            )
        }
        return found
    }

    public func statistics(now: Date) async throws -> StoreStatistics {
        let hourAgo = RFC5424Formatter.timestamp(now.addingTimeInterval(-3_600))
        let midnight = RFC5424Formatter.timestamp(StoreStatistics.startOfDay(now))
        let rows = try await self.client.query(
            """
            SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM attackers),
                (SELECT count(*) FROM bounty WHERE bounty_type = 'credential'),
                (SELECT count(*) FROM logs WHERE timestamp >= \(hourAgo)),
                (SELECT count(*) FROM attackers WHERE last_seen >= \(midnight)),
                (SELECT count(*) FROM attackers WHERE is_traversal)
            """,
            logger: self.logger
        )
        for try await (events, attackers, credentials, lastHour, today, traversals) in rows.decode(
            (Int, Int, Int, Int, Int, Int).self
        ) {
            return StoreStatistics(
                events: events,
                attackers: attackers,
                credentials: credentials,
                eventsLastHour: lastHour,
                attackersToday: today,
                traversals: traversals
            )
        }
        return StoreStatistics(
            events: 0,
            attackers: 0,
            credentials: 0,
            eventsLastHour: 0,
            attackersToday: 0,
            traversals: 0
        )
    }

    private func userRows(_ query: PostgresQuery) async throws -> [APIUser] {
        var users: [APIUser] = []
        let rows = try await self.client.query(query, logger: self.logger)
        for try await (name, hash, role, mustChange, version, created) in rows.decode(
            (String, String, String, Bool, Int, String).self
        ) {
            guard let role = APIUser.Role(rawValue: role), let createdAt = RFC5424Parser.time(created) else { continue }
            users.append(
                APIUser(
                    username: name,
                    passwordHash: hash,
                    role: role,
                    mustChangePassword: mustChange,
                    tokenVersion: version,
                    createdAt: createdAt
                )
            )
        }
        return users
    }

    private static let userColumns = "username, password_hash, role, must_change_password, token_version, created_at"

    public func users() async throws -> [APIUser] {
        try await self.userRows("SELECT \(unescaped: Self.userColumns) FROM users ORDER BY username")
    }

    public func user(named username: String) async throws -> APIUser? {
        try await self.userRows("SELECT \(unescaped: Self.userColumns) FROM users WHERE username = \(username)").first
    }

    public func createUser(_ user: APIUser) async throws -> Bool {
        let rows = try await self.client.query(
            """
            INSERT INTO users (username, password_hash, role, must_change_password, token_version, created_at)
            VALUES (\(user.username), \(user.passwordHash), \(user.role.rawValue), \(user.mustChangePassword),
                \(user.tokenVersion), \(RFC5424Formatter.timestamp(user.createdAt)))
            ON CONFLICT (username) DO NOTHING RETURNING username
            """,
            logger: self.logger
        )
        var created = false
        for try await _ in rows.decode(String.self) { created = true }
        return created
    }

    public func updateUser(_ user: APIUser) async throws {
        try await self.client.query(
            """
            UPDATE users SET password_hash = \(user.passwordHash), role = \(user.role.rawValue),
                must_change_password = \(user.mustChangePassword), token_version = \(user.tokenVersion)
            WHERE username = \(user.username)
            """,
            logger: self.logger
        )
    }

    public func deleteUser(named username: String) async throws -> Bool {
        let rows = try await self.client.query(
            "DELETE FROM users WHERE username = \(username) RETURNING username",
            logger: self.logger
        )
        var deleted = false
        for try await _ in rows.decode(String.self) { deleted = true }
        return deleted
    }
}
