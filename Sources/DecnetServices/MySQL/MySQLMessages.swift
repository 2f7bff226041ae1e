import NIOCore

/// One MySQL protocol packet: 3-byte little-endian length, sequence id, payload.
public struct MySQLPacket: Equatable, Sendable {
    public var sequence: UInt8
    public var payload: [UInt8]

    public init(sequence: UInt8, payload: [UInt8]) {
        self.sequence = sequence
        self.payload = payload
    }
}

/// Frames packets; a declared length over the limit is refused before any of it is buffered.
struct MySQLPacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MySQLPacket

    /// Largest packet accepted (the server's default `max_allowed_packet` is larger; no client needs it here).
    static let maximumPayload = 1 << 20

    struct TooLarge: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 4,
            let low = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt16.self),
            let high = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt8.self),
            let sequence = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self)
        else { return .needMoreData }
        let length = Int(low) | Int(high) << 16
        guard length <= Self.maximumPayload else { throw TooLarge() }
        guard buffer.readableBytes >= 4 + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readBytes(length: length)!
        context.fireChannelRead(Self.wrapInboundOut(MySQLPacket(sequence: sequence, payload: payload)))
        return .continue
    }
}

/// Writes packets.
enum MySQLPacketWriter {
    /// A packet's wire bytes.
    static func bytes(_ packet: MySQLPacket) -> [UInt8] {
        var buffer = ByteBuffer()
        self.write(packet, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func write(_ packet: MySQLPacket, into buffer: inout ByteBuffer) {
        let length = packet.payload.count
        buffer.writeInteger(UInt16(truncatingIfNeeded: length), endianness: .little)
        buffer.writeInteger(UInt8(truncatingIfNeeded: length >> 16))
        buffer.writeInteger(packet.sequence)
        buffer.writeBytes(packet.payload)
    }
}

/// Reads the fields of a client packet without trusting any declared length.
struct MySQLReader {
    var bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { self.bytes.count - self.index }

    mutating func integer(_ width: Int) -> Int? {
        guard width <= 8, self.remaining >= width else { return nil }
        var value = 0
        for offset in 0..<width { value |= Int(self.bytes[self.index + offset]) << (8 * offset) }
        self.index += width
        return value
    }

    mutating func skip(_ count: Int) -> Bool {
        guard self.remaining >= count else { return false }
        self.index += count
        return true
    }

    mutating func nulTerminated() -> [UInt8]? {
        guard let end = self.bytes[self.index...].firstIndex(of: 0) else { return nil }
        let value = Array(self.bytes[self.index..<end])
        self.index = end + 1
        return value
    }

    mutating func fixed(_ count: Int) -> [UInt8]? {
        guard count >= 0, self.remaining >= count else { return nil }
        let value = Array(self.bytes[self.index..<(self.index + count)])
        self.index += count
        return value
    }

    /// A length-encoded integer (1, 3, 4 or 9 bytes).
    mutating func lengthEncoded() -> Int? {
        guard let first = self.integer(1) else { return nil }
        switch first {
        case 0..<0xFB: return first
        case 0xFC: return self.integer(2)
        case 0xFD: return self.integer(3)
        case 0xFE:
            guard let value = self.integer(8), value >= 0 else { return nil }
            return value
        default: return nil
        }
    }

    mutating func lengthEncodedString() -> [UInt8]? {
        guard let length = self.lengthEncoded() else { return nil }
        return self.fixed(length)
    }

    mutating func rest() -> [UInt8] {
        let value = Array(self.bytes[self.index...])
        self.index = self.bytes.count
        return value
    }
}

/// Builds server packet payloads.
struct MySQLWriter {
    var bytes: [UInt8] = []

    mutating func integer(_ value: Int, _ width: Int) {
        for offset in 0..<width { self.bytes.append(UInt8(truncatingIfNeeded: value >> (8 * offset))) }
    }

    mutating func nulTerminated(_ text: String) {
        self.bytes.append(contentsOf: text.utf8)
        self.bytes.append(0)
    }

    mutating func lengthEncoded(_ value: Int) {
        switch value {
        case 0..<251: self.integer(value, 1)
        case 251..<65536:
            self.bytes.append(0xFC)
            self.integer(value, 2)
        case 65536..<16_777_216:
            self.bytes.append(0xFD)
            self.integer(value, 3)
        default:
            self.bytes.append(0xFE)
            self.integer(value, 8)
        }
    }

    mutating func lengthEncodedString(_ text: String) {
        self.lengthEncoded(text.utf8.count)
        self.bytes.append(contentsOf: text.utf8)
    }
}
