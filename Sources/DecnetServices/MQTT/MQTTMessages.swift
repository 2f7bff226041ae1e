import DecnetServiceKit
import NIOCore

/// One MQTT control packet (MQTT 3.1.1 §2, MQTT 5 §2) as the decoder frames it: type, flags and the bytes after
/// the fixed header.
public enum MQTTInbound: Equatable, Sendable, FramingFailure {
    case packet(type: UInt8, flags: UInt8, body: [UInt8])
    /// A header no client sends (a remaining length over four bytes or beyond the limit); the broker closes.
    case invalid(String, [UInt8])
}

/// Frames MQTT packets by their variable-length remaining length, trusting none beyond `maximumPacket`.
struct MQTTPacketDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = MQTTInbound

    /// Largest packet read (a broker's default is far larger; a honeypot keeps what an attacker may send small).
    static let maximumPacket = 1 << 18

    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let head = buffer.getBytes(at: buffer.readerIndex, length: min(5, buffer.readableBytes)),
            head.count >= 2
        else { return .needMoreData }
        var length = 0, multiplier = 1, at = 1
        while true {
            guard at < head.count else {
                if head.count >= 5 { return self.fail(context, &buffer, "remaining length over four bytes") }
                return .needMoreData
            }
            let byte = head[at]
            length += Int(byte & 0x7F) * multiplier
            at += 1
            if byte & 0x80 == 0 { break }
            multiplier *= 128
            if at > 4 { return self.fail(context, &buffer, "remaining length over four bytes") }
        }
        guard length <= Self.maximumPacket else {
            return self.fail(context, &buffer, "MQTT packet of \(length) bytes")
        }
        guard buffer.readableBytes >= at + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: at)
        let body = buffer.readBytes(length: length)!
        context.fireChannelRead(Self.wrapInboundOut(.packet(type: head[0] >> 4, flags: head[0] & 0x0F, body: body)))
        return .continue
    }

    private mutating func fail(
        _ context: ChannelHandlerContext,
        _ buffer: inout ByteBuffer,
        _ problem: String
    )
        -> DecodingState
    {
        self.failFraming(context, &buffer, problem, failed: &self.failed)
    }
}

/// Reads the fields of a packet body, each read checked against the body.
struct MQTTReader {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { self.bytes.count - self.at }

    mutating func byte() -> UInt8? {
        guard self.at < self.bytes.count else { return nil }
        defer { self.at += 1 }
        return self.bytes[self.at]
    }

    mutating func uint16() -> UInt16? {
        guard self.at + 2 <= self.bytes.count else { return nil }
        defer { self.at += 2 }
        return UInt16(self.bytes[self.at]) << 8 | UInt16(self.bytes[self.at + 1])
    }

    /// A two-byte-length binary field (strings are UTF-8 in these).
    mutating func binary() -> [UInt8]? {
        guard let length = self.uint16(), self.at + Int(length) <= self.bytes.count else { return nil }
        defer { self.at += Int(length) }
        return Array(self.bytes[self.at..<(self.at + Int(length))])
    }

    mutating func string() -> String? { self.binary().map { String(decoding: $0, as: UTF8.self) } }

    /// A variable byte integer (MQTT 5 §1.5.5).
    mutating func varint() -> Int? {
        var value = 0, multiplier = 1
        for _ in 0..<4 {
            guard let byte = self.byte() else { return nil }
            value += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 { return value }
            multiplier *= 128
        }
        return nil
    }

    /// Skips MQTT 5 properties (their length, then that many bytes); false when they run past the body.
    mutating func skipProperties() -> Bool {
        guard let length = self.varint(), self.at + length <= self.bytes.count else { return false }
        self.at += length
        return true
    }

    var rest: [UInt8] { Array(self.bytes[min(self.at, self.bytes.count)...]) }
}

/// A CONNECT packet's content (MQTT 3.1.1 §3.1, MQTT 5 §3.1).
struct MQTTConnect: Equatable {
    var protocolName: String
    /// 3 (3.1, "MQIsdp"), 4 (3.1.1) or 5.
    var level: UInt8
    var cleanSession: Bool
    var keepAlive: UInt16
    var clientID: String
    var willTopic: String?
    var willMessage: [UInt8]?
    var username: [UInt8]?
    var password: [UInt8]?

    /// Reads a CONNECT body; nil when a field runs past it or the reserved flag is set.
    init?(_ body: [UInt8]) {
        var reader = MQTTReader(body)
        guard let name = reader.string(), let level = reader.byte(), let flags = reader.byte(),
            let keepAlive = reader.uint16(), flags & 0x01 == 0
        else { return nil }
        self.protocolName = name
        self.level = level
        self.cleanSession = flags & 0x02 != 0
        self.keepAlive = keepAlive
        if level == 5 { guard reader.skipProperties() else { return nil } }
        guard let clientID = reader.string() else { return nil }
        self.clientID = clientID
        if flags & 0x04 != 0 {
            if level == 5 { guard reader.skipProperties() else { return nil } }
            guard let topic = reader.string(), let message = reader.binary() else { return nil }
            self.willTopic = topic
            self.willMessage = message
        }
        if flags & 0x80 != 0 {
            guard let username = reader.binary() else { return nil }
            self.username = username
        }
        if flags & 0x40 != 0 {
            guard let password = reader.binary() else { return nil }
            self.password = password
        }
    }
}

enum MQTT {
    static let connect: UInt8 = 1, connack: UInt8 = 2, publish: UInt8 = 3, puback: UInt8 = 4, pubrec: UInt8 = 5,
        pubrel: UInt8 = 6, pubcomp: UInt8 = 7, subscribe: UInt8 = 8, suback: UInt8 = 9, unsubscribe: UInt8 = 10,
        unsuback: UInt8 = 11, pingreq: UInt8 = 12, pingresp: UInt8 = 13, disconnect: UInt8 = 14, auth: UInt8 = 15

    /// A packet: fixed header (type, flags, remaining length) and body.
    static func packet(_ type: UInt8, flags: UInt8 = 0, _ body: [UInt8]) -> [UInt8] {
        [type << 4 | flags] + self.varint(body.count) + body
    }

    static func varint(_ value: Int) -> [UInt8] {
        var out: [UInt8] = []
        var rest = value
        repeat {
            var byte = UInt8(rest % 128)
            rest /= 128
            if rest > 0 { byte |= 0x80 }
            out.append(byte)
        } while rest > 0
        return out
    }

    static func string(_ text: String) -> [UInt8] { self.binary(Array(text.utf8)) }

    static func binary(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(truncatingIfNeeded: bytes.count >> 8), UInt8(truncatingIfNeeded: bytes.count)] + bytes
    }

    static func id(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    /// Whether a topic filter matches a topic name (MQTT 3.1.1 §4.7): `+` one level, `#` the rest; a filter
    /// starting with a wildcard never matches a `$` topic.
    static func matches(_ filter: String, _ topic: String) -> Bool {
        if topic.hasPrefix("$") && (filter.hasPrefix("#") || filter.hasPrefix("+")) { return false }
        let filterLevels = filter.split(separator: "/", omittingEmptySubsequences: false)
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in filterLevels.enumerated() {
            if level == "#" { return index == filterLevels.count - 1 }
            guard index < topicLevels.count else { return false }
            if level != "+" && level != topicLevels[index] { return false }
        }
        return filterLevels.count == topicLevels.count
    }

    /// Whether a topic filter is well formed: `#` only last and alone in its level, `+` alone in its level.
    static func validFilter(_ filter: String) -> Bool {
        guard !filter.isEmpty, filter.utf8.count <= 65_535, !filter.contains("\0") else { return false }
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#") && (level != "#" || index != levels.count - 1) { return false }
            if level.contains("+") && level != "+" { return false }
        }
        return true
    }
}
