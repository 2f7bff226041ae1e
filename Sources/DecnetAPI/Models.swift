import DecnetCore
import DecnetIntel
import DecnetRuntime
import DecnetStore
import Foundation
import Hummingbird

// The JSON the API answers with. Field names are the seed's (snake_case); every type here has a schema of the same
// name in the OpenAPI document (OpenAPI/OpenAPIDocument.swift), which a test keeps in step.

struct LoginRequest: Codable {
    var username: String
    var password: String
}

struct LoginResponse: Codable, ResponseEncodable {
    var accessToken: String
    var tokenType = "bearer"
    var expiresAt: Date
    var username: String
    var role: String
    var mustChangePassword: Bool

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresAt = "expires_at"
        case username, role
        case mustChangePassword = "must_change_password"
    }
}

struct ChangePasswordRequest: Codable {
    var oldPassword: String
    var newPassword: String

    enum CodingKeys: String, CodingKey {
        case oldPassword = "old_password"
        case newPassword = "new_password"
    }
}

struct UserBody: Codable, ResponseEncodable {
    var username: String
    var role: String
    var mustChangePassword: Bool
    var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case username, role
        case mustChangePassword = "must_change_password"
        case createdAt = "created_at"
    }

    init(_ user: APIUser) {
        self.username = user.username
        self.role = user.role.rawValue
        self.mustChangePassword = user.mustChangePassword
        self.createdAt = user.createdAt
    }
}

struct NewUserRequest: Codable {
    var username: String
    var password: String
    var role: String
}

struct Message: Codable, ResponseEncodable {
    var detail: String
}

struct Page<Item: Codable & Sendable>: Codable, ResponseEncodable, Sendable {
    var total: Int
    var limit: Int
    var offset: Int
    var items: [Item]
}

struct AttackerBody: Codable, Sendable {
    var ip: String
    var firstSeen: Date
    var lastSeen: Date
    var eventCount: Int
    var loginAttempts: Int
    var credentialCount: Int
    var commandCount: Int
    var deckies: [String]
    var services: [String]
    var traversalPath: String
    var isTraversal: Bool
    var fingerprints: [String: [String]]
    var commands: [String]
    /// Where the address is: its scope, and for a public one the network, country and autonomous system.
    var geo: GeoBody?

    enum CodingKeys: String, CodingKey {
        case ip, deckies, services, fingerprints, commands, geo
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
        case eventCount = "event_count"
        case loginAttempts = "login_attempts"
        case credentialCount = "credential_count"
        case commandCount = "command_count"
        case traversalPath = "traversal_path"
        case isTraversal = "is_traversal"
    }

    init(_ profile: AttackerProfile, geo: LocationDatabase? = nil) {
        self.ip = profile.ip
        self.geo = (geo?.lookup(profile.ip)).map(GeoBody.init)
        self.firstSeen = profile.firstSeen
        self.lastSeen = profile.lastSeen
        self.eventCount = profile.eventCount
        self.loginAttempts = profile.loginAttempts
        self.credentialCount = profile.credentialCount
        self.commandCount = profile.commandCount
        self.deckies = profile.deckies
        self.services = profile.services
        self.traversalPath = profile.traversalPath
        self.isTraversal = profile.isTraversal
        self.fingerprints = profile.fingerprints
        self.commands = profile.commands
    }
}

/// An attacker address's location, as the seed's attacker columns name it (`country_code`, `asn`, `as_name` …).
struct GeoBody: Codable, Sendable {
    var scope: String
    var network: String?
    var countryCode: String?
    var country: String?
    var asn: Int?
    var asName: String?
    var flags: [String]
    var source: String?

    enum CodingKeys: String, CodingKey {
        case scope, network, country, asn, flags, source
        case countryCode = "country_code"
        case asName = "as_name"
    }

    init(_ record: GeoRecord) {
        self.scope = record.scope.rawValue
        self.network = record.network
        self.countryCode = record.countryCode
        self.country = record.countryName
        self.asn = record.asn.map(Int.init)
        self.asName = record.asName
        self.flags = record.flags
        self.source = record.source
    }

    /// One line for people: "United States of America (US) · AS15169 GOOGLE · 8.8.8.0/24 · anycast".
    var summary: String {
        guard self.scope == "public" else { return "\(self.scope) address (no location)" }
        var parts: [String] = []
        if let code = self.countryCode { parts.append("\(self.country ?? code) (\(code))") }
        if let asn = self.asn { parts.append("AS\(asn)" + (self.asName.map { " \($0)" } ?? "")) }
        if let network = self.network { parts.append(network) }
        parts += self.flags
        return parts.isEmpty ? "not in the location database" : parts.joined(separator: " · ")
    }
}

/// `AttackerBehaviour` as the API writes it (snake_case, as every body).
struct BehaviourBody: Codable, Sendable {
    struct Phase: Codable, Sendable {
        var phase: String
        var first: Date
        var evidence: String
    }

    struct Tool: Codable, Sendable {
        var tool: String
        var evidence: String
        var source: String
    }

    struct Timing: Codable, Sendable {
        var events: Int
        var seconds: Double
        var meanGap: Double
        var medianGap: Double
        var gapVariation: Double
        var commandPause: Double?
        var scanPeakPPS: Int?

        enum CodingKeys: String, CodingKey {
            case events, seconds
            case meanGap = "mean_gap"
            case medianGap = "median_gap"
            case gapVariation = "gap_variation"
            case commandPause = "command_pause"
            case scanPeakPPS = "scan_peak_pps"
        }
    }

    var behaviour: String
    var evidence: [String]
    var phases: [Phase]
    var tools: [Tool]
    var timing: Timing
    var keystrokes: KeystrokesBody?
    var score: Int

    struct KeystrokesBody: Codable, Sendable {
        var entry: String
        var lines: Int
        var typedLines: Int
        var pastedLines: Int
        var medianKeyGapMs: Double?
        var keyGapVariation: Double?
        var corrections: Int
        var summary: String

        enum CodingKeys: String, CodingKey {
            case entry, lines, corrections, summary
            case typedLines = "typed_lines"
            case pastedLines = "pasted_lines"
            case medianKeyGapMs = "median_key_gap_ms"
            case keyGapVariation = "key_gap_variation"
        }

        init(_ keystrokes: Keystrokes) {
            self.entry = keystrokes.entry.rawValue
            self.lines = keystrokes.lines
            self.typedLines = keystrokes.typedLines
            self.pastedLines = keystrokes.pastedLines
            self.medianKeyGapMs = keystrokes.medianKeyGap
            self.keyGapVariation = keystrokes.keyGapVariation
            self.corrections = keystrokes.corrections
            self.summary = keystrokes.summary
        }
    }

    init(_ profile: AttackerBehaviour) {
        self.behaviour = profile.behaviour.rawValue
        self.evidence = profile.evidence
        self.phases = profile.phases.map { Phase(phase: $0.phase.rawValue, first: $0.first, evidence: $0.evidence) }
        self.tools = profile.tools.map { Tool(tool: $0.tool, evidence: $0.evidence, source: $0.source) }
        let timing = profile.timing
        self.timing = Timing(
            events: timing.events,
            seconds: timing.seconds,
            meanGap: timing.meanGap,
            medianGap: timing.medianGap,
            gapVariation: timing.gapVariation,
            commandPause: timing.commandPause,
            scanPeakPPS: timing.scanPeakRate
        )
        self.keystrokes = profile.keystrokes.map(KeystrokesBody.init)
        self.score = profile.score
    }
}

struct BountyBody: Codable, Sendable {
    var time: Date
    var kind: String
    var decky: String
    var service: String
    var payload: [String: String]

    init(_ bounty: StoredBounty) {
        self.time = bounty.time
        self.kind = bounty.kind
        self.decky = bounty.decky
        self.service = bounty.service
        self.payload = bounty.payload
    }
}

struct AttackerDetail: Codable, ResponseEncodable {
    var attacker: AttackerBody
    var bounty: [BountyBody]
    /// One hop per move between deckies, in time order (the traversal path as data, for drawing it).
    var hops: [Hop]
    /// The path collapsed for reading: a scan is one step, repeats are folded (from the latest 5,000 events).
    var steps: [TraversalStep]
    /// What the attacker is doing, from the same events: class with evidence, phases, tools, timing, score.
    var behaviour: BehaviourBody
    /// The identity and campaign the profiler put it in (absent until it has, or when it acts alone).
    var identity: String?
    var campaign: String?
    /// The ATT&CK techniques its events imply, each with the rule that fired.
    var techniques: [TechniqueBody]

    struct Hop: Codable {
        var from: String
        var to: String
    }
}

struct EventBody: Codable, Sendable {
    var uuid: String
    var timestamp: Date
    var eventType: String
    var decky: String
    var hostname: String
    var service: String
    var session: String
    var attackerIP: String
    var attackerPort: Int
    var deckyIP: String
    var deckyPort: Int
    var fields: [String: String]

    enum CodingKeys: String, CodingKey {
        case uuid, timestamp, decky, hostname, service, session, fields
        case eventType = "event_type"
        case attackerIP = "attacker_ip"
        case attackerPort = "attacker_port"
        case deckyIP = "decky_ip"
        case deckyPort = "decky_port"
    }

    init(_ event: HoneypotEvent) {
        self.uuid = event.uuid.uuidString.lowercased()
        self.timestamp = event.time
        self.eventType = event.id.rawValue
        self.decky = event.decky
        self.hostname = event.hostname
        self.service = event.service.rawValue
        self.session = event.session
        self.attackerIP = event.source.ip
        self.attackerPort = event.source.port
        self.deckyIP = event.destination.ip
        self.deckyPort = event.destination.port
        self.fields = event.fieldValues
    }
}

struct Transcript: Codable, Sendable {
    var session: String
    var decky: String
    var service: String
    var started: Date
    var ended: Date
    var commands: [Line]

    struct Line: Codable, Sendable {
        var time: Date
        var command: String
    }
}

struct TranscriptList: Codable, ResponseEncodable {
    var ip: String
    var sessions: [Transcript]
}

struct HistogramBody: Codable, ResponseEncodable {
    var interval: Int
    var buckets: [HistogramBucket]
}

struct StatsBody: Codable, ResponseEncodable {
    var events: Int
    var attackers: Int
    var credentials: Int
    var eventsLastHour: Int
    var attackersToday: Int
    var traversals: Int
    var deckiesTotal: Int
    var deckiesRunning: Int

    enum CodingKeys: String, CodingKey {
        case events, attackers, credentials, traversals
        case eventsLastHour = "events_last_hour"
        case attackersToday = "attackers_today"
        case deckiesTotal = "deckies_total"
        case deckiesRunning = "deckies_running"
    }
}

struct ServiceBody: Codable, Sendable {
    var service: String
    var port: Int
    var listening: Bool
    var openConnections: Int
    var totalConnections: Int
    var note: String?

    enum CodingKeys: String, CodingKey {
        case service, port, listening, note
        case openConnections = "open_connections"
        case totalConnections = "total_connections"
    }
}

struct DeckyBody: Codable, Sendable, ResponseEncodable {
    var name: String
    /// `running`, `stopped`, `starting`, `failed`, or `planned` when no engine serves the fleet.
    var state: String
    var ip: String
    var mac: String
    var hostname: String
    var osFamily: String
    var distro: String
    var archetype: String?
    var services: [ServiceBody]
    var error: String?

    enum CodingKeys: String, CodingKey {
        case name, state, ip, mac, hostname, distro, archetype, services, error
        case osFamily = "os_family"
    }
}

struct FleetBody: Codable, ResponseEncodable {
    var deployed: Bool
    var driver: String?
    var engineRunning: Bool
    var deckies: [DeckyBody]

    enum CodingKeys: String, CodingKey {
        case deployed, driver, deckies
        case engineRunning = "engine_running"
    }
}

struct ActionBody: Codable, ResponseEncodable {
    var ok: Bool
    var report: [String]
    var decky: DeckyBody?
}

struct DeployRequest: Codable {
    enum Network: String, Codable {
        /// As the fleet file (or the host's default route) says: macvlan on a host NIC.
        case config
        /// On the lab LAN of namespaces (`--lab`).
        case lab
        /// On 127.x addresses (`--loopback`).
        case loopback
    }

    /// The fleet file, INI as `decnet deploy --config` reads it.
    var config: String
    var network: Network?
}

struct ComponentBody: Codable, Sendable {
    var name: String
    var running: Bool
    var pid: Int32?
    var detail: String?
}

struct HealthBody: Codable, ResponseEncodable {
    var status: String
    var version: String
    var uptimeSeconds: Int
    var store: StoreHealth
    var components: [ComponentBody]

    struct StoreHealth: Codable {
        var backend: String
        var ok: Bool
        var error: String?
        var counts: [String: Int]
    }

    enum CodingKeys: String, CodingKey {
        case status, version, store, components
        case uptimeSeconds = "uptime_seconds"
    }
}

struct ConfigBody: Codable, ResponseEncodable {
    var settings: [String: String]
}
