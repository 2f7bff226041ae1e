import CZlib
import NIOCore
import Synchronization

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
///
/// The first packet is judged by its 4-byte header alone, as MariaDB and MySQL judge it: a sequence id other than
/// 1 is out of order whatever its length (nmap's text and binary probes), so it is delivered at once as a packet
/// holding those 4 header bytes, and nothing after it is read. After a login that asked for compression
/// (`compression` switched on), packets arrive inside compressed frames.
struct MySQLPacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MySQLPacket

    /// Largest packet accepted (the server's default `max_allowed_packet` is larger; no client needs it here).
    static let maximumPayload = 1 << 20

    struct TooLarge: Error {}

    let compression: MySQLCompression
    private var first = true
    private var stopped = false
    /// Packet bytes taken out of compressed frames, not yet a whole packet.
    private var inner = ByteBuffer()

    init(compression: MySQLCompression = MySQLCompression()) {
        self.compression = compression
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.stopped {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        if self.compression.enabled {
            guard let frame = try Self.frame(&buffer, compression: self.compression) else { return .needMoreData }
            self.inner.writeBytes(frame)
            while let packet = try Self.packet(&self.inner) {
                context.fireChannelRead(Self.wrapInboundOut(packet))
            }
            return .continue
        }
        if self.first, buffer.readableBytes >= 4,
            let sequence = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self),
            sequence != 1
        {
            self.stopped = true
            let header = buffer.readBytes(length: 4)!
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(Self.wrapInboundOut(MySQLPacket(sequence: sequence, payload: header)))
            return .needMoreData
        }
        guard let packet = try Self.packet(&buffer) else { return .needMoreData }
        self.first = false
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }

    /// One whole packet from the front of `buffer`, or nil while it is incomplete.
    static func packet(_ buffer: inout ByteBuffer) throws -> MySQLPacket? {
        guard buffer.readableBytes >= 4,
            let low = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt16.self),
            let high = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt8.self),
            let sequence = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt8.self)
        else { return nil }
        let length = Int(low) | Int(high) << 16
        guard length <= Self.maximumPayload else { throw TooLarge() }
        guard buffer.readableBytes >= 4 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return MySQLPacket(sequence: sequence, payload: buffer.readBytes(length: length)!)
    }

    /// The packet bytes of one compressed frame (`<length 3> <sequence> <uncompressed length 3>`, then the body,
    /// raw when the uncompressed length is 0, else a zlib stream of that many bytes), or nil while incomplete.
    static func frame(_ buffer: inout ByteBuffer, compression: MySQLCompression) throws -> [UInt8]? {
        guard buffer.readableBytes >= 7, let header = buffer.getBytes(at: buffer.readerIndex, length: 7) else {
            return nil
        }
        let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16
        let inflated = Int(header[4]) | Int(header[5]) << 8 | Int(header[6]) << 16
        guard length <= Self.maximumPayload + 64, inflated <= Self.maximumPayload + 4 else { throw TooLarge() }
        guard buffer.readableBytes >= 7 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 7)
        let body = buffer.readBytes(length: length)!
        compression.received(sequence: header[3])
        guard inflated > 0 else { return body }
        guard let bytes = ZlibInflate.whole(body, expected: inflated) else { throw TooLarge() }
        return bytes
    }
}

/// Whether a connection's packets travel in compressed frames (the client asked, and its login succeeded), and
/// the frame sequence the server's next frame carries: it goes on from the client's last frame.
final class MySQLCompression: Sendable {
    private let state = Mutex<(enabled: Bool, next: UInt8)>((false, 0))

    var enabled: Bool { self.state.withLock { $0.enabled } }

    func enable() { self.state.withLock { $0.enabled = true } }

    func received(sequence: UInt8) { self.state.withLock { $0.next = sequence &+ 1 } }

    /// One server frame holding `bytes` uncompressed (uncompressed length 0), as MariaDB sends short replies.
    func frame(_ bytes: [UInt8]) -> [UInt8] {
        let sequence = self.state.withLock { state -> UInt8 in
            defer { state.next &+= 1 }
            return state.next
        }
        let count = bytes.count
        return [
            UInt8(truncatingIfNeeded: count), UInt8(truncatingIfNeeded: count >> 8),
            UInt8(truncatingIfNeeded: count >> 16), sequence, 0, 0, 0,
        ]
            + bytes
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
        guard count >= 0, self.remaining >= count else { return false }
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

/// A whole zlib stream inflated at once, refused unless it gives exactly the size its sender declared.
enum ZlibInflate {
    static func whole(_ input: [UInt8], expected: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: max(expected, 1))
        var size = uLongf(expected)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                uncompress(target.baseAddress, &size, source.baseAddress, uLong(source.count))
            }
        }
        guard status == Z_OK, Int(size) == expected else { return nil }
        return Array(output.prefix(expected))
    }
}
