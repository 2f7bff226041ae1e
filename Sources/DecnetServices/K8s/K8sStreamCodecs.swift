import Crypto
import Foundation

/// RFC 6455 as the API server's exec endpoint speaks it: the 101 its WebSocket library writes, unmasked server
/// frames, masked client frames decoded with a bounded buffer, and the Kubernetes channel prefix (one byte, or a
/// digit and base64 for the `base64.` subprotocols).
enum K8sWebSocket {
    static let maximumPayload = 1 << 20

    enum Opcode: UInt8 {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    struct Frame: Equatable {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
    }

    enum DecodeError: Error, Equatable {
        case tooLarge
        case unmasked
        case reservedBits
    }

    static func accept(key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Data(Array(digest)).base64EncodedString()
    }

    /// golang.org/x/net/websocket's handshake reply, as the API server sends it.
    static func handshake(key: String, protocolName: String) -> [UInt8] {
        Array(
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(Self.accept(key: key))\r\nSec-WebSocket-Protocol: \(protocolName)\r\n\r\n")
                .utf8
        )
    }

    /// A final, unmasked frame.
    static func frame(_ opcode: Opcode, _ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x80 | opcode.rawValue]
        switch payload.count {
        case ..<126: out.append(UInt8(payload.count))
        case ..<65_536: out += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            out.append(127)
            out += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        return out + payload
    }

    /// Data on a channel (1 stdout, 2 stderr, 3 error), binary or base64 per the subprotocol.
    static func channel(_ channel: UInt8, _ data: [UInt8], base64: Bool) -> [UInt8] {
        if base64 {
            return Self.frame(.text, Array("\(channel)".utf8) + Array(Data(data).base64EncodedString().utf8))
        }
        return Self.frame(.binary, [channel] + data)
    }

    /// A client's message as (channel, data), decoding base64 when the subprotocol says so.
    static func unchannel(_ payload: [UInt8], base64: Bool) -> (UInt8, [UInt8])? {
        guard let first = payload.first else { return nil }
        if base64 {
            guard first >= 0x30, first <= 0x39,
                let data = Data(base64Encoded: String(decoding: payload.dropFirst(), as: UTF8.self))
            else { return nil }
            return (first - 0x30, Array(data))
        }
        return (first, Array(payload.dropFirst()))
    }

    static let normalClose: [UInt8] = Self.frame(.close, [0x03, 0xE8])

    /// Decodes client frames from a byte stream.
    struct Decoder {
        private var buffer: [UInt8] = []

        mutating func feed(_ bytes: some Sequence<UInt8>) { self.buffer += bytes }

        /// The next whole frame, nil when more bytes are needed.
        mutating func next() throws(DecodeError) -> Frame? {
            guard self.buffer.count >= 2 else { return nil }
            let first = self.buffer[0]
            let second = self.buffer[1]
            guard first & 0x70 == 0 else { throw .reservedBits }
            guard second & 0x80 != 0 else { throw .unmasked }
            var length = Int(second & 0x7F)
            var offset = 2
            if length == 126 {
                guard self.buffer.count >= 4 else { return nil }
                length = Int(self.buffer[2]) << 8 | Int(self.buffer[3])
                offset = 4
            } else if length == 127 {
                guard self.buffer.count >= 10 else { return nil }
                guard self.buffer[2..<6].allSatisfy({ $0 == 0 }) else { throw .tooLarge }
                length = self.buffer[6..<10].reduce(0) { $0 << 8 | Int($1) }
                offset = 10
            }
            guard length <= K8sWebSocket.maximumPayload else { throw .tooLarge }
            guard self.buffer.count >= offset + 4 + length else { return nil }
            let mask = Array(self.buffer[offset..<offset + 4])
            let start = offset + 4
            var payload = Array(self.buffer[start..<start + length])
            for index in payload.indices { payload[index] ^= mask[index & 3] }
            self.buffer.removeFirst(start + length)
            return Frame(fin: first & 0x80 != 0, opcode: first & 0x0F, payload: payload)
        }
    }
}

/// SPDY/3.1 as client-go's exec and attach use it: the streams the client opens (SYN_STREAM), the server's
/// SYN_REPLY, DATA with FIN, PING. Header blocks the server sends are a zlib stream of stored (uncompressed)
/// deflate blocks, which any inflater reads; the client's compressed headers are not needed, since client-go
/// opens its streams in a fixed order (error, stdin, stdout, stderr, resize).
enum K8sSPDY {
    static let maximumFrame = 1 << 20

    enum Frame: Equatable {
        case synStream(id: UInt32, fin: Bool)
        case data(id: UInt32, payload: [UInt8], fin: Bool)
        case ping(id: UInt32)
        case rstStream(id: UInt32)
        case goAway
        case other(type: UInt16)
    }

    enum DecodeError: Error, Equatable {
        case tooLarge
        case malformed
    }

    /// The kubelet's 101 (Go order: sorted headers, then Date).
    static func handshake(protocolName: String, date: Date = Date()) -> [UInt8] {
        K8sGoHTTP.head(
            status: 101,
            headers: [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", protocolName)],
            framing: .none,
            http10: false,
            close: false,
            date: date
        )
    }

    struct Decoder {
        private var buffer: [UInt8] = []

        mutating func feed(_ bytes: some Sequence<UInt8>) { self.buffer += bytes }

        mutating func next() throws(DecodeError) -> Frame? {
            guard self.buffer.count >= 8 else { return nil }
            let length = Int(self.buffer[5]) << 16 | Int(self.buffer[6]) << 8 | Int(self.buffer[7])
            guard length <= K8sSPDY.maximumFrame else { throw .tooLarge }
            guard self.buffer.count >= 8 + length else { return nil }
            let flags = self.buffer[4]
            let payload = Array(self.buffer[8..<8 + length])
            let word = self.buffer[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            self.buffer.removeFirst(8 + length)
            func id(_ bytes: [UInt8]) throws(DecodeError) -> UInt32 {
                guard bytes.count >= 4 else { throw .malformed }
                return bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            }
            guard word & 0x8000_0000 != 0 else {
                return .data(id: word & 0x7FFF_FFFF, payload: payload, fin: flags & 0x01 != 0)
            }
            let type = UInt16(word & 0xFFFF)
            switch type {
            case 1: return .synStream(id: try id(payload), fin: flags & 0x01 != 0)
            case 3: return .rstStream(id: try id(payload))
            case 6: return .ping(id: try id(payload))
            case 7: return .goAway
            default: return .other(type: type)
            }
        }
    }

    /// Frames the server writes.
    struct Encoder {
        private var headerStreamStarted = false

        /// SYN_REPLY with no headers.
        mutating func synReply(id: UInt32) -> [UInt8] {
            // An empty header block (a 32-bit count of zero) in one stored deflate block, after the zlib header
            // the first time, then the empty stored block of a sync flush, which hands the bytes to the reader.
            var block: [UInt8] = self.headerStreamStarted ? [] : [0x78, 0x01]
            self.headerStreamStarted = true
            block += [0x00, 0x04, 0x00, 0xFB, 0xFF, 0x00, 0x00, 0x00, 0x00]
            block += [0x00, 0x00, 0x00, 0xFF, 0xFF]
            let payload = K8sSPDY.be32(id) + block
            return [0x80, 0x03, 0x00, 0x02] + K8sSPDY.flagsLength(0, payload.count) + payload
        }

        static func data(id: UInt32, _ payload: [UInt8], fin: Bool) -> [UInt8] {
            K8sSPDY.be32(id & 0x7FFF_FFFF) + K8sSPDY.flagsLength(fin ? 0x01 : 0x00, payload.count) + payload
        }

        static func ping(id: UInt32) -> [UInt8] {
            [0x80, 0x03, 0x00, 0x06] + K8sSPDY.flagsLength(0, 4) + K8sSPDY.be32(id)
        }
    }

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func flagsLength(_ flags: UInt8, _ length: Int) -> [UInt8] {
        [flags, UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }

    /// The streams client-go opens for a request, in order.
    static func streamOrder(_ request: K8sExecRequest, protocolName: String) -> [K8sStreamKind] {
        var kinds: [K8sStreamKind] = [.error]
        if request.stdin { kinds.append(.stdin) }
        if request.stdout { kinds.append(.stdout) }
        if request.stderr && !request.tty { kinds.append(.stderr) }
        if request.tty && ["v3.channel.k8s.io", "v4.channel.k8s.io"].contains(protocolName) { kinds.append(.resize) }
        return kinds
    }
}

/// The streams of a remote command, numbered as the WebSocket channels are.
enum K8sStreamKind: UInt8, Sendable {
    case stdin = 0
    case stdout = 1
    case stderr = 2
    case error = 3
    case resize = 4
}
