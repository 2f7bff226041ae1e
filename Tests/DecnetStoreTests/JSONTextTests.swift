import Foundation
import Testing

@testable import DecnetStore

/// The store's hand-written JSON objects read back as the same values, whatever an attacker typed.
@Suite struct JSONTextTests {
    @Test func hostileStringsRoundTrip() throws {
        var hostile = [
            "plain", "", "quote\"", "back\\slash", "new\nline", "tab\t", "ctl\u{01}\u{1F}\u{7F}", "slash/",
            "ünïcødé 🐍", "\u{08}\u{0C}\r", "}{\":,",
        ]
        hostile += (0..<32).map { String(UnicodeScalar(UInt8($0))) }
        var object: [String: String] = [:]
        for (index, value) in hostile.enumerated() { object["k\(index)\(value)"] = value }
        let text = JSONText.object(object)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed == object)
        // The same text JSONEncoder gives for plain values (sorted keys), so stored JSON compares equal.
        let plain = ["username": "root", "password": "pw-1", "method": "password"]
        #expect(JSONText.object(plain) == JSONText.encode(plain))
        #expect(JSONText.object([:]) == "{}")
    }
}
