import DecnetCore
import Foundation
import Testing

/// The hand-written JSON (the store's columns, the bus's payloads) reads back as the same values, whatever an
/// attacker typed, and the store's ordered reader refuses what it did not write.
@Suite struct JSONTextTests {
    static let hostile: [String] =
        [
            "plain", "", "quote\"", "back\\slash", "new\nline", "tab\t", "ctl\u{01}\u{1F}\u{7F}", "slash/",
            "ünïcødé 🐍", "\u{08}\u{0C}\r", "}{\":,", "\\u0041", "]\"\\",
        ] + (0..<32).map { String(UnicodeScalar(UInt8($0))) }

    @Test func hostileStringsRoundTrip() throws {
        var object: [String: String] = [:]
        for (index, value) in Self.hostile.enumerated() { object["k\(index)\(value)"] = value }
        let text = JSONText.object(object)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed == object)
        // The same text JSONEncoder gives (sorted keys, slashes unescaped), so stored JSON compares equal.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for sample in [["username": "root", "password": "pw-1", "method": "password"], object] {
            #expect(JSONText.object(sample) == String(decoding: try encoder.encode(sample), as: UTF8.self))
        }
        let lists = ["ja3": Self.hostile, "hassh": [], "user_agent": ["curl/8.0"]]
        #expect(JSONText.object(lists) == String(decoding: try encoder.encode(lists), as: UTF8.self))
        #expect(JSONText.array(Self.hostile) == String(decoding: try encoder.encode(Self.hostile), as: UTF8.self))
        #expect(JSONText.object([String: String]()) == "{}")
    }

    @Test func fieldsKeepTheirOrderAndTheFirstOfARepeatedName() throws {
        var fields = Self.hostile.enumerated().map {
            EventField("f\(Self.hostile.count - $0.offset)\($0.element)", $0.element)
        }
        fields.append(EventField(fields[0].name, "second value"))
        let text = JSONText.object(fields)
        let read = try #require(JSONText.fields(text))
        #expect(read == Array(fields.dropLast()), "order kept, the repeated name's first value only")
        // Any JSON reader agrees on the values.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed.count == fields.count - 1 && parsed[fields[0].name] == fields[0].value)
        // A few fields and many (the writer looks back, or remembers names) give the same rule.
        let few = [EventField("a", "1"), EventField("b", "2"), EventField("a", "3")]
        #expect(JSONText.fields(JSONText.object(few)) == Array(few.prefix(2)))
        #expect(JSONText.fields("{}") == [])
        // Escapes other writers use: \/ and surrogate pairs.
        #expect(JSONText.fields(#" { "a\/b" : "\ud83d\udc0d\u00e9" } "#) == [EventField("a/b", "🐍é")])
    }

    @Test func theOrderedReaderRefusesWhatItDidNotWrite() {
        let bad = [
            "", "{", "[]", "{\"a\":1}", "{\"a\":\"x\"", "{\"a\" \"x\"}", "{\"a\":\"x\",}", "{\"a\":\"\\q\"}",
            "{\"a\":\"\\u12\"}", "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"x\"} tail",
            "{\"a\":\"raw\ncontrol\"}", "{\"a\":null}",
        ]
        for text in bad { #expect(JSONText.fields(text) == nil, "\(text)") }
        // Random bytes never crash it.
        var generator = SystemRandomNumberGenerator()
        let good = Array(JSONText.object(Self.hostile.map { EventField("k", $0) }).utf8)
        for _ in 0..<2000 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = JSONText.fields(String(decoding: bytes, as: UTF8.self))
        }
    }
}
