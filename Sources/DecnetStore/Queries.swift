import DecnetCore
import Foundation

/// A filter on attacker profiles: the API's attackers list.
public struct AttackerQuery: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        case lastSeen = "last_seen"
        case firstSeen = "first_seen"
        case events
        case logins

        var orderBy: String {
            switch self {
            case .lastSeen: "last_seen DESC, ip"
            case .firstSeen: "first_seen DESC, ip"
            case .events: "event_count DESC, ip"
            case .logins: "login_attempts DESC, ip"
            }
        }
    }

    /// Part of the address (`10.77.`, `.254`).
    public var search: String?
    public var service: String?
    public var decky: String?
    /// Only attackers that touched more than one decky.
    public var traversalOnly: Bool
    public var sort: Sort
    public var limit: Int
    public var offset: Int

    public init(
        search: String? = nil,
        service: String? = nil,
        decky: String? = nil,
        traversalOnly: Bool = false,
        sort: Sort = .lastSeen,
        limit: Int = 50,
        offset: Int = 0
    ) {
        self.search = search
        self.service = service
        self.decky = decky
        self.traversalOnly = traversalOnly
        self.sort = sort
        self.limit = limit
        self.offset = offset
    }

    public static let maximumLimit = 1_000

    /// The conditions with their bound values; `contains` renders "this JSON array holds the value".
    func conditions(contains: (_ column: String) -> String) -> [(sql: String, values: [String])] {
        var conditions: [(sql: String, values: [String])] = []
        if let search = self.search, !search.isEmpty {
            // A substring of the address; LIKE's own wildcards in the input are taken literally.
            let escaped = search.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            conditions.append(("ip LIKE ? ESCAPE '\\'", ["%\(escaped)%"]))
        }
        if let service = self.service { conditions.append((contains("services"), [service])) }
        if let decky = self.decky { conditions.append((contains("deckies"), [decky])) }
        if self.traversalOnly { conditions.append(("is_traversal", [])) }
        return conditions
    }
}

/// One page of attackers and how many match in all.
public struct AttackerPage: Sendable, Equatable {
    public var total: Int
    public var items: [AttackerProfile]

    public init(total: Int, items: [AttackerProfile]) {
        self.total = total
        self.items = items
    }
}

/// Events in one interval of a histogram.
public struct HistogramBucket: Sendable, Equatable, Codable {
    /// The start of the interval.
    public var time: Date
    public var count: Int

    public init(time: Date, count: Int) {
        self.time = time
        self.count = count
    }
}

/// A stored bounty row.
public struct StoredBounty: Sendable, Equatable {
    public var time: Date
    public var kind: String
    public var decky: String
    public var service: String
    public var payload: [String: String]
    /// Whose it is (filled by the bounty board; the per-attacker query leaves it empty).
    public var attackerIP: String

    public init(
        time: Date,
        kind: String,
        decky: String,
        service: String,
        payload: [String: String],
        attackerIP: String = ""
    ) {
        self.time = time
        self.kind = kind
        self.decky = decky
        self.service = service
        self.payload = payload
        self.attackerIP = attackerIP
    }
}

/// The overview's totals.
public struct StoreStatistics: Sendable, Equatable {
    public var events: Int
    public var attackers: Int
    public var credentials: Int
    /// Events in the last hour.
    public var eventsLastHour: Int
    /// Attackers last seen since midnight UTC.
    public var attackersToday: Int
    /// Attackers that touched more than one decky.
    public var traversals: Int

    public init(
        events: Int,
        attackers: Int,
        credentials: Int,
        eventsLastHour: Int,
        attackersToday: Int,
        traversals: Int
    ) {
        self.events = events
        self.attackers = attackers
        self.credentials = credentials
        self.eventsLastHour = eventsLastHour
        self.attackersToday = attackersToday
        self.traversals = traversals
    }

    /// Midnight UTC of the day of `now`.
    static func startOfDay(_ now: Date) -> Date {
        Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
    }
}

/// A user of the API and dashboard.
public struct APIUser: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable, Codable {
        /// Reads everything and acts: fleet actions, users.
        case admin
        /// Reads everything, acts on nothing.
        case viewer
    }

    public var username: String
    /// bcrypt.
    public var passwordHash: String
    public var role: Role
    /// Set for the first admin: every route but changing the password answers 403 until it is changed.
    public var mustChangePassword: Bool
    /// Raised at every password change: tokens carry it, so older tokens stop working.
    public var tokenVersion: Int
    public var createdAt: Date

    public init(
        username: String,
        passwordHash: String,
        role: Role,
        mustChangePassword: Bool,
        tokenVersion: Int = 1,
        createdAt: Date = Date()
    ) {
        self.username = username
        self.passwordHash = passwordHash
        self.role = role
        self.mustChangePassword = mustChangePassword
        self.tokenVersion = tokenVersion
        self.createdAt = createdAt
    }
}
