import DecnetCore
import DecnetPipeline
import Testing

/// `credential.reuse.detected`: a credential in a second session is a reuse, the same session again is not,
/// and memory stays bounded.
@Suite struct CredentialReuseTests {
    static func login(
        _ user: String,
        _ password: String,
        session: String,
        decky: String = "d1",
        ip: String = "198.51.100.7"
    )
        -> HoneypotEvent
    {
        HoneypotEvent(
            id: .loginFailed,
            decky: decky,
            hostname: decky,
            service: "ssh",
            session: session,
            source: Endpoint(ip: ip, port: 40000),
            destination: Endpoint(ip: "10.0.0.1", port: 22),
            fields: [EventField("username", user), EventField("password", password)]
        )
    }

    @Test func aSecondSessionIsAReuseTheSameSessionIsNot() {
        let detector = CredentialReuseDetector()
        let first = detector.observe([
            Self.login("root", "toor", session: "s1"), Self.login("root", "toor", session: "s1"),
            Self.login("root", "other", session: "s1"), Self.login("admin", "toor", session: "s2"),
        ])
        #expect(first.isEmpty)
        let later = detector.observe([
            Self.login("root", "toor", session: "s9", decky: "d2", ip: "203.0.113.5"),
            Self.login("root", "toor", session: "s9", decky: "d2", ip: "203.0.113.5"),
            Self.login("root", "toor", session: "s1", decky: "d3"),
        ])
        #expect(later.count == 2)
        #expect(later.map(\.sessions) == [2, 3])
        #expect(later.first?.first.session == "s1" && later.first?.now.attackerIP == "203.0.113.5")
        #expect(later.last?.deckies == ["d1", "d2", "d3"])
        #expect(later.last?.attackers == ["198.51.100.7", "203.0.113.5"])
    }

    @Test func memoryIsBounded() {
        let detector = CredentialReuseDetector(capacity: 100)
        _ = detector.observe((0..<1000).map { Self.login("u", "p\($0)", session: "s\($0)") })
        // Past the capacity it started again: an early credential is new again, a recent one is known.
        #expect(detector.observe([Self.login("u", "p999", session: "y")]).count == 1)
        #expect(detector.observe([Self.login("u", "p0", session: "x")]).isEmpty)
    }
}
