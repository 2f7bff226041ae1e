import DecnetCore
import NIOCore

/// The service bus's wire protocol: the text protocol of NATS core (`INFO`, `CONNECT`, `PUB`, `SUB`, `UNSUB`,
/// `MSG`, `PING`, `PONG`, `+OK`, `-ERR`), so the broker speaks to our own clients and to any NATS client.
/// Control lines end in CRLF (a bare LF is accepted); a payload follows its control line and ends in CRLF.
public enum BusWire {
    /// The longest control line accepted.
    public static let maximumControlLine = 4096
    /// The largest payload accepted (what `INFO` announces as `max_payload`).
    public static let maximumPayload = 1 << 20

    public struct ProtocolError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// What a client sends.
    public enum ClientOperation: Equatable, Sendable {
        case connect(String)
        case publish(subject: String, reply: String?, payload: ByteBuffer)
        case subscribe(subject: String, queue: String?, sid: String)
        case unsubscribe(sid: String, max: Int?)
        case ping
        case pong
    }

    /// What the server sends.
    public enum ServerOperation: Equatable, Sendable {
        case info(String)
        case message(subject: String, sid: String, reply: String?, payload: ByteBuffer)
        case ping
        case pong
        case ok
        case error(String)
    }

    public static func write(_ operation: ServerOperation, into buffer: inout ByteBuffer) {
        switch operation {
        case .info(let json): buffer.writeString("INFO \(json)\r\n")
        case .message(let subject, let sid, let reply, let payload):
            buffer.writeString("MSG \(subject) \(sid) \(reply.map { $0 + " " } ?? "")\(payload.readableBytes)\r\n")
            buffer.writeImmutableBuffer(payload)
            buffer.writeString("\r\n")
        case .ping: buffer.writeString("PING\r\n")
        case .pong: buffer.writeString("PONG\r\n")
        case .ok: buffer.writeString("+OK\r\n")
        case .error(let message): buffer.writeString("-ERR '\(message)'\r\n")
        }
    }

    public static func write(_ operation: ClientOperation, into buffer: inout ByteBuffer) {
        switch operation {
        case .connect(let json): buffer.writeString("CONNECT \(json)\r\n")
        case .publish(let subject, let reply, let payload):
            buffer.writeString("PUB \(subject) \(reply.map { $0 + " " } ?? "")\(payload.readableBytes)\r\n")
            buffer.writeImmutableBuffer(payload)
            buffer.writeString("\r\n")
        case .subscribe(let subject, let queue, let sid):
            buffer.writeString("SUB \(subject) \(queue.map { $0 + " " } ?? "")\(sid)\r\n")
        case .unsubscribe(let sid, let max): buffer.writeString("UNSUB \(sid)\(max.map { " \($0)" } ?? "")\r\n")
        case .ping: buffer.writeString("PING\r\n")
        case .pong: buffer.writeString("PONG\r\n")
        }
    }

    /// Splits off the next control line, or nil when it has not all arrived. Fails past the length limit.
    static func controlLine(_ buffer: ByteBuffer) throws -> (words: [Substring], length: Int)? {
        let view = buffer.readableBytesView
        guard let newline = view.prefix(Self.maximumControlLine + 2).firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > Self.maximumControlLine + 1 {
                throw ProtocolError(description: "Maximum Control Line Exceeded")
            }
            return nil
        }
        var end = newline
        if end > view.startIndex, view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let text = String(decoding: view[view.startIndex..<end], as: UTF8.self)
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return (words, newline - view.startIndex + 1)
    }

    /// Reads a payload of `size` bytes and its CRLF after a control line of `length` bytes.
    static func payload(_ buffer: inout ByteBuffer, afterLine length: Int, size: Substring) throws -> ByteBuffer? {
        guard let size = Int(size), size >= 0 else { throw ProtocolError(description: "Invalid Payload Size") }
        guard size <= Self.maximumPayload else { throw ProtocolError(description: "Maximum Payload Violation") }
        guard buffer.readableBytes >= length + size + 2 else { return nil }
        let trailer = buffer.getBytes(at: buffer.readerIndex + length + size, length: 2)
        guard trailer == [0x0D, 0x0A] else { throw ProtocolError(description: "Payload Not Followed By CRLF") }
        buffer.moveReaderIndex(forwardBy: length)
        let payload = buffer.readSlice(length: size)!
        buffer.moveReaderIndex(forwardBy: 2)
        return payload
    }
}

/// Decodes what clients send (the broker's side).
public struct BusClientDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = BusWire.ClientOperation

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> BusWire.ClientOperation? {
        while true {
            guard let (words, length) = try BusWire.controlLine(buffer) else { return nil }
            guard let verb = words.first?.uppercased() else {
                buffer.moveReaderIndex(forwardBy: length)  // an empty line
                continue
            }
            let arguments = words.dropFirst()
            func done(_ operation: BusWire.ClientOperation) -> BusWire.ClientOperation {
                buffer.moveReaderIndex(forwardBy: length)
                return operation
            }
            switch (verb, arguments.count) {
            case ("PING", 0): return done(.ping)
            case ("PONG", 0): return done(.pong)
            case ("CONNECT", _):
                return done(.connect(arguments.joined(separator: " ")))
            case ("SUB", 2), ("SUB", 3):
                let list = Array(arguments)
                return done(
                    .subscribe(
                        subject: String(list[0]),
                        queue: list.count == 3 ? String(list[1]) : nil,
                        sid: String(list.last!)
                    )
                )
            case ("UNSUB", 1), ("UNSUB", 2):
                let list = Array(arguments)
                var max: Int?
                if list.count == 2 {
                    guard let value = Int(list[1]), value >= 0 else {
                        throw BusWire.ProtocolError(description: "Invalid Unsubscribe Max")
                    }
                    max = value
                }
                return done(.unsubscribe(sid: String(list[0]), max: max))
            case ("PUB", 2), ("PUB", 3):
                let list = Array(arguments)
                guard let payload = try BusWire.payload(&buffer, afterLine: length, size: list.last!) else {
                    return nil
                }
                return .publish(
                    subject: String(list[0]),
                    reply: list.count == 3 ? String(list[1]) : nil,
                    payload: payload
                )
            default:
                throw BusWire.ProtocolError(description: "Unknown Protocol Operation")
            }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> BusWire.ClientOperation? {
        try self.decode(buffer: &buffer)
    }
}

/// Decodes what the server sends (a client's side).
public struct BusServerDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = BusWire.ServerOperation

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> BusWire.ServerOperation? {
        guard let (words, length) = try BusWire.controlLine(buffer) else { return nil }
        let verb = words.first?.uppercased() ?? ""
        let arguments = Array(words.dropFirst())
        func done(_ operation: BusWire.ServerOperation) -> BusWire.ServerOperation {
            buffer.moveReaderIndex(forwardBy: length)
            return operation
        }
        switch verb {
        case "INFO": return done(.info(arguments.joined(separator: " ")))
        case "PING": return done(.ping)
        case "PONG": return done(.pong)
        case "+OK": return done(.ok)
        case "-ERR": return done(.error(arguments.joined(separator: " ").trimmingQuotes()))
        case "MSG" where arguments.count == 3 || arguments.count == 4:
            guard let payload = try BusWire.payload(&buffer, afterLine: length, size: arguments.last!) else {
                return nil
            }
            return .message(
                subject: String(arguments[0]),
                sid: String(arguments[1]),
                reply: arguments.count == 4 ? String(arguments[2]) : nil,
                payload: payload
            )
        default:
            throw BusWire.ProtocolError(description: "Unknown Protocol Operation")
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> BusWire.ServerOperation? {
        try self.decode(buffer: &buffer)
    }
}

extension String {
    fileprivate func trimmingQuotes() -> String {
        var text = Substring(self)
        if text.hasPrefix("'") { text = text.dropFirst() }
        if text.hasSuffix("'") { text = text.dropLast() }
        return String(text)
    }
}
