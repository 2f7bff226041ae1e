import Testing

@testable import DecnetServices

@Suite struct ClientFingerprintTests {
    /// A ClientHello record built from parts, so tests can vary one thing at a time.
    static func hello(
        ciphers: [UInt16] = [0x0A0A, 0x1301, 0x1302, 0xC02B],
        extensions: [(UInt16, [UInt8])] = []
    ) -> [UInt8] {
        func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32) + [0]
        body += u16(ciphers.count * 2) + ciphers.flatMap { u16(Int($0)) } + [1, 0]
        let extensionBytes = extensions.flatMap { u16(Int($0.0)) + u16($0.1.count) + $0.1 }
        body += u16(extensionBytes.count) + extensionBytes
        let handshake: [UInt8] =
            [1, UInt8(body.count >> 16), UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body
        return [22, 3, 1] + u16(handshake.count) + handshake
    }

    static let chromeLike: [UInt8] = hello(extensions: [
        (0x1A1A, []),
        (0x0000, [0, 14, 0, 0, 11] + Array("example.com".utf8)),
        (0x000A, [0, 6, 0x2A, 0x2A, 0, 0x1D, 0, 0x17]),
        (0x000B, [1, 0]),
        (0x000D, [0, 4, 0x04, 0x03, 0x08, 0x04]),
        (0x0010, [0, 12, 2] + Array("h2".utf8) + [8] + Array("http/1.1".utf8)),
        (0x002B, [4, 0x3A, 0x3A, 0x03, 0x04]),
    ])

    @Test func parsesTheFieldsFingerprintsNeed() throws {
        let hello = try #require(TLSClientHello(record: Self.chromeLike))
        #expect(hello.serverName == "example.com")
        #expect(hello.alpn == ["h2", "http/1.1"])
        #expect(hello.supportedVersions == [0x3A3A, 0x0304])
        #expect(hello.signatureAlgorithms == [0x0403, 0x0804])
    }

    @Test func ja3LeavesGREASEOut() throws {
        let hello = try #require(TLSClientHello(record: Self.chromeLike))
        let ja3 = ClientFingerprint.ja3(hello)
        #expect(ja3.text == "771,4865-4866-49195,0-10-11-13-16-43,29-23,0")
        #expect(ja3.hash.count == 32 && ja3.hash.allSatisfy(\.isHexDigit))
    }

    @Test func ja4FollowsTheSpec() throws {
        let hello = try #require(TLSClientHello(record: Self.chromeLike))
        let ja4 = ClientFingerprint.ja4(hello)
        #expect(ja4.hasPrefix("t13d0306h2_"))
        // The example from FoxIO's JA4 documentation: these 15 ciphers hash to 8daaf6152771.
        let ciphers = "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
        #expect(ClientFingerprint.truncatedSHA256(ciphers) == "8daaf6152771")
        #expect(ClientFingerprint.truncatedSHA256("") == "000000000000")
        let bare = try #require(TLSClientHello(record: Self.hello(extensions: [])))
        #expect(ClientFingerprint.ja4(bare).hasPrefix("t12i030000_"))
    }

    /// Every truncation and random corruption of a hello parses to nil or a hello, never a crash.
    @Test func hostileRecordsNeverCrash() async {
        let record = Self.chromeLike
        for end in 0...record.count { _ = TLSClientHello(record: Array(record[..<end])) }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<3000 {
            if round % 100 == 0 { await Task.yield() }
            var corrupted = record
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                corrupted[Int.random(in: 0..<corrupted.count, using: &generator)] = UInt8.random(
                    in: 0...255,
                    using: &generator
                )
            }
            if let hello = TLSClientHello(record: corrupted) {
                _ = ClientFingerprint.ja3(hello)
                _ = ClientFingerprint.ja4(hello)
            }
        }
    }
}
