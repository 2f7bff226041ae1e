import DecnetCore
import DecnetPipeline
import Foundation
import Testing

/// What the ingester publishes for every stored event: JSON any reader takes, with the event's values.
@Suite struct BusPayloadTests {
    @Test func theObservationPayloadCarriesTheEvent() throws {
        let event = HoneypotEvent(
            time: Date(timeIntervalSince1970: 1_795_283_508.123456),
            id: .loginFailed,
            decky: "web-01",
            hostname: "web-01",
            service: "ssh",
            session: "s\"1",
            source: Endpoint(ip: "10.77.0.254", port: 40518),
            destination: Endpoint(ip: "10.77.0.10", port: 22),
            fields: [
                EventField("username", "ro\"ot\n\u{1}"), EventField("password", "🐍]\\"),
                EventField("username", "second"),
            ]
        )
        let payload = BusTopics.payload(event)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect(object["uuid"] as? String == event.uuid.lowercasedText)
        #expect(object["time"] as? String == "2026-11-21T17:51:48.123456Z")
        #expect(object["event_type"] as? String == "login.failed" && object["session"] as? String == "s\"1")
        #expect(object["attacker_ip"] as? String == "10.77.0.254" && object["attacker_port"] as? Int == 40518)
        #expect(object["decky"] as? String == "web-01" && object["decky_ip"] as? String == "10.77.0.10")
        #expect(object["decky_port"] as? Int == 22 && object["service"] as? String == "ssh")
        #expect(object["fields"] as? [String: String] == event.fieldValues, "a repeated name's first value")
        // Sorted keys, as the encoder wrote them before.
        let keys = [
            "attacker_ip", "attacker_port", "decky", "decky_ip", "decky_port", "event_type", "fields",
            "service", "session", "time", "uuid",
        ]
        let text = String(decoding: payload, as: UTF8.self)
        let positions = keys.map { text.range(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(BusTopics.subjects(for: event).map(\.text) == ["attacker.observed", "credential.captured"])
    }

    /// A canary trigger goes out as `canary.<id>.triggered` (the id lower-cased, as subjects compare exactly), and a
    /// field that is not an id never makes a subject.
    @Test func aCanaryTriggerIsPublishedUnderItsToken() {
        func trigger(_ token: String) -> HoneypotEvent {
            HoneypotEvent(
                time: Date(),
                id: .canaryTriggered,
                decky: "cdn-01",
                hostname: "cdn-01",
                service: "canary",
                session: "s1",
                source: Endpoint(ip: "10.77.0.254", port: 40518),
                destination: Endpoint(ip: "10.77.0.10", port: 80),
                fields: [EventField("token", token), EventField("via", "http")]
            )
        }
        let id = CanaryToken.newID()
        #expect(BusTopics.subjects(for: trigger(id)).map(\.text) == ["attacker.observed", "canary.\(id).triggered"])
        #expect(BusTopics.subjects(for: trigger(id.uppercased())).map(\.text).last == "canary.\(id).triggered")
        for hostile in ["a.b", "*", ">", "x y", String(repeating: "a", count: 21), ""] {
            #expect(BusTopics.subjects(for: trigger(hostile)).map(\.text) == ["attacker.observed"], "\(hostile)")
        }
    }
}
