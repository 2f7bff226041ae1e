import DecnetCore
import DecnetServiceKit
import Synchronization

/// The retained messages of one decky's broker, shared by its connections: the persona's topic tree, and what
/// clients publish with the retain flag (bounded), so a later subscriber sees an attacker's message as a real
/// broker would show it.
final class MQTTRetainedStore: Sendable {
    static let maximumTopics = 256
    static let maximumPayload = 16 * 1024

    private let messages: Mutex<[String: [UInt8]]>

    init(_ initial: [(topic: String, payload: String)]) {
        self.messages = Mutex(Dictionary(initial.map { ($0.topic, Array($0.payload.utf8)) }) { first, _ in first })
    }

    var snapshot: [String: [UInt8]] { self.messages.withLock { $0 } }

    /// Stores (or, for an empty payload, clears) a retained message, within the bounds.
    func retain(_ topic: String, _ payload: [UInt8]) {
        self.messages.withLock { messages in
            if payload.isEmpty {
                messages[topic] = nil
            } else if messages[topic] != nil || messages.count < Self.maximumTopics {
                messages[topic] = Array(payload.prefix(Self.maximumPayload))
            }
        }
    }
}

/// An MQTT broker (mosquitto by default) as clients and nmap see it, without I/O: CONNECT for 3.1, 3.1.1 and 5 with
/// the client id, user name and password captured, CONNACK by the persona's policy (anonymous access, `users`),
/// SUBSCRIBE answered with the retained messages of the persona's topic tree and the broker's `$SYS` topics
/// (nmap's mqtt-subscribe names the broker from `$SYS/broker/version`), PUBLISH acknowledged at every QoS and
/// recorded, PINGREQ, UNSUBSCRIBE and DISCONNECT.
struct MQTTStateMachine {
    enum Action: Equatable {
        case send([UInt8])
        case emit(EventID, EventFields)
        case close
    }

    struct Configuration: Sendable {
        /// What `$SYS/broker/version` says ("mosquitto version 2.0.18").
        var brokerVersion: String
        /// Whether a CONNECT without credentials is accepted (`mqtt_anonymous`).
        var anonymous: Bool
        var users: AcceptedCredentials
        /// Whether credentials are checked (a mosquitto `password_file`, `mqtt_password_file`, default yes);
        /// without one, mosquitto 2 takes any user name and password as it takes anonymous clients.
        var passwordFile = true
    }

    enum State: Equatable {
        case awaitingConnect
        case connected(level: UInt8)
        case closed
    }

    static let maximumSubscriptions = 64

    let configuration: Configuration
    let store: MQTTRetainedStore
    /// Seconds since the broker started, for `$SYS/broker/uptime`.
    var uptime: () -> Int
    private(set) var state = State.awaitingConnect
    private var subscriptions = 0
    private var received = 0

    init(configuration: Configuration, store: MQTTRetainedStore, uptime: @escaping () -> Int) {
        self.configuration = configuration
        self.store = store
        self.uptime = uptime
    }

    mutating func received(_ inbound: MQTTInbound) -> [Action] {
        switch (self.state, inbound) {
        case (.closed, _):
            return []
        case (_, .invalid(let problem, let bytes)):
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: bytes)), .close]
        case (.awaitingConnect, .packet(MQTT.connect, _, let body)):
            return self.connect(body)
        case (.awaitingConnect, .packet(let type, _, let body)):
            // Anything before CONNECT: the broker drops the connection (MQTT 3.1.1 §3.1).
            self.state = .closed
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("MQTT packet type \(type) before CONNECT", preview: body)
                ),
                .close,
            ]
        case (.connected(let level), .packet(let type, let flags, let body)):
            return self.connected(type, flags, body, level: level)
        }
    }

    private mutating func connect(_ body: [UInt8]) -> [Action] {
        guard let connect = MQTTConnect(body), ["MQTT", "MQIsdp"].contains(connect.protocolName) else {
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("CONNECT that does not parse", preview: body)), .close,
            ]
        }
        var fingerprint = EventFields()
        fingerprint.add("client", "mqtt")
        fingerprint.add("client_id", attackerText: connect.clientID)
        fingerprint.add(
            "protocol",
            connect.level == 5 ? "5" : connect.level == 4 ? "3.1.1" : connect.level == 3 ? "3.1" : "\(connect.level)"
        )
        fingerprint.add("keepalive", String(connect.keepAlive))
        fingerprint.add("clean_session", connect.cleanSession ? "true" : "false")
        if let topic = connect.willTopic { fingerprint.add("will_topic", attackerText: topic) }
        var actions: [Action] = [.emit(.clientFingerprint, fingerprint)]
        guard [3, 4, 5].contains(connect.level) else {
            // Unacceptable protocol level: CONNACK 1 (3.1.1's answer; mosquitto gives it to any level it lacks).
            self.state = .closed
            return actions + [.send(MQTT.packet(MQTT.connack, [0, 1])), .close]
        }
        var login = EventFields()
        login.add("username", attackerBytes: connect.username ?? [])
        if let password = connect.password { login.add("password", attackerBytes: password, secret: true) }
        login.add("method", connect.username == nil ? "anonymous" : "mqtt")
        login.add("client_id", attackerText: connect.clientID)
        let accepted: Bool
        if let username = connect.username, self.configuration.passwordFile {
            accepted = self.configuration.users.accepts(user: username, password: connect.password ?? [])
        } else {
            accepted = self.configuration.anonymous
        }
        let five = connect.level == 5
        guard accepted else {
            // mosquitto 2 answers "not authorised" (5; 0x87 in MQTT 5) to a refused login, then closes.
            self.state = .closed
            let refused = five ? MQTT.packet(MQTT.connack, [0, 0x87, 0]) : MQTT.packet(MQTT.connack, [0, 5])
            return actions + [.emit(.loginFailed, login), .send(refused), .close]
        }
        if connect.clientID.isEmpty && !connect.cleanSession && !five {
            // 3.1.1 §3.1.3.1: an empty client id needs a clean session.
            self.state = .closed
            return actions + [.emit(.loginFailed, login), .send(MQTT.packet(MQTT.connack, [0, 2])), .close]
        }
        self.state = .connected(level: connect.level)
        actions.append(.emit(.loginSuccess, login))
        if five {
            // Properties as mosquitto 2 sends them: topic alias maximum, and the id it assigned to an empty one.
            var properties: [UInt8] = [0x22, 0x00, 0x0A]
            if connect.clientID.isEmpty {
                properties += [0x12] + MQTT.string("auto-" + Self.randomID())
            }
            return actions + [.send(MQTT.packet(MQTT.connack, [0, 0] + MQTT.varint(properties.count) + properties))]
        }
        return actions + [.send(MQTT.packet(MQTT.connack, [0, 0]))]
    }

    private mutating func connected(_ type: UInt8, _ flags: UInt8, _ body: [UInt8], level: UInt8) -> [Action] {
        let five = level == 5
        var reader = MQTTReader(body)
        switch type {
        case MQTT.subscribe:
            guard flags == 0x02, let id = reader.uint16(), !five || reader.skipProperties() else {
                return self.violation("SUBSCRIBE that does not parse", body)
            }
            var filters: [(String, UInt8)] = []
            while reader.remaining > 0 {
                guard let filter = reader.string(), let options = reader.byte() else {
                    return self.violation("SUBSCRIBE filter that does not parse", body)
                }
                filters.append((filter, options & 0x03))
            }
            guard !filters.isEmpty else { return self.violation("SUBSCRIBE without a filter", body) }
            var fields = EventFields()
            fields.add("command", "SUBSCRIBE")
            fields.add("args", attackerText: filters.map(\.0).joined(separator: ","))
            var codes: [UInt8] = []
            var deliveries: [Action] = []
            let retained = self.retained()
            for (filter, qos) in filters {
                guard MQTT.validFilter(filter), self.subscriptions < Self.maximumSubscriptions else {
                    codes.append(five ? 0x8F : 0x80)
                    continue
                }
                self.subscriptions += 1
                codes.append(min(qos, 2))
                for topic in retained.keys.sorted() where MQTT.matches(filter, topic) {
                    deliveries.append(.send(self.publish(topic, retained[topic]!, five: five)))
                }
            }
            let ack = MQTT.id(id) + (five ? [0] : []) + codes
            return [.emit(.commandInput, fields), .send(MQTT.packet(MQTT.suback, ack))] + deliveries
        case MQTT.unsubscribe:
            guard flags == 0x02, let id = reader.uint16(), !five || reader.skipProperties() else {
                return self.violation("UNSUBSCRIBE that does not parse", body)
            }
            var filters: [String] = []
            while reader.remaining > 0, let filter = reader.string() { filters.append(filter) }
            var fields = EventFields()
            fields.add("command", "UNSUBSCRIBE")
            fields.add("args", attackerText: filters.joined(separator: ","))
            let ack = MQTT.id(id) + (five ? [0] + [UInt8](repeating: 0, count: filters.count) : [])
            return [.emit(.commandInput, fields), .send(MQTT.packet(MQTT.unsuback, ack))]
        case MQTT.publish:
            let qos = (flags >> 1) & 0x03
            guard qos < 3, let topic = reader.string(), !topic.contains("+"), !topic.contains("#") else {
                return self.violation("PUBLISH that does not parse", body)
            }
            var id: UInt16 = 0
            if qos > 0 {
                guard let packetID = reader.uint16() else { return self.violation("PUBLISH without an id", body) }
                id = packetID
            }
            if five { guard reader.skipProperties() else { return self.violation("PUBLISH properties", body) } }
            let payload = reader.rest
            self.received += 1
            var fields = EventFields()
            fields.add("kind", "mqtt-publish")
            fields.add("topic", attackerText: topic)
            fields.add("qos", String(qos))
            fields.add("retain", flags & 0x01 != 0 ? "true" : "false")
            fields.add("size", String(payload.count))
            fields.add("sha256", ArtifactStore.sha256(payload))
            fields.add("preview", attackerBytes: payload.prefix(200))
            if flags & 0x01 != 0 { self.store.retain(topic, payload) }
            let ack: [Action] =
                switch qos {
                case 1: [.send(MQTT.packet(MQTT.puback, MQTT.id(id)))]
                case 2: [.send(MQTT.packet(MQTT.pubrec, MQTT.id(id)))]
                default: []
                }
            return [.emit(.payloadReceived, fields)] + ack
        case MQTT.pubrel:
            guard let id = reader.uint16() else { return self.violation("PUBREL without an id", body) }
            return [.send(MQTT.packet(MQTT.pubcomp, MQTT.id(id)))]
        case MQTT.puback, MQTT.pubrec, MQTT.pubcomp:
            return []
        case MQTT.pingreq:
            return [.send(MQTT.packet(MQTT.pingresp, []))]
        case MQTT.disconnect:
            self.state = .closed
            return [.close]
        case MQTT.connect:
            // A second CONNECT is a protocol violation (MQTT 3.1.1 §3.1.0-2).
            return self.violation("second CONNECT", body)
        default:
            return self.violation("MQTT packet type \(type)", body)
        }
    }

    private mutating func violation(_ problem: String, _ body: [UInt8]) -> [Action] {
        self.state = .closed
        return [.emit(.clientMalformed, EventFields.malformed(problem, preview: body)), .close]
    }

    /// A retained message as the broker delivers it on a new subscription: QoS 0, the retain flag set.
    func publish(_ topic: String, _ payload: [UInt8], five: Bool) -> [UInt8] {
        MQTT.packet(MQTT.publish, flags: 0x01, MQTT.string(topic) + (five ? [0] : []) + payload)
    }

    /// The persona's retained messages and mosquitto's `$SYS` topics, as of now.
    func retained() -> [String: [UInt8]] {
        var messages = self.store.snapshot
        let uptime = self.uptime()
        let system: [(String, String)] = [
            ("$SYS/broker/version", self.configuration.brokerVersion),
            ("$SYS/broker/uptime", "\(uptime) seconds"),
            ("$SYS/broker/clients/total", "\(3 + uptime / 86_400)"),
            ("$SYS/broker/clients/connected", "2"),
            ("$SYS/broker/messages/received", "\(uptime / 9 + self.received)"),
            ("$SYS/broker/messages/sent", "\(uptime / 7)"),
            ("$SYS/broker/subscriptions/count", "\(4 + self.subscriptions)"),
            ("$SYS/broker/retained messages/count", "\(messages.count + 13)"),
        ]
        for (topic, value) in system { messages[topic] = Array(value.utf8) }
        return messages
    }

    static func randomID() -> String {
        var generator = PooledRandom()
        let digits = Array("0123456789ABCDEF")
        return String(
            (0..<36).map { index in
                [8, 13, 18, 23].contains(index) ? "-" : digits[Int.random(in: 0..<16, using: &generator)]
            }
        )
    }
}
