import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// The MQTT broker: CONNECT as mosquitto's clients and nmap send it (3.1.1 and 5), the persona's login policy,
/// retained topics on SUBSCRIBE, PUBLISH at every QoS, and hostile packets.
@Suite struct MQTTTests {
    static func machine(anonymous: Bool = true, users: String = "sensor:Tr0ub4dor") -> MQTTStateMachine {
        MQTTStateMachine(
            configuration: MQTTStateMachine.Configuration(
                brokerVersion: "mosquitto version 2.0.18",
                anonymous: anonymous,
                users: AcceptedCredentials(users)
            ),
            store: MQTTRetainedStore(MQTTService.defaultTopics),
            uptime: { 123_456 }
        )
    }

    /// A CONNECT as mosquitto_sub writes it: protocol "MQTT", the level, flags, keepalive 60, client id, credentials.
    static func connect(
        level: UInt8 = 4,
        clientID: String = "mosquitto_sub_1",
        user: String? = nil,
        password: String? = nil
    ) -> MQTTInbound {
        var flags: UInt8 = 0x02
        if user != nil { flags |= 0x80 }
        if password != nil { flags |= 0x40 }
        var body = MQTT.string("MQTT") + [level, flags, 0x00, 0x3C]
        if level == 5 { body += [0x00] }
        body += MQTT.string(clientID)
        if let user { body += MQTT.string(user) }
        if let password { body += MQTT.string(password) }
        return .packet(type: MQTT.connect, flags: 0, body: body)
    }

    static func subscribe(_ filters: [String], id: UInt16 = 1, five: Bool = false) -> MQTTInbound {
        var body = MQTT.id(id) + (five ? [0] : [])
        for filter in filters { body += MQTT.string(filter) + [0x00] }
        return .packet(type: MQTT.subscribe, flags: 0x02, body: body)
    }

    static func sent(_ actions: [MQTTStateMachine.Action]) -> [[UInt8]] {
        actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
    }

    static func fields(_ actions: [MQTTStateMachine.Action], _ id: EventID) -> [String: String] {
        for case .emit(id, let fields) in actions {
            return Dictionary(fields.fields.map { ($0.name, $0.value) }) { first, _ in first }
        }
        return [:]
    }

    /// The topics and payloads of the retained PUBLISHes among replies.
    static func published(_ replies: [[UInt8]], five: Bool = false) -> [(String, String)] {
        replies.filter { $0.first == 0x31 }.map { packet in
            var reader = MQTTReader(Array(packet.dropFirst(1 + MQTT.varint(packet.count - 2).count)))
            let topic = reader.string() ?? ""
            if five { _ = reader.skipProperties() }
            return (topic, String(decoding: reader.rest, as: UTF8.self))
        }
    }

    @Test func nmapsProbeIsAcceptedAnonymouslyAsItsMQTTLineReads() {
        var machine = Self.machine()
        let actions = machine.received(Self.connect(clientID: "nmap"))
        #expect(Self.sent(actions) == [[0x20, 0x02, 0x00, 0x00]])
        #expect(Self.fields(actions, .loginSuccess)["method"] == "anonymous")
        #expect(Self.fields(actions, .clientFingerprint)["client_id"] == "nmap")
    }

    @Test func theLoginPolicyIsThePersonas() {
        var accepted = Self.machine(anonymous: false)
        let login = accepted.received(Self.connect(user: "sensor", password: "Tr0ub4dor"))
        #expect(
            Self.sent(login) == [[0x20, 0x02, 0x00, 0x00]] && Self.fields(login, .loginSuccess)["username"] == "sensor"
        )
        var refused = Self.machine(anonymous: false)
        let wrong = refused.received(Self.connect(user: "admin", password: "admin"))
        #expect(
            Self.sent(wrong) == [[0x20, 0x02, 0x00, 0x05]] && wrong.last == .close,
            "not authorised, as mosquitto 2"
        )
        let failed = Self.fields(wrong, .loginFailed)
        #expect(
            failed["username"] == "admin" && failed["password"] == "admin" && failed["client_id"] == "mosquitto_sub_1"
        )
        var anonymous = Self.machine(anonymous: false)
        #expect(Self.sent(anonymous.received(Self.connect())) == [[0x20, 0x02, 0x00, 0x05]])
        var five = Self.machine(anonymous: false)
        #expect(
            Self.sent(five.received(Self.connect(level: 5, user: "x", password: "y"))) == [
                [0x20, 0x03, 0x00, 0x87, 0x00]
            ]
        )
        var unknownLevel = Self.machine()
        #expect(Self.sent(unknownLevel.received(Self.connect(level: 7))) == [[0x20, 0x02, 0x00, 0x01]])
        // mqtt_password_file = no: mosquitto 2 without a password file takes any credentials, and they are kept.
        var open = MQTTStateMachine(
            configuration: MQTTStateMachine.Configuration(
                brokerVersion: "mosquitto version 2.0.11",
                anonymous: true,
                users: AcceptedCredentials(nil),
                passwordFile: false
            ),
            store: MQTTRetainedStore(MQTTService.defaultTopics),
            uptime: { 1 }
        )
        let any = open.received(Self.connect(user: "admin", password: "wrong"))
        #expect(Self.sent(any) == [[0x20, 0x02, 0x00, 0x00]] && Self.fields(any, .loginSuccess)["password"] == "wrong")
    }

    @Test func subscriptionsGetTheRetainedTreeAndSysTopicsStayOutOfHash() {
        var machine = Self.machine()
        _ = machine.received(Self.connect())
        let actions = machine.received(Self.subscribe(["$SYS/#", "#"]))
        let replies = Self.sent(actions)
        #expect(replies.first == [0x90, 0x04, 0x00, 0x01, 0x00, 0x00], "SUBACK, QoS 0 granted twice")
        let published = Self.published(replies)
        #expect(published.contains { $0 == ("$SYS/broker/version", "mosquitto version 2.0.18") })
        #expect(published.contains { $0 == ("$SYS/broker/uptime", "123456 seconds") })
        #expect(published.contains { $0 == ("home/livingroom/temperature", "21.6") })
        #expect(published.filter { $0.0.hasPrefix("$SYS") }.count == 8, "# does not match $SYS topics")
        #expect(Self.fields(actions, .commandInput)["args"] == "$SYS/#,#")
        let invalid = machine.received(Self.subscribe(["home/#/x"], id: 2))
        #expect(Self.sent(invalid) == [[0x90, 0x03, 0x00, 0x02, 0x80]])
    }

    @Test func publishesAreAcknowledgedAtEveryQoSAndRetainedOnesKept() {
        let store = MQTTRetainedStore([])
        var machine = MQTTStateMachine(
            configuration: Self.machine().configuration,
            store: store,
            uptime: { 1 }
        )
        _ = machine.received(Self.connect())
        let qos0 = machine.received(
            .packet(type: MQTT.publish, flags: 0x01, body: MQTT.string("ransom/note") + Array("pay 1 BTC".utf8))
        )
        #expect(Self.sent(qos0).isEmpty)
        let event = Self.fields(qos0, .payloadReceived)
        #expect(event["topic"] == "ransom/note" && event["retain"] == "true" && event["preview"] == "pay 1 BTC")
        let qos1 = machine.received(
            .packet(type: MQTT.publish, flags: 0x02, body: MQTT.string("a/b") + [0x00, 0x07] + [1])
        )
        #expect(Self.sent(qos1) == [[0x40, 0x02, 0x00, 0x07]])
        let qos2 = machine.received(
            .packet(type: MQTT.publish, flags: 0x04, body: MQTT.string("a/b") + [0x00, 0x08] + [1])
        )
        #expect(Self.sent(qos2) == [[0x50, 0x02, 0x00, 0x08]])
        #expect(
            Self.sent(machine.received(.packet(type: MQTT.pubrel, flags: 0x02, body: [0x00, 0x08]))) == [
                [0x70, 0x02, 0x00, 0x08]
            ]
        )
        #expect(Self.sent(machine.received(.packet(type: MQTT.pingreq, flags: 0, body: []))) == [[0xD0, 0x00]])
        // A later subscriber, on another connection, sees the retained message.
        var later = MQTTStateMachine(configuration: Self.machine().configuration, store: store, uptime: { 1 })
        _ = later.received(Self.connect())
        #expect(Self.published(Self.sent(later.received(Self.subscribe(["ransom/#"])))).map(\.1) == ["pay 1 BTC"])
        #expect(machine.received(.packet(type: MQTT.disconnect, flags: 0, body: [])) == [.close])
    }

    @Test func mqtt5GetsPropertiesInItsAnswers() {
        var machine = Self.machine()
        let connack = Self.sent(machine.received(Self.connect(level: 5, clientID: "")))
        let reply = connack.first ?? []
        #expect(Array(reply.prefix(4)) == [0x20, UInt8(reply.count - 2), 0x00, 0x00])
        #expect(
            reply.indices.contains { reply[$0...].starts(with: [0x12, 0x00, 41] + Array("auto-".utf8)) },
            "assigned client id"
        )
        let replies = Self.sent(machine.received(Self.subscribe(["$SYS/broker/version"], five: true)))
        #expect(replies.first == [0x90, 0x04, 0x00, 0x01, 0x00, 0x00])
        #expect(Self.published(replies, five: true).map(\.1) == ["mosquitto version 2.0.18"])
    }

    @Test func filtersMatchAsTheSpecificationSays() {
        #expect(MQTT.matches("#", "a/b") && MQTT.matches("a/+/c", "a/b/c") && MQTT.matches("a/#", "a"))
        #expect(!MQTT.matches("#", "$SYS/broker/version") && MQTT.matches("$SYS/#", "$SYS/broker/version"))
        #expect(!MQTT.matches("a/+", "a/b/c") && !MQTT.matches("+", "$SYS"))
        #expect(
            MQTT.validFilter("a/+/#") && !MQTT.validFilter("a#") && !MQTT.validFilter("a/b+") && !MQTT.validFilter("")
        )
    }

    @Test func hostilePacketsAreClosedNeverCrash() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(MQTTPacketDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
        #expect(
            try channel.readInbound(as: MQTTInbound.self)
                == .invalid("remaining length over four bytes", [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        )
        _ = try channel.finish()
        var early = Self.machine()
        #expect(early.received(Self.subscribe(["#"])).last == .close, "nothing before CONNECT")
        var twice = Self.machine()
        _ = twice.received(Self.connect())
        #expect(twice.received(Self.connect()).last == .close)
        var generator = SeededGenerator(seed: 1883)
        guard case .packet(_, _, let connectBody) = Self.connect(level: 5, user: "u", password: "p"),
            case .packet(_, _, let subscribeBody) = Self.subscribe(["a/#", "$SYS/#"], five: true)
        else { return }
        for _ in 0..<3000 {
            var machine = Self.machine()
            var first = connectBody, second = subscribeBody
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                first[Int.random(in: 0..<first.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                second[Int.random(in: 0..<second.count, using: &generator)] = UInt8.random(
                    in: 0...255,
                    using: &generator
                )
            }
            if Bool.random(using: &generator) {
                first = Array(first.prefix(Int.random(in: 0..<first.count, using: &generator)))
            }
            _ = machine.received(.packet(type: MQTT.connect, flags: 0, body: first))
            _ = machine.received(.packet(type: MQTT.subscribe, flags: 0x02, body: second))
            _ = machine.received(
                .packet(type: MQTT.publish, flags: UInt8.random(in: 0...15, using: &generator), body: second)
            )
        }
    }
}
