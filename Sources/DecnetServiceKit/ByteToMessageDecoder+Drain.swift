import NIOCore

extension ByteToMessageDecoder {
    /// `decodeLast` for decoders that drop an incomplete message at EOF: decode what is complete, discard the
    /// rest (a client that goes away mid-message sent nothing a server would act on).
    public mutating func decodeCompleteMessagesAndDropTheRest(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

extension ByteBuffer {
    /// Drops everything readable and returns its first `count` bytes: what a decoder that gives up on a stream
    /// keeps for the `client.malformed` event's preview.
    public mutating func discardReadable(keepingPreview count: Int = 64) -> [UInt8] {
        let preview = self.getBytes(at: self.readerIndex, length: min(count, self.readableBytes)) ?? []
        self.moveReaderIndex(to: self.writerIndex)
        return preview
    }
}

/// A decoder's message type that can say "framing no client sends": the connection's last message, after which
/// the server closes.
public protocol FramingFailure {
    static func invalid(_ problem: String, _ preview: [UInt8]) -> Self
}

extension ByteToMessageDecoder where InboundOut: FramingFailure {
    /// Gives up on the stream: `failed` is set (the decoder drops everything after), the rest of the buffer is
    /// discarded, and one `.invalid` with its preview goes up.
    public func failFraming(
        _ context: ChannelHandlerContext,
        _ buffer: inout ByteBuffer,
        _ problem: String,
        failed: inout Bool
    ) -> DecodingState {
        failed = true
        let preview = buffer.discardReadable()
        context.fireChannelRead(Self.wrapInboundOut(.invalid(problem, preview)))
        return .needMoreData
    }
}

/// A decoder that, at EOF, decodes what is complete and drops a message still incomplete: a client that went away
/// mid-message sent nothing a server would act on. Conforming is all a decoder needs for that `decodeLast`.
public protocol DropsIncompleteMessageAtEOF: ByteToMessageDecoder {}

extension DropsIncompleteMessageAtEOF {
    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try self.decodeCompleteMessagesAndDropTheRest(context: context, buffer: &buffer)
    }
}
