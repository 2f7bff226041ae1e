import DecnetCore
import Foundation

/// A harvested item (the seed's `bounty` table): a credential, a fingerprint, an uploaded artifact, a download.
public struct Bounty: Sendable, Equatable {
    public var eventUUID: UUID
    public var time: Date
    public var kind: String
    public var attackerIP: String
    public var decky: String
    public var service: String
    public var payload: [String: String]

    /// What an event yields, if anything.
    public static func from(_ event: HoneypotEvent) -> Bounty? {
        let kind: String
        let keys: [String]
        switch event.id {
        case .loginSuccess, .loginFailed:
            guard event[field: "username"] != nil || event[field: "password"] != nil else { return nil }
            kind = "credential"
            keys = ["username", "password", "password_b64", "method", "key_type", "fingerprint"]
        case .clientFingerprint:
            keys = Self.fingerprintKinds
            guard keys.contains(where: { event[field: $0] != nil }) else { return nil }
            kind = "fingerprint"
        case .fileUpload, .sessionRecorded:
            kind = "artifact"
            keys = ["filename", "format", "size", "sha256", "path"]
        case .fileDownload:
            kind = "download"
            keys = ["url", "tool", "filename"]
        default:
            return nil
        }
        var payload: [String: String] = [:]
        for key in keys { if let value = event[field: key] { payload[key] = value } }
        if event.id == .loginSuccess { payload["success"] = "true" }
        payload["event_type"] = event.id.rawValue
        return Bounty(
            eventUUID: event.uuid,
            time: event.time,
            kind: kind,
            attackerIP: event.source.ip,
            decky: event.decky,
            service: event.service.rawValue,
            payload: payload
        )
    }

    static let fingerprintKinds = ["hassh", "ja3", "ja4", "user_agent", "client_version", "terminal"]
}

extension AttackerProfile {
    /// A profile from its first event.
    init(first event: HoneypotEvent) {
        self.init(
            ip: event.source.ip,
            firstSeen: event.time,
            lastSeen: event.time,
            eventCount: 0,
            loginAttempts: 0,
            credentialCount: 0,
            commandCount: 0,
            deckies: [],
            services: [],
            traversalPath: "",
            fingerprints: [:],
            commands: []
        )
    }

    /// Adds one event (events come in time order within a batch; the path follows arrival order).
    mutating func absorb(_ event: HoneypotEvent) {
        self.firstSeen = min(self.firstSeen, event.time)
        self.lastSeen = max(self.lastSeen, event.time)
        self.eventCount += 1
        if !self.deckies.contains(event.decky) { self.deckies.append(event.decky) }
        if !self.services.contains(event.service.rawValue) { self.services.append(event.service.rawValue) }
        let hops = self.traversalPath.components(separatedBy: " -> ")
        if self.traversalPath.isEmpty {
            self.traversalPath = event.decky
        } else if hops.last != event.decky {
            self.traversalPath += " -> " + event.decky
        }
        switch event.id {
        case .loginSuccess, .loginFailed:
            self.loginAttempts += 1
            if event[field: "password"] != nil { self.credentialCount += 1 }
        case .commandInput:
            self.commandCount += 1
            let command = [event[field: "command"], event[field: "args"]].compactMap { $0 }.joined(separator: " ")
            self.commands.append(command)
            if self.commands.count > Self.maximumCommands {
                self.commands.removeFirst(self.commands.count - Self.maximumCommands)
            }
        case .clientFingerprint:
            for kind in Bounty.fingerprintKinds {
                guard let value = event[field: kind] else { continue }
                var values = self.fingerprints[kind, default: []]
                if !values.contains(value), values.count < 32 { values.append(value) }
                self.fingerprints[kind] = values
            }
        default:
            break
        }
    }
}

/// An attacker row: its stable uuid and the profile.
struct StoredAttacker {
    var uuid: String
    var profile: AttackerProfile

    /// Folds a batch of events (in time order) into the profiles already stored; returns every profile the
    /// batch touched.
    static func fold(_ events: [HoneypotEvent], into known: [String: StoredAttacker]) -> [StoredAttacker] {
        var touched = known.filter { _ in false }
        for event in events.sorted(by: { $0.time < $1.time }) {
            let ip = event.source.ip
            var attacker =
                touched[ip] ?? known[ip]
                ?? StoredAttacker(uuid: UUID().uuidString.lowercased(), profile: AttackerProfile(first: event))
            attacker.profile.absorb(event)
            touched[ip] = attacker
        }
        return touched.values.sorted { $0.profile.ip < $1.profile.ip }
    }

    /// The upsert's conflict clause, the same SQL in both stores: every column but the key and the uuid.
    static let upsertClause = """
        ON CONFLICT (ip) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
            event_count = excluded.event_count, login_attempts = excluded.login_attempts,
            credential_count = excluded.credential_count, command_count = excluded.command_count,
            is_traversal = excluded.is_traversal, traversal_path = excluded.traversal_path,
            deckies = excluded.deckies, services = excluded.services, fingerprints = excluded.fingerprints,
            commands = excluded.commands
        """

    /// The row's column values as both stores write them (times as RFC 3339 text, lists as JSON text).
    var columns:
        (
            ip: String, uuid: String, firstSeen: String, lastSeen: String, eventCount: Int, loginAttempts: Int,
            credentialCount: Int, commandCount: Int, isTraversal: Bool, traversalPath: String, deckies: String,
            services: String, fingerprints: String, commands: String
        )
    {
        let profile = self.profile
        return (
            profile.ip, self.uuid, RFC5424Formatter.timestamp(profile.firstSeen),
            RFC5424Formatter.timestamp(profile.lastSeen), profile.eventCount, profile.loginAttempts,
            profile.credentialCount, profile.commandCount, profile.isTraversal, profile.traversalPath,
            JSONText.encode(profile.deckies), JSONText.encode(profile.services), JSONText.encode(profile.fingerprints),
            JSONText.encode(profile.commands)
        )
    }
}

extension HoneypotEvent {
    /// The event's fields as one JSON object (the `logs.fields` column; a repeated name keeps its first value).
    var fieldsJSON: String { JSONText.object(self.fieldValues) }
}

/// JSON text for the store's JSON columns (sorted keys, so equal values are equal text).
enum JSONText {
    /// A string-to-string object, written directly: the ingester writes two per event, and JSONEncoder (one
    /// made per call, through Codable) was a large share of its time. Same text as `encode` gives.
    static func object(_ object: [String: String]) -> String {
        var out = "{"
        out.reserveCapacity(object.count * 32)
        var first = true
        for key in object.keys.sorted() {
            if !first { out.append(",") }
            first = false
            self.append(string: key, to: &out)
            out.append(":")
            self.append(string: object[key]!, to: &out)
        }
        out.append("}")
        return out
    }

    /// A JSON string literal (RFC 8259 §7: quote, backslash and control characters escaped).
    static func append(string: String, to out: inout String) {
        out.append("\"")
        var plain = true
        for byte in string.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            plain = false
            break
        }
        if plain {
            out.append(string)
        } else {
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": out.append("\\\"")
                case "\\": out.append("\\\\")
                case "\n": out.append("\\n")
                case "\r": out.append("\\r")
                case "\t": out.append("\\t")
                case "\u{08}": out.append("\\b")
                case "\u{0C}": out.append("\\f")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ text: String?) -> Value? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
