import Crypto
import DecnetCore
import DecnetStore
import Foundation

/// A webhook subscription (`webhook` documents): where to deliver which bus messages, in which format, signed
/// with which secret.
public struct WebhookSubscription: Sendable, Codable, Equatable {
    public enum Format: String, Sendable, Codable, CaseIterable {
        /// DECNET's own JSON (`{"v":1,"id","ts","topic","payload"}`), for SIEMs and SOAR.
        case json
        /// Chat incoming webhooks: a readable line (Slack and Discord) or a MessageCard (Microsoft Teams).
        case slack, discord, teams
    }

    public var uuid: String
    public var name: String
    public var url: String
    /// `whsec_` and 32 random bytes in base64 (Standard Webhooks' form).
    public var secret: String
    public var format: Format
    /// Subject patterns (`attacker.scored`, `identity.>`, `ttp.rule.fired.*`).
    public var topics: [String]
    public var enabled: Bool
    public var created: Date
    /// Only messages about these deckies (a payload's `decky`); nil or empty: every decky.
    public var deckies: [String]?
    /// Only events of this syslog severity or worse (0 emergency … 7 debug; a canary trigger is 1, a refusal or
    /// malformed input 4, a login 5); messages that are not events pass only when it is unset.
    public var severity: Int?

    public init(
        uuid: String = UUID().uuidString.lowercased(),
        name: String,
        url: String,
        secret: String = WebhookSubscription.newSecret(),
        format: Format = .json,
        topics: [String],
        enabled: Bool = true,
        created: Date = Date()
    ) {
        self.uuid = uuid
        self.name = name
        self.url = url
        self.secret = secret
        self.format = format
        self.topics = topics
        self.enabled = enabled
        self.created = created
    }

    public static func newSecret() -> String {
        "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Refuses what cannot be delivered: a URL that is not http(s) with a host, a bad subject pattern, no topic.
    public func validate() throws {
        guard let url = URL(string: self.url), let scheme = url.scheme?.lowercased(),
            ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else {
            throw Invalid(
                description: "url must be an http:// or https:// address with a host: '\(self.url.prefix(200))'"
            )
        }
        guard !self.topics.isEmpty else {
            throw Invalid(description: "name at least one topic (a subject pattern such as attacker.>)")
        }
        for topic in self.topics {
            do {
                _ = try Subject.pattern(topic)
            } catch {
                throw Invalid(description: "topic '\(topic.prefix(100))': \(error)")
            }
        }
        guard self.secret.hasPrefix("whsec_"), Data(base64Encoded: String(self.secret.dropFirst(6))) != nil else {
            throw Invalid(description: "the secret must be whsec_ followed by base64")
        }
        if let severity = self.severity, !(0...7).contains(severity) {
            throw Invalid(description: "severity must be a syslog severity, 0 (emergency) to 7 (debug): \(severity)")
        }
    }

    /// Whether a message's payload passes the decky and severity filters (always, when there are none).
    public func passes(_ payload: [UInt8]) -> Bool {
        let deckies = self.deckies ?? []
        guard !deckies.isEmpty || self.severity != nil else { return true }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else {
            return false
        }
        if !deckies.isEmpty {
            guard let decky = object["decky"] as? String, deckies.contains(decky) else { return false }
        }
        if let severity = self.severity {
            guard let type = object["event_type"] as? String,
                RFC5424Formatter.severity(of: EventID(rawValue: type)) <= severity
            else { return false }
        }
        return true
    }

    /// Whether a message on `subject` goes to this subscription.
    public func wants(_ subject: String) -> Bool {
        guard self.enabled, let subject = try? Subject(subject) else { return false }
        return self.topics.contains { (try? Subject.pattern($0))?.matches(subject) ?? false }
    }
}

/// One delivery: the body for the subscription's format and the Standard Webhooks headers (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`): the signature covers
/// the time, so a captured delivery cannot be replayed later (receivers reject a timestamp more than 5 minutes
/// off), and the id, the same on every retry, lets a receiver drop duplicates. The seed signs the body only.
public struct WebhookDelivery: Sendable, Equatable {
    public let id: String
    public let subject: String
    public let body: [UInt8]
    public let headers: [(String, String)]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.id == rhs.id && lhs.body == rhs.body && lhs.headers.map { $0.0 + $0.1 } == rhs.headers.map { $0.0 + $0.1 }
    }

    public init(subscription: WebhookSubscription, subject: String, payload: [UInt8], id: String, time: Date) {
        self.id = id
        self.subject = subject
        self.body = Self.body(subscription.format, subject: subject, payload: payload, id: id, time: time)
        let timestamp = String(Int(time.timeIntervalSince1970))
        self.headers = [
            ("content-type", "application/json"), ("user-agent", "DECNET-Swift-webhook/1"), ("webhook-id", id),
            ("webhook-timestamp", timestamp),
            (
                "webhook-signature",
                "v1," + Self.signature(secret: subscription.secret, id: id, timestamp: timestamp, body: self.body)
            ),
        ]
    }

    /// Standard Webhooks' signature: HMAC-SHA256 keyed with the secret's bytes over `id.timestamp.body`.
    public static func signature(secret: String, id: String, timestamp: String, body: [UInt8]) -> String {
        let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst("whsec_".count))) ?? Data())
        var message = Array("\(id).\(timestamp).".utf8)
        message += body
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    static func body(
        _ format: WebhookSubscription.Format,
        subject: String,
        payload: [UInt8],
        id: String,
        time: Date
    ) -> [UInt8] {
        let object =
            (try? JSONSerialization.jsonObject(with: Data(payload))) ?? String(decoding: payload, as: UTF8.self)
        let summary = Self.summary(subject, object)
        let value: [String: Any]
        switch format {
        case .json:
            value = ["v": 1, "id": id, "ts": RFC5424Formatter.timestamp(time), "topic": subject, "payload": object]
        case .slack:
            value = ["text": summary]
        case .discord:
            value = ["content": String(summary.prefix(2000)), "allowed_mentions": ["parse": [String]()]]
        case .teams:
            value = [
                "@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": subject,
                "title": "DECNET: \(subject)", "text": summary,
            ]
        }
        let data =
            (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return Array(data)
    }

    /// One line a person reads in a chat: the subject and what matters in the payload.
    static func summary(_ subject: String, _ payload: Any) -> String {
        guard let fields = payload as? [String: Any] else { return "DECNET \(subject)" }
        var parts: [String] = []
        for key in [
            "attacker_ip", "behaviour", "score", "technique", "name", "rule", "identity_uuid", "campaign_uuid", "decky",
            "state",
        ] {
            if let value = fields[key] { parts.append("\(key)=\(value)") }
        }
        if let evidence = fields["evidence"] as? String { parts.append(String(evidence.prefix(200))) }
        // Chat markup an attacker could put in its own strings is shown as text.
        let text = parts.joined(separator: " ").replacingOccurrences(of: "<", with: "‹").replacingOccurrences(
            of: ">",
            with: "›"
        )
        .replacingOccurrences(of: "@", with: "@\u{200B}")
        return "DECNET \(subject): \(text)"
    }
}

/// Subscriptions in the store.
public enum WebhookStore {
    public static func all(_ store: any EventStore) async throws -> [WebhookSubscription] {
        try await store.intelDocuments(kind: "webhook").compactMap { $0.decode(WebhookSubscription.self) }
            .sorted { ($0.created, $0.uuid) < ($1.created, $1.uuid) }
    }

    public static func save(_ subscription: WebhookSubscription, in store: any EventStore) async throws {
        try subscription.validate()
        try await store.putIntelDocuments(
            [try IntelDocument(kind: "webhook", key: subscription.uuid, value: subscription, updated: Date())],
            deleting: []
        )
    }

    public static func delete(_ uuid: String, in store: any EventStore) async throws -> Bool {
        guard try await store.intelDocument(kind: "webhook", key: uuid) != nil else { return false }
        try await store.putIntelDocuments(
            [],
            deleting: [(kind: "webhook", key: uuid), (kind: Self.logKind, key: uuid)]
        )
        return true
    }

    /// The delivery log: one `webhook-log` document per subscription holding its latest attempts.
    static let logKind = "webhook-log"
    /// Attempts kept per subscription.
    public static let logLimit = 200

    struct Log: Codable {
        var attempts: [WebhookDispatcher.Attempt]
    }

    /// A subscription's latest delivery attempts, newest first.
    public static func deliveries(_ uuid: String, in store: any EventStore) async throws -> [WebhookDispatcher.Attempt]
    {
        let log = try await store.intelDocument(kind: Self.logKind, key: uuid)?.decode(Log.self)
        return (log?.attempts ?? []).reversed()
    }

    /// Adds an attempt to its subscription's log (one sender per subscription writes it, so nothing races).
    public static func append(_ attempt: WebhookDispatcher.Attempt, in store: any EventStore) async throws {
        var log =
            try await store.intelDocument(kind: Self.logKind, key: attempt.subscription)?.decode(Log.self)
            ?? Log(attempts: [])
        log.attempts.append(attempt)
        if log.attempts.count > Self.logLimit { log.attempts.removeFirst(log.attempts.count - Self.logLimit) }
        try await store.putIntelDocuments(
            [try IntelDocument(kind: Self.logKind, key: attempt.subscription, value: log, updated: attempt.time)],
            deleting: []
        )
    }
}
