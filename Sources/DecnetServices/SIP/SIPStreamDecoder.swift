import DecnetServiceKit
import NIOCore

/// One SIP message off a stream, or why the stream cannot be read on.
public enum SIPStreamFrame: Equatable, Sendable, FramingFailure {
    /// A whole message: header section, blank line and Content-Length bytes of body.
    case message([UInt8])
    /// A header section whose Content-Length is unusable (not a number, or over the limit): it is answered 400
    /// and the connection closes, since the next message's start cannot be found.
    case badLength(head: [UInt8], problem: String)
    /// Bytes that are not SIP, or a header section past the limit; the connection closes.
    case invalid(String, [UInt8])
}

/// Frames SIP over TCP by Content-Length (RFC 3261 §18.3): leading CRLFs (keepalives) skipped, the header
/// section bounded, the body bounded.
struct SIPStreamDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = SIPStreamFrame

    /// What the handler may buffer: one header section and one body at their limits.
    static let maximumBuffer = SIPParser.maximumHeaderBytes + SIPParser.maximumBody + 64

    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), byte == 0x0D || byte == 0x0A {
            buffer.moveReaderIndex(forwardBy: 1)
        }
        let view = buffer.readableBytesView
        guard !view.isEmpty else { return .needMoreData }
        guard let (end, bodyStart) = SIPParser.headerEnd(view) else {
            if view.count > SIPParser.maximumHeaderBytes {
                return self.failFraming(context, &buffer, "header section over 16384 bytes", failed: &self.failed)
            }
            // A first line that is already complete and not SIP will never become SIP.
            if let newline = view.firstIndex(of: 0x0A) {
                let line = String(decoding: view[view.startIndex..<newline], as: UTF8.self)
                if !SIPParser.isSIPStartLine(SIPParser.trimmed(line.filter { $0 != "\r" })) {
                    return self.notSIP(context, &buffer)
                }
            }
            return .needMoreData
        }
        let head = Array(view.prefix(end))
        let (start, headers, _) = SIPParser.headerSection(head)
        guard SIPParser.isSIPStartLine(start) else { return self.notSIP(context, &buffer) }
        let length: Int
        switch SIPParser.contentLength(in: headers) {
        case .absent:
            // RFC 3261 §18.3 requires Content-Length on a stream; chan_sip reads a message without one as bodiless.
            length = 0
        case .length(let declared) where declared <= SIPParser.maximumBody:
            length = declared
        case .length(let declared):
            return self.badLength(context, &buffer, head, "Content-Length \(declared) over the limit")
        case .invalid(let text):
            return self.badLength(context, &buffer, head, "invalid Content-Length \(text.prefix(32))")
        }
        guard view.count >= bodyStart + length else { return .needMoreData }
        let message = Array(view.prefix(bodyStart + length))
        buffer.moveReaderIndex(forwardBy: bodyStart + length)
        context.fireChannelRead(Self.wrapInboundOut(.message(message)))
        return .continue
    }

    /// Gives up on a stream whose first line is not SIP; the preview is that line (whatever else has arrived).
    private mutating func notSIP(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) -> DecodingState {
        self.failed = true
        let view = buffer.readableBytesView
        var line = Array(view.prefix { $0 != 0x0A }.prefix(64))
        if line.count < 64 && view.contains(0x0A) { line.append(0x0A) }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        context.fireChannelRead(Self.wrapInboundOut(.invalid("not a SIP message", line)))
        return .needMoreData
    }

    private mutating func badLength(
        _ context: ChannelHandlerContext,
        _ buffer: inout ByteBuffer,
        _ head: [UInt8],
        _ problem: String
    ) -> DecodingState {
        self.failed = true
        buffer.moveReaderIndex(to: buffer.writerIndex)
        context.fireChannelRead(Self.wrapInboundOut(.badLength(head: head, problem: problem)))
        return .needMoreData
    }
}
