import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import DecnetServices

@Suite struct RedisDecoderTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Valid requests decode the same however the bytes are split (the verifier tries every split).
    @Test func decodesRequestsAtEverySplit() throws {
        let cases: [(String, [RedisRequest])] = [
            ("*1\r\n$4\r\nPING\r\n", [.command([Self.bytes("PING")])]),
            ("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n", [.command([Self.bytes("AUTH"), Self.bytes("secret")])]),
            ("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", [.command([Self.bytes("SET"), Self.bytes("k"), []])]),
            ("PING\r\n", [.command([Self.bytes("PING")])]),
            ("set a \"b c\\x41\"\n", [.command([Self.bytes("set"), Self.bytes("a"), Self.bytes("b cA")])]),
            ("*0\r\nPING\r\n", [.command([]), .command([Self.bytes("PING")])]),
            ("\r\n", [.command([])]),
        ]
        for (input, output) in cases {
            try ByteToMessageDecoderVerifier.verifyDecoder(
                inputOutputPairs: [(ByteBuffer(string: input), output)],
                decoderFactory: { RedisRequestDecoder() }
            )
        }
    }

    /// Broken framing becomes Redis's own protocol error, decided before anything claimed is allocated.
    @Test(arguments: [
        ("*abc\r\n", "invalid multibulk length"),
        ("*99999999\r\n", "invalid multibulk length"),
        ("*1\r\n$99999999999\r\n", "invalid bulk length"),
        ("*1\r\n$-5\r\n", "invalid bulk length"),
        ("*1\r\n+PING\r\n", "expected '$', got '+'"),
        ("*1\r\n$4\r\nPINGxx", "invalid bulk terminator"),
        ("set a \"unterminated\r\n", "unbalanced quotes in request"),
        ("set a \"b\"c\r\n", "unbalanced quotes in request"),
    ])
    func hostileFramingIsAProtocolError(_ input: String, _ message: String) throws {
        // Trailing bytes after the error are discarded, as the real server closes.
        try SplitVerifier.verify(Array((input + "PING\r\n").utf8), produces: [.protocolError(message)]) {
            RedisRequestDecoder()
        }
    }

    @Test func oversizedLinesAreRefusedWithoutWaitingForTheirEnd() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RedisRequestDecoder()))
        try channel.writeInbound(
            ByteBuffer(repeating: UInt8(ascii: "a"), count: RedisRequestDecoder.maximumInlineLength + 1)
        )
        #expect(try channel.readInbound(as: RedisRequest.self) == .protocolError("too big inline request"))
        try channel.writeInbound(ByteBuffer(string: "PING\r\n"))
        #expect(try channel.readInbound(as: RedisRequest.self) == nil, "nothing is decoded after a protocol error")
        _ = try channel.finish()

        let count = EmbeddedChannel(handler: ByteToMessageHandler(RedisRequestDecoder()))
        try count.writeInbound(ByteBuffer(string: "*" + String(repeating: "9", count: 100)))
        #expect(try count.readInbound(as: RedisRequest.self) == .protocolError("too big mbulk count string"))
        _ = try count.finish()
    }

    @Test func truncatedInputWaitsAndIsDroppedAtEOF() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RedisRequestDecoder()))
        try channel.writeInbound(ByteBuffer(string: "*2\r\n$4\r\nAUTH\r\n$6\r\nsec"))
        #expect(try channel.readInbound(as: RedisRequest.self) == nil)
        // At EOF the half command is dropped: nothing is delivered.
        #expect(try channel.finish(acceptAlreadyClosed: false).isClean)
    }

    /// Redis finds an inline line's end with strchr, which stops at a NUL: a NUL before the newline (a TLS hello,
    /// binary garbage) makes it wait for ever, silently, as Redis 7.0 does (bench/differential); without a NUL
    /// the line is an (unknown) command.
    @Test func aNULBeforeTheNewlineMakesRedisWait() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RedisRequestDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: [0x16, 0x03, 0x00, 0x00, 0x53, 0x01, 0x0A, 0x00]))
        try channel.writeInbound(ByteBuffer(string: "PING\r\n"))
        #expect(try channel.readInbound(as: RedisRequest.self) == nil)
        _ = try? channel.finish()
        let plain = EmbeddedChannel(handler: ByteToMessageHandler(RedisRequestDecoder()))
        try plain.writeInbound(ByteBuffer(bytes: [0x16, 0x61, 0x62, 0x0D, 0x0A]))
        #expect(try plain.readInbound(as: RedisRequest.self) == .command([[0x16, 0x61, 0x62]]))
        _ = try? plain.finish()
    }

    /// Random bytes never crash the decoder, whatever they look like.
    @Test func randomBytesNeverCrash() async throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("*$\r\n0123456789-\"' \\xPINGAUTH".utf8) + [0, 0xFF, 0x80]
        for round in 0..<2000 {
            if round % 50 == 0 { await Task.yield() }
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(RedisRequestDecoder(), maximumBufferSize: 4096))
            let length = Int.random(in: 0...200, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            do {
                try channel.writeInbound(ByteBuffer(bytes: bytes))
                while try channel.readInbound(as: RedisRequest.self) != nil {}
            } catch {
                // A buffer-limit error is a valid outcome; a crash is not.
            }
            _ = try? channel.finish()
        }
    }
}
