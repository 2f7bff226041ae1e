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
        guard let (kind, keys) = Self.kind(of: event) else { return nil }
        var payload: [String: String] = [:]
        for key in keys { if let value = Self.value(key, of: event) { payload[key] = value } }
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

    /// The kind and payload JSON of what an event yields (`JSONText.object(from(event).payload)`, written
    /// without the dictionary: the ingester makes one per login).
    static func row(for event: HoneypotEvent) -> (kind: String, payload: String)? {
        guard let (kind, keys) = Self.kind(of: event) else { return nil }
        var out: [UInt8] = [0x7B]
        for key in keys {
            guard let value = Self.value(key, of: event) else { continue }
            if out.count > 1 { out.append(0x2C) }
            JSONText.append(string: key, to: &out)
            out.append(0x3A)
            JSONText.append(string: value, to: &out)
        }
        out.append(0x7D)
        return (kind, String(decoding: out, as: UTF8.self))
    }

    /// The bounty's kind and the payload keys it may hold, sorted; nil when the event yields none.
    private static func kind(of event: HoneypotEvent) -> (String, [String])? {
        switch event.id {
        case .loginSuccess, .loginFailed:
            guard event[field: "username"] != nil || event[field: "password"] != nil else { return nil }
            return ("credential", Self.credentialKeys)
        case .clientFingerprint:
            guard Self.fingerprintKinds.contains(where: { event[field: $0] != nil }) else { return nil }
            return ("fingerprint", Self.fingerprintKeys)
        case .fileUpload, .sessionRecorded: return ("artifact", Self.artifactKeys)
        case .fileDownload: return ("download", Self.downloadKeys)
        default: return nil
        }
    }

    /// A payload value: the event's field, or the two the payload adds (`event_type`, and `success` on a
    /// successful login).
    private static func value(_ key: String, of event: HoneypotEvent) -> String? {
        switch key {
        case "event_type": event.id.rawValue
        case "success": event.id == .loginSuccess ? "true" : nil
        default: event[field: key]
        }
    }

    private static func keys(_ fields: [String]) -> [String] { (fields + ["event_type", "success"]).sorted() }
    private static let credentialKeys = Self.keys([
        "username", "password", "password_b64", "method", "key_type", "fingerprint",
    ])
    private static let fingerprintKeys = Self.keys(Self.fingerprintKinds)
    private static let artifactKeys = Self.keys(["filename", "format", "size", "sha256", "path"])
    private static let downloadKeys = Self.keys(["url", "tool", "filename"])

    static let fingerprintKinds = [
        "hassh", "ja3", "ja4", "user_agent", "client_version", "terminal", "ja4t", "tcp_signature", "os_guess",
    ]
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

    /// Whether the path's last hop is `decky` (the path alone, or its tail after " -> ").
    static func path(_ path: String, endsAt decky: String) -> Bool {
        guard path.hasSuffix(decky) else { return false }
        let head = path.utf8.dropLast(decky.utf8.count)
        return head.isEmpty || head.suffix(4).elementsEqual(" -> ".utf8)
    }

    /// Adds one event (events come in time order within a batch; the path follows arrival order).
    mutating func absorb(_ event: HoneypotEvent) {
        self.firstSeen = min(self.firstSeen, event.time)
        self.lastSeen = max(self.lastSeen, event.time)
        self.eventCount += 1
        if !self.deckies.contains(event.decky) { self.deckies.append(event.decky) }
        if !self.services.contains(event.service.rawValue) { self.services.append(event.service.rawValue) }
        // A new hop unless the path already ends at this decky (looked up at the end, not by splitting the
        // whole path, which grows with every hop).
        if self.traversalPath.isEmpty {
            self.traversalPath = event.decky
        } else if !Self.path(self.traversalPath, endsAt: event.decky) {
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
        var fold = AttackerFold()
        // A batch read from the log is in time order already: sorted only when it is not.
        let inOrder = zip(events, events.dropFirst()).allSatisfy { $0.time <= $1.time }
        for event in inOrder ? events : events.sorted(by: { $0.time < $1.time }) {
            fold.absorb(event) { known[$0] }
        }
        return fold.attackers
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
            JSONText.array(profile.deckies), JSONText.array(profile.services), JSONText.object(profile.fingerprints),
            JSONText.array(profile.commands)
        )
    }
}

extension HoneypotEvent {
    /// The event's fields as one JSON object in their order (the `logs.fields` column; a repeated name keeps
    /// its first value).
    var fieldsJSON: String { JSONText.object(self.fields) }
}

extension JSONText {
    static func decode<Value: Decodable>(_ type: Value.Type, _ text: String?) -> Value? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Events folded one at a time, in time order, into their attackers' profiles: the profile already stored is
/// asked for (`known`) when an address first comes up, or a new one is made.
struct AttackerFold {
    private var touched: [String: StoredAttacker] = [:]
    /// The time of the last event absorbed.
    private(set) var latest = Date.distantPast

    mutating func absorb(_ event: HoneypotEvent, known: (String) throws -> StoredAttacker?) rethrows {
        let ip = event.source.ip
        if self.touched[ip] == nil {
            self.touched[ip] =
                try known(ip)
                ?? StoredAttacker(uuid: UUID().uuidString.lowercased(), profile: AttackerProfile(first: event))
        }
        // Changed where it is kept: a copy taken out and put back would copy its sets on every change.
        self.touched[ip]!.profile.absorb(event)
        self.latest = max(self.latest, event.time)
    }

    /// Every profile touched, by address.
    var attackers: [StoredAttacker] {
        self.touched.values.sorted { $0.profile.ip < $1.profile.ip }
    }
}
