import DecnetCore
import Foundation
import Testing

/// The ingester's reader: what the formatter writes reads back as the same event, and hostile or broken lines
/// fail with a reason (never a crash).
@Suite struct RFC5424ParserTests {
    static func event(_ fields: [EventField], late: Bool = false) -> HoneypotEvent {
        HoneypotEvent(
            // Microseconds: what the line keeps of the time.
            time: Date(timeIntervalSince1970: 1_795_283_508.123456),
            id: .loginFailed,
            decky: "web-01",
            hostname: "web-01",
            service: "ssh",
            session: "ffc21c8caaf8",
            source: Endpoint(ip: "10.77.0.254", port: 40518),
            destination: Endpoint(ip: "10.77.0.10", port: 22),
            fields: fields,
            late: late
        )
    }

    @Test func whatTheFormatterWritesReadsBack() throws {
        var fields = EventFields()
        fields.add("username", attackerText: "ro\"ot]\\")
        fields.add("password", attackerBytes: [0x00, 0x41, 0x0A, 0xFF], secret: true)
        fields.add("method", "password")
        fields.add("command", attackerText: "echo ] [ \" = ")
        for original in [Self.event(fields.fields), Self.event([], late: true)] {
            let line = RFC5424Formatter.line(for: original)
            let parsed = try RFC5424Parser.event(from: line)
            #expect(parsed.uuid == original.uuid && parsed.id == original.id && parsed.fields == original.fields)
            #expect(parsed.decky == original.decky && parsed.source == original.source && parsed.late == original.late)
            #expect(abs(parsed.time.timeIntervalSince(original.time)) < 0.000_001)
            #expect(RFC5424Formatter.line(for: parsed) == line, "a second round is byte for byte the same")
        }
    }

    @Test func brokenAndHostileLinesFailWithAReason() throws {
        let good = RFC5424Formatter.line(for: Self.event([EventField("username", "root")]))
        let broken = [
            "", "hello", "<999>1 x", "<13>2 2026-11-21T18:00:00Z h a - m [decnet@32473 uuid=\"x\"]",
            "<13>1 2026-13-21T18:00:00Z h a - m -", "<13>1 2026-11-21T18:00:00Z h a - m -",
            String(good.prefix(good.count / 2)), good.replacingOccurrences(of: "uuid=\"", with: "uuid=\"zz"),
            good.replacingOccurrences(of: " src_port=\"40518\"", with: ""),
            "<13>1 2026-11-21T18:00:00Z h a - m [decnet@32473 a=\"unterminated",
            "<13>1 2026-11-21T18:00:00Z h a - m [decnet@32473 =\"\"]",
            String(repeating: "<", count: 2 << 20),
        ]
        for line in broken {
            #expect(throws: RFC5424Parser.Failure.self, "\(line.prefix(60))") { try RFC5424Parser.event(from: line) }
        }
        // Random bytes never crash it.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var bytes = Array(good.utf8)
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? RFC5424Parser.event(from: String(decoding: bytes, as: UTF8.self))
        }
    }
}
