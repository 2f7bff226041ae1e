import Testing

@testable import DecnetServices

/// NTLM's (and TDS's) UTF-16LE text: the ASCII shortcut must read exactly what the standard decoder reads.
@Suite struct NTLMTextTests {
    /// The standard library's reading of UTF-16LE bytes (a trailing odd byte dropped).
    static func reference(_ bytes: [UInt8]) -> String {
        let units = stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
        return String(decoding: units, as: UTF16.self)
    }

    @Test func decodingAgreesWithTheStandardDecoderOnAnyBytes() {
        var generator = SystemRandomNumberGenerator()
        let fixed: [[UInt8]] = [
            [], [0x41], [0x41, 0x00], [0x41, 0x00, 0x42],  // odd lengths
            Array("bench-7".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }),
            [0x7F, 0x00, 0x80, 0x00],  // DEL, then the first byte past ASCII
            [0x41, 0x01],  // a high byte set: U+0141
            [0x3D, 0xD8, 0x00, 0xDE],  // a surrogate pair (U+1F600)
            [0x3D, 0xD8, 0x41, 0x00],  // an unpaired high surrogate
            [0x00, 0xDC],  // a lone low surrogate
            [0x00, 0x00, 0x41, 0x00],  // NUL inside
        ]
        let random = (0..<2_000).map { _ in
            (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                // Mostly ASCII-shaped pairs, some not, so both paths run.
                Bool.random(using: &generator) ? UInt8.random(in: 0...0x7F, using: &generator) : 0
            }
        }
        let anything = (0..<2_000).map { _ in
            (0..<Int.random(in: 0...24, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        for bytes in fixed + random + anything {
            #expect(NTLM.decode(bytes, .unicode) == Self.reference(bytes), "\(bytes)")
        }
        #expect(NTLM.decode(Array("caf\u{E9}".utf8), []) == "caf\u{E9}")
    }

    @Test func encodingIsUTF16LittleEndianAndRoundTrips() {
        for text in ["", "bench-7", "caf\u{E9}", "\u{1F600}x", "WORKGROUP\\Administrator"] {
            let bytes = NTLM.encode(text, true)
            #expect(bytes == text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
            #expect(NTLM.decode(bytes, .unicode) == text)
            #expect(NTLM.encode(text, false) == Array(text.utf8))
        }
    }
}
