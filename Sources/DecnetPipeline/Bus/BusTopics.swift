import DecnetCore
import Foundation

/// The seed's topic hierarchy, as DECNET-Swift publishes it today:
///
/// | Subject | Published by | When |
/// |---|---|---|
/// | `attacker.observed` | workers (ingester) | every event stored for the first time |
/// | `attacker.session.started` / `.ended` | workers | a connection opened / closed |
/// | `credential.captured` | workers | an event carrying a username or password |
/// | `credential.reuse.detected` | workers | the same username and password in another session (`CredentialReuseDetector`) |
/// | `canary.{id}.triggered` | workers | a `canary.triggered` event: a planted token was used |
/// | `decky.{name}.state` | engine | a decky started, stopped, restarted or removed |
/// | `attacker.scored` | profiler | an attacker's class, score or phases changed |
/// | `identity.formed` / `.merged` / `.unmerged` / `.observation.linked` | profiler | identities changed (`IdentityChange`) |
/// | `campaign.formed` / `.merged` / `.identity.assigned` | profiler | campaigns changed (`CampaignChange`) |
/// | `ttp.tagged`, `ttp.rule.fired.{technique}` | profiler | an attacker got a technique tag it did not have |
/// | `system.{worker}.health` | every daemon | every 10 s |
public enum BusTopics {
    public static func socket(stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("decnet-bus.sock")
    }

    /// What `attacker.*` and `credential.captured` messages carry: the event's columns (`attacker_ip`,
    /// `attacker_port`, `decky`, `decky_ip`, `decky_port`, `event_type`, `service`, `session`, `time`, `uuid`;
    /// sorted keys) and its `fields` object (in their order, a repeated name's first value). Written directly,
    /// since the ingester publishes every event it stores; the time is RFC 3339 with microseconds, as the store
    /// keeps it.
    public static func payload(_ event: HoneypotEvent) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(400)
        func key(_ name: StaticString) {
            out.append(out.isEmpty ? 0x7B : 0x2C)
            out.append(0x22)
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [0x22, 0x3A])
        }
        key("attacker_ip")
        JSONText.append(string: event.source.ip, to: &out)
        key("attacker_port")
        out.append(contentsOf: String(event.source.port).utf8)
        key("decky")
        JSONText.append(string: event.decky, to: &out)
        key("decky_ip")
        JSONText.append(string: event.destination.ip, to: &out)
        key("decky_port")
        out.append(contentsOf: String(event.destination.port).utf8)
        key("event_type")
        JSONText.append(string: event.id.rawValue, to: &out)
        key("fields")
        JSONText.append(fields: event.fields, to: &out)
        key("service")
        JSONText.append(string: event.service.rawValue, to: &out)
        key("session")
        JSONText.append(string: event.session, to: &out)
        key("time")
        JSONText.append(string: RFC5424Formatter.timestamp(event.time), to: &out)
        key("uuid")
        JSONText.append(string: event.uuid.lowercasedText, to: &out)
        out.append(0x7D)
        return out
    }

    // The fixed subjects, parsed once rather than per event.
    static let observed = try! Subject("attacker.observed")
    static let sessionStarted = try! Subject("attacker.session.started")
    static let sessionEnded = try! Subject("attacker.session.ended")
    static let credentialCaptured = try! Subject("credential.captured")

    /// The subjects an event stored for the first time is published on.
    public static func subjects(for event: HoneypotEvent) -> [Subject] {
        if event.id == .canaryTriggered, let token = event.fields.first(where: { $0.name == "token" })?.value,
            CanaryToken.isID(token), let subject = try? Subject("canary.\(token.lowercased()).triggered")
        {
            return [Self.observed, subject]
        }
        let credential = event.fields.contains { $0.name == "password" || $0.name == "username" }
        switch event.id {
        case .connectionOpen: return credential ? Self.openedWithCredential : Self.opened
        case .connectionClose: return credential ? Self.endedWithCredential : Self.ended
        default: return credential ? Self.observedWithCredential : Self.observedOnly
        }
    }

    // Every list `subjects(for:)` gives, made once.
    private static let observedOnly = [Self.observed]
    private static let observedWithCredential = [Self.observed, Self.credentialCaptured]
    private static let opened = [Self.observed, Self.sessionStarted]
    private static let openedWithCredential = [Self.observed, Self.sessionStarted, Self.credentialCaptured]
    private static let ended = [Self.observed, Self.sessionEnded]
    private static let endedWithCredential = [Self.observed, Self.sessionEnded, Self.credentialCaptured]

    /// Publishes what the ingester stored.
    public static func publish(_ events: [HoneypotEvent], on publisher: BusPublisher) {
        for event in events {
            // With no broker to take them, the messages of a full queue are counted, not made.
            if publisher.wouldDrop {
                publisher.dropped(Self.subjects(for: event).count)
                continue
            }
            // One payload per event, whatever number of subjects carry it.
            let payload = Self.payload(event)
            for subject in Self.subjects(for: event) { publisher.publish(subject, payload) }
        }
    }

    /// `decky.{name}.state`.
    public struct DeckyState: Codable, Sendable, Equatable {
        public var decky: String
        public var state: String
        public var time: Date

        public init(decky: String, state: String, time: Date = Date()) {
            self.decky = decky
            self.state = state
            self.time = time
        }
    }

    /// `system.{worker}.health`.
    public struct Health: Codable, Sendable {
        public var worker: String
        public var pid: Int32
        public var time: Date
        public var uptimeSeconds: Int
        public var details: [String: String]

        public init(worker: String, started: Date, details: [String: String] = [:]) {
            self.worker = worker
            self.pid = getpid()
            self.time = Date()
            self.uptimeSeconds = Int(Date().timeIntervalSince(started))
            self.details = details
        }
    }

    /// Publishes `system.{worker}.health` every `interval` until cancelled.
    public static func heartbeat(
        _ worker: String,
        on publisher: BusPublisher,
        every interval: Duration = .seconds(10),
        details: @escaping @Sendable () -> [String: String] = { [:] }
    ) async {
        let started = Date()
        while !Task.isCancelled {
            publisher.publish(
                "system.\(worker).health",
                json: Health(worker: worker, started: started, details: details())
            )
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
