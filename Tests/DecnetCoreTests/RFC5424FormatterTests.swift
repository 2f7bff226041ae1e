import DecnetCore
import Foundation
import Testing

/// The byte-level formatter writes what the first, String-based one wrote (`ReferenceFormatter`), for every
/// kind of field text; the one place they differ is a fix.
@Suite struct RFC5424FormatterTests {
    static let texts = [
        "root", "", "ro\"ot]\\", "echo ] [ \" = ", "ünïcødé 🐍", "tab\there", "ctl\u{01}\u{7F}\u{85}end", "e\u{301}",
        String(repeating: "x", count: 300), "a=b c]d\"e", "-", " ", "\u{0}",
    ]

    static func event(_ text: String, _ index: Int) -> HoneypotEvent {
        HoneypotEvent(
            time: Date(timeIntervalSince1970: 1_795_283_508.123456 + Double(index) * 0.000_017),
            id: [.loginFailed, .commandInput, .connectionOpen, EventID(rawValue: "x.\(text)")][index % 4],
            decky: "web-\(index)",
            hostname: [text, "web-01", "", String(repeating: "h", count: 300)][index % 4],
            service: ServiceKind(rawValue: index % 3 == 0 ? "ssh" : text),
            session: "s\(index)",
            source: Endpoint(ip: "10.77.0.\(index % 250)", port: 40000 + index),
            destination: Endpoint(ip: "10.77.0.10", port: 22),
            fields: [
                EventField("username", text), EventField("command", "\(text) \(index)"), EventField(text, text),
                EventField("na me=\"]\(index)", "v"),
            ],
            late: index % 5 == 0
        )
    }

    @Test func theSameLineAsTheStringFormatter() throws {
        for (index, text) in Self.texts.enumerated() where !text.contains("\u{301}") {
            for variant in 0..<4 {
                let event = Self.event(text, index * 4 + variant)
                #expect(RFC5424Formatter.line(for: event) == ReferenceFormatter.line(for: event), "\(text)")
            }
        }
    }

    @Test func aQuoteBeforeACombiningMarkIsEscaped() throws {
        // `"` + U+0301 is one Character: the String formatter compared it unequal to `"` and wrote it bare,
        // which ended the value early; by bytes it is escaped and reads back.
        let event = Self.event("say \"\u{301}hi\"", 1)
        let line = RFC5424Formatter.line(for: event)
        #expect(line != ReferenceFormatter.line(for: event))
        let parsed = try RFC5424Parser.event(from: line)
        #expect(parsed[field: "username"] == "say \"\u{301}hi\"" && parsed[field: "command"] == "say \"\u{301}hi\" 1")
    }

    @Test func timestampsAreFixedWidthUTCWithMicroseconds() {
        let cases: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000000Z"), (1_795_283_508.123456, "2026-11-21T17:51:48.123456Z"),
            (951_782_400.5, "2000-02-29T00:00:00.500000Z"), (1_795_283_508.9999996, "2026-11-21T17:51:49.000000Z"),
            (4_102_444_799.000001, "2099-12-31T23:59:59.000001Z"),
        ]
        for (seconds, text) in cases {
            #expect(RFC5424Formatter.timestamp(Date(timeIntervalSince1970: seconds)) == text)
            #expect(RFC5424Parser.time(text).map { abs($0.timeIntervalSince1970 - seconds) < 0.000_001 } == true)
        }
    }

    @Test func eventIDsAreTimeOrderedVersion7() throws {
        let start = Date(timeIntervalSince1970: 1_795_283_508.123)
        let ids = (0..<1000).map { UUID.timeOrdered(at: start.addingTimeInterval(Double($0) * 0.002)) }
        for id in ids {
            #expect(id.uuid.6 >> 4 == 7 && id.uuid.8 >> 6 == 2, "version 7, variant 10")
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID(canonicalText: id.lowercasedText.utf8) == id)
            #expect(UUID(canonicalText: id.uuidString.utf8) == id)
        }
        #expect(ids.map(\.lowercasedText) == ids.map(\.lowercasedText).sorted(), "later ids sort after")
        #expect(ids[0].lowercasedText.hasPrefix("01a1ff3c-5b9b"), "the first 48 bits are the milliseconds")
        #expect(Set(ids).count == ids.count)
        // An event made without an id gets one of its own time.
        let event = HoneypotEvent(
            time: start,
            id: .loginFailed,
            decky: "d",
            hostname: "d",
            service: "ssh",
            session: "s",
            source: Endpoint(ip: "1.2.3.4", port: 1),
            destination: Endpoint(ip: "1.2.3.5", port: 2)
        )
        #expect(event.uuid.lowercasedText.hasPrefix("01a1ff3c-5b9b-7"))
        for bad in [
            "", "01a1ff3c-5b9b-7000-8000-00000000000", "01a1ff3c-5b9b-7000-8000-0000000000000",
            "01a1ff3c0ad3-7000-8000-0000000000000", "01a1ff3c-5b9b-7000-8000-00000000000g",
            "{1a1ff3c-0ad3-7000-8000-000000000000}",
        ] {
            #expect(UUID(canonicalText: bad.utf8) == nil, "\(bad)")
        }
    }
}
