import DecnetServiceKit
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct LineDecoderTests {
    @Test func splitsLinesAtEveryBoundary() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (ByteBuffer(string: "USER a\r\n"), [.line(Array("USER a".utf8))]),
                (ByteBuffer(string: "PASS b\n"), [.line(Array("PASS b".utf8))]),
                (ByteBuffer(string: "\r\n"), [.line([])]),
                (ByteBuffer(bytes: [0x00, 0xFF, 0x0A]), [.line([0x00, 0xFF])]),
            ],
            decoderFactory: { LineDecoder(maximumLength: 64) }
        )
    }

    @Test func overlongLinesAreReportedOnceAndTheStreamGoesOn() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineDecoder(maximumLength: 16)))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "A", count: 40)))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "A", count: 40) + "\nNEXT\r\n"))
        #expect(try channel.readInbound(as: LineFrame.self) == .tooLong)
        #expect(try channel.readInbound(as: LineFrame.self) == .line(Array("NEXT".utf8)))
        #expect(try channel.readInbound(as: LineFrame.self) == nil)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "B", count: 20) + "\n"))
        #expect(try channel.readInbound(as: LineFrame.self) == .tooLong)
        _ = try channel.finish()
    }

    @Test func aLastLineWithoutNewlineIsDeliveredAtEOF() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineDecoder()))
        try channel.writeInbound(ByteBuffer(string: "QUIT"))
        #expect(try channel.readInbound(as: LineFrame.self) == nil)
        channel.pipeline.fireChannelInactive()
        #expect(try channel.readInbound(as: LineFrame.self) == .line(Array("QUIT".utf8)))
        _ = try? channel.finish()
    }
}
