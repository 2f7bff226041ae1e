import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `mqtt` honeypot (1883): an MQTT broker, mosquitto by default.
///
/// Persona keys: `mqtt_version` (`mosquitto 2.0.18`; what `$SYS/broker/version` says), and DECNET-Swift's `users`
/// (logins that connect), `mqtt_anonymous` (`true` by default: an open broker, as the exposed ones attackers find
/// are) and `mqtt_topics` (`topic=value;topic=value`, the retained topic tree; default a small building's
/// sensors).
public struct MQTTService: HoneypotService {
    public static let kind: ServiceKind = "mqtt"

    let configuration: MQTTStateMachine.Configuration
    let store: MQTTRetainedStore
    let started = ContinuousClock.now
    /// How long the broker claims to have run when the decky starts (a broker up for days, not seconds).
    let uptimeOffset: Int

    static let defaultTopics: [(topic: String, payload: String)] = [
        ("home/livingroom/temperature", "21.6"), ("home/livingroom/humidity", "43"),
        ("home/garage/door", "closed"), ("home/alarm/state", "disarmed"),
        ("sensors/boiler/pressure", "1.8"), ("sensors/boiler/status", "ok"),
        ("cameras/front-door/status", "online"), ("zigbee2mqtt/bridge/state", "online"),
        ("homeassistant/status", "online"),
    ]

    public init(context: ServiceContext) throws {
        let version = context.persona["mqtt_version"] ?? "mosquitto 2.0.18"
        let brokerVersion =
            version.lowercased().hasPrefix("mosquitto ") && !version.lowercased().hasPrefix("mosquitto version")
            ? "mosquitto version " + version.dropFirst("mosquitto ".count) : version
        self.configuration = MQTTStateMachine.Configuration(
            brokerVersion: brokerVersion,
            anonymous: (context.persona["mqtt_anonymous"] ?? "true").lowercased() == "true",
            users: AcceptedCredentials(context.persona["users"]),
            passwordFile: context.persona["mqtt_password_file"]?.lowercased() != "no"
        )
        let topics: [(topic: String, payload: String)] =
            context.persona["mqtt_topics"].map { text in
                text.split(separator: ";").compactMap { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, MQTT.validFilter(String(parts[0])), !parts[0].contains("+"),
                        !parts[0].contains("#")
                    else { return nil }
                    return (String(parts[0]), String(parts[1]))
                }
            } ?? Self.defaultTopics
        self.store = MQTTRetainedStore(topics)
        self.uptimeOffset = 86_400 + abs(context.decky.hashValue % 1_000_000)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(MQTTPacketDecoder(), maximumBufferSize: MQTTPacketDecoder.maximumPacket + 8)
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<MQTTInbound, ByteBuffer>, session: SessionEvents) async throws {
        let started = self.started, offset = self.uptimeOffset
        var machine = MQTTStateMachine(configuration: self.configuration, store: self.store) {
            offset + Int((ContinuousClock.now - started).components.seconds)
        }
        try await ProtocolLoop.serve(connection, session: session) { packet in
            machine.received(packet).map { action -> ProtocolAction in
                switch action {
                case .send(let bytes): .send(bytes)
                case .emit(let id, let fields): .emit(id, fields)
                case .close: .close
                }
            }
        }
    }
}
