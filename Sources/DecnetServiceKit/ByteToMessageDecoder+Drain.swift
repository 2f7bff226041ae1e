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
