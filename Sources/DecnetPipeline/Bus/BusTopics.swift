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
/// | `decky.{name}.state` | engine | a decky started, stopped, restarted or removed |
/// | `system.{worker}.health` | every daemon | every 10 s |
public enum BusTopics {
    public static func socket(stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("decnet-bus.sock")
    }

    /// What `attacker.*` and `credential.*` messages carry: the event, its fields as an object.
    public struct Observation: Codable, Sendable, Equatable {
        public var uuid: String
        public var time: Date
        public var eventType: String
        public var decky: String
        public var service: String
        public var session: String
        public var attackerIP: String
        public var attackerPort: Int
        public var deckyIP: String
        public var deckyPort: Int
        public var fields: [String: String]

        enum CodingKeys: String, CodingKey {
            case uuid, time, decky, service, session, fields
            case eventType = "event_type"
            case attackerIP = "attacker_ip"
            case attackerPort = "attacker_port"
            case deckyIP = "decky_ip"
            case deckyPort = "decky_port"
        }

        public init(_ event: HoneypotEvent) {
            self.uuid = event.uuid.uuidString.lowercased()
            self.time = event.time
            self.eventType = event.id.rawValue
            self.decky = event.decky
            self.service = event.service.rawValue
            self.session = event.session
            self.attackerIP = event.source.ip
            self.attackerPort = event.source.port
            self.deckyIP = event.destination.ip
            self.deckyPort = event.destination.port
            self.fields = event.fieldValues
        }
    }

    // The fixed subjects, parsed once rather than per event.
    static let observed = try! Subject("attacker.observed")
    static let sessionStarted = try! Subject("attacker.session.started")
    static let sessionEnded = try! Subject("attacker.session.ended")
    static let credentialCaptured = try! Subject("credential.captured")

    /// The subjects an event stored for the first time is published on.
    public static func subjects(for event: HoneypotEvent) -> [Subject] {
        var subjects = [Self.observed]
        switch event.id {
        case .connectionOpen: subjects.append(Self.sessionStarted)
        case .connectionClose: subjects.append(Self.sessionEnded)
        default: break
        }
        if event.fields.contains(where: { $0.name == "password" || $0.name == "username" }) {
            subjects.append(Self.credentialCaptured)
        }
        return subjects
    }

    /// Publishes what the ingester stored.
    public static func publish(_ events: [HoneypotEvent], on publisher: BusPublisher) {
        for event in events {
            // One payload per event, whatever number of subjects carry it.
            guard let payload = publisher.encoded(Observation(event)) else { continue }
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
