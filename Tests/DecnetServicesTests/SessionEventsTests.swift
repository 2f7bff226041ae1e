import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Testing

@Suite struct SessionEventsTests {
    static func session(_ capture: EventCapture) -> SessionEvents {
        SessionEvents(
            context: ServiceContext(decky: "web-01", hostname: "web-01", service: "http", persona: [:], sink: capture),
            source: Endpoint(ip: "10.0.0.66", port: 40_000),
            destination: Endpoint(ip: "10.0.0.10", port: 80)
        )
    }

    /// A field named like one of the event's own (an attacker-chosen header name, say) never shadows it; the
    /// others keep their order.
    @Test func fieldsNamedLikeTheEventsOwnAreDropped() throws {
        let capture = EventCapture()
        let session = Self.session(capture)
        session.emit(.commandInput, ["command": "GET", "src_ip": "1.2.3.4", "args": "/", "uuid": "x", "late": "no"])
        session.emit(.commandInput, ["command": "HEAD", "args": "/index.html"])
        let events = capture.events(.commandInput)
        try #require(events.count == 2)
        #expect(events[0].fields.map(\.name) == ["command", "args"])
        #expect(events[0].source.ip == "10.0.0.66" && !events[0].late)
        #expect(events[1].fields.map { "\($0.name)=\($0.value)" } == ["command=HEAD", "args=/index.html"])
    }
}
