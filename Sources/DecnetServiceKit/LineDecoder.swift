import NIOCore

/// A line of a text protocol (FTP, SMTP, POP3, IMAP, telnet), or the news that a line overran the limit.
public enum LineFrame: Equatable, Sendable {
    /// The line's bytes without its `\n` and without a `\r` right before it.
    case line([UInt8])
    /// A line grew past `maximumLength` before its end arrived; its bytes up to the next `\n` are dropped.
    case tooLong
}

/// Splits input into lines, with a bound. NIOExtras' `LineBasedFrameDecoder` has none (only the handler's
/// whole-buffer limit, which can only close); protocols want to answer an overlong line ("500 Line too long")
/// and go on, as their real servers do.
public struct LineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = LineFrame

    public let maximumLength: Int
    /// Set while discarding the rest of an overlong line.
    private var discarding = false

    public init(maximumLength: Int = 8192) { self.maximumLength = maximumLength }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > self.maximumLength {
                if !self.discarding {
                    self.discarding = true
                    context.fireChannelRead(Self.wrapInboundOut(.tooLong))
                }
                buffer.moveReaderIndex(forwardBy: view.count)
            }
            return .needMoreData
        }
        let length = newline - view.startIndex
        defer { buffer.moveReaderIndex(forwardBy: length + 1) }
        if self.discarding {
            self.discarding = false
            return .continue
        }
        if length > self.maximumLength {
            context.fireChannelRead(Self.wrapInboundOut(.tooLong))
            return .continue
        }
        var end = newline
        if end > view.startIndex && view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        context.fireChannelRead(Self.wrapInboundOut(.line(Array(view[view.startIndex..<end]))))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        // A last line without its newline is still a line (clients that close right after writing).
        if buffer.readableBytes > 0 && !self.discarding {
            let bytes = buffer.readBytes(length: min(buffer.readableBytes, self.maximumLength)) ?? []
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(Self.wrapInboundOut(.line(bytes)))
        }
        return .needMoreData
    }
}

/// Hands on whatever bytes arrived, for protocols whose servers answer before a line has ended (Dovecot's
/// imap-login reads tags byte by byte); the service keeps its own bounded buffer.
public struct RawBytesDecoder: ByteToMessageDecoder {
    public typealias InboundOut = [UInt8]

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes > 0 else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(buffer.readBytes(length: buffer.readableBytes)!))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}
