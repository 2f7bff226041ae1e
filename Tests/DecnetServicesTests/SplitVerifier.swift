import NIOCore
import NIOEmbedded
import Testing

/// Checks a decoder whose protocol errors are final (it discards everything after one), which NIO's
/// `ByteToMessageDecoderVerifier` cannot: for every split of `input` into two writes, and for byte-by-byte
/// delivery, a fresh decoder yields exactly `expected`.
enum SplitVerifier {
    static func verify<Decoder: ByteToMessageDecoder>(
        _ input: [UInt8],
        produces expected: [Decoder.InboundOut],
        decoder factory: () -> Decoder,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws where Decoder.InboundOut: Equatable {
        var deliveries: [[[UInt8]]] = (0...input.count).map { [Array(input[..<$0]), Array(input[$0...])] }
        deliveries.append(input.map { [$0] })
        for chunks in deliveries {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(factory()))
            var outputs: [Decoder.InboundOut] = []
            for chunk in chunks where !chunk.isEmpty {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
                while let output = try channel.readInbound(as: Decoder.InboundOut.self) { outputs.append(output) }
            }
            #expect(outputs == expected, "split \(chunks.map(\.count))", sourceLocation: sourceLocation)
            _ = try? channel.finish()
        }
    }
}
