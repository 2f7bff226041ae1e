import NIOCore

/// Syslog over a stream (RFC 6587; RFC 5425 for TLS): octet counting, `MSG-LEN SP SYSLOG-MSG`, is what RFC 5425
/// requires and what the forwarder sends. The listener also takes the older newline-terminated framing that
/// many senders still use over TCP, telling the two apart by the first byte of each frame as RFC 6587 §3.4
/// does: a digit starts a length, `<` starts a message.
public enum SyslogFraming {
    /// The largest message accepted (RFC 5425 asks receivers for at least 2,048 octets and recommends 8,192;
    /// our events stay far below this).
    public static let maximumMessage = 64 * 1024

    /// Appends `message` octet-counted.
    public static func frame(_ message: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.writeString(String(message.count))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeBytes(message)
    }
}

/// Splits a syslog stream into messages. A frame that breaks the framing (a length that is not a number, longer
/// than the limit, or zero; a newline-framed message over the limit; a first byte that is neither) is an
/// error, which closes the connection: a hostile or confused sender gets nothing further.
public struct SyslogFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public struct FramingError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public let maximumMessage: Int

    public init(maximumMessage: Int = SyslogFraming.maximumMessage) {
        self.maximumMessage = maximumMessage
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        // Stray line ends between frames are skipped.
        while let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            first == UInt8(ascii: "\n") || first == UInt8(ascii: "\r")
        {
            buffer.moveReaderIndex(forwardBy: 1)
        }
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        switch first {
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            return try self.decodeCounted(&buffer)
        case UInt8(ascii: "<"):
            return try self.decodeNewlineFramed(&buffer)
        default:
            throw FramingError(description: "a frame starts with byte \(first), neither a length nor '<'")
        }
    }

    private func decodeCounted(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        // At most 10 digits before the space.
        let view = buffer.readableBytesView.prefix(11)
        guard let space = view.firstIndex(of: UInt8(ascii: " ")) else {
            if view.count == 11 { throw FramingError(description: "a message length of more than 10 digits") }
            if let bad = view.first(where: { !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                throw FramingError(description: "byte \(bad) in a message length")
            }
            return nil
        }
        let digits = view[view.startIndex..<space]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let length = Int(String(decoding: digits, as: UTF8.self))
        else { throw FramingError(description: "a message length that is not a number") }
        guard length <= self.maximumMessage else {
            throw FramingError(description: "a message of \(length) octets (the limit is \(self.maximumMessage))")
        }
        let header = digits.count + 1
        guard buffer.readableBytes >= header + length else { return nil }
        buffer.moveReaderIndex(forwardBy: header)
        return buffer.readSlice(length: length)
    }

    private func decodeNewlineFramed(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > self.maximumMessage {
                throw FramingError(description: "a newline-framed message longer than \(self.maximumMessage) octets")
            }
            return nil
        }
        let length = newline - buffer.readerIndex
        guard length <= self.maximumMessage else {
            throw FramingError(description: "a newline-framed message of \(length) octets")
        }
        var message = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if message.readableBytesView.last == UInt8(ascii: "\r") {
            message = message.getSlice(at: message.readerIndex, length: length - 1)!
        }
        return message
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try self.decode(buffer: &buffer)
    }
}
