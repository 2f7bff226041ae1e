import DecnetCore
import Testing

/// Bus subjects and NATS-style wildcards: `*` is exactly one token, `>` one or more trailing tokens.
@Suite struct SubjectTests {
    static func matches(_ pattern: String, _ subject: String) throws -> Bool {
        try Subject.pattern(pattern).matches(try Subject(subject))
    }

    @Test func wildcardsMatchAsNATSDefinesThem() throws {
        #expect(try Self.matches("decky.*.state", "decky.web-01.state"))
        #expect(try !Self.matches("decky.*.state", "decky.web-01.net.state"))
        #expect(try !Self.matches("decky.*.state", "decky.state"))
        #expect(try Self.matches("attacker.>", "attacker.observed"))
        #expect(try Self.matches("attacker.>", "attacker.session.started"))
        #expect(try !Self.matches("attacker.>", "attacker"))
        #expect(try Self.matches(">", "credential.reuse.detected"))
        #expect(try Self.matches("*.*.health", "system.ingester.health"))
        #expect(try Self.matches("system.*.health", "system.ingester.health"))
        #expect(try !Self.matches("system.*.health", "system.ingester.health.extra"))
        #expect(try Self.matches("credential.captured", "credential.captured"))
        #expect(try !Self.matches("credential.captured", "credential.captured.x"))
        #expect(try Self.matches("*.>", "a.b"))
        #expect(try !Self.matches("*.>", "a"))
    }

    @Test func badSubjectsAreRefusedWithAReason() {
        for text in [
            "", ".", "a..b", "a.", ".a", "a b", "a\tb", "a.\u{0}", "a*.b", "a.>.b", "a.b>",
            String(repeating: "a", count: 300),
        ] {
            #expect(throws: Subject.Invalid.self, "\(text.prefix(20))") { try Subject.pattern(text) }
        }
        for text in ["a.*", "a.>", ">"] {
            #expect(throws: Subject.Invalid.self, "published subjects have no wildcards: \(text)") { try Subject(text) }
        }
    }
}
