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
