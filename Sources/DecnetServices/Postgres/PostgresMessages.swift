import DecnetServiceKit
import NIOCore

/// A frontend message as the decoder frames it. The startup phase has untyped messages (length, code,
/// body); after a 3.0 startup every message is typed (byte, length, body).
public enum PostgresFrontendMessage: Equatable, Sendable {
    /// StartupMessage: protocol version and the parameters (`user`, `database`, `application_name` …).
    case startup(major: Int, minor: Int, parameters: [String: String])
    /// SSLRequest (code 80877103): the server answers `N` and expects a new startup.
    case sslRequest
    /// GSSENCRequest (code 80877104): likewise answered `N`.
    case gssRequest
    /// CancelRequest (code 80877102).
    case cancelRequest
    /// A startup packet whose length is out of bounds; the real server just closes.
    case invalidStartupLength
    /// A typed message (`p` password, `Q` query, `X` terminate …) with its body.
    case typed(UInt8, [UInt8])
    /// A typed message claiming a length beyond the limit.
    case tooLarge
}

/// Frames frontend messages. It tracks the phase itself: untyped until a 3.0 StartupMessage, typed after.
struct PostgresFrontendDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = PostgresFrontendMessage

    /// PostgreSQL's own bound for startup packets.
    static let maximumStartupLength = 10_000
    /// Largest typed message accepted.
    static let maximumMessageLength = 1 << 20

    private var typed = false
    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        if self.typed {
            guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                let length = buffer.getInteger(at: buffer.readerIndex + 1, as: Int32.self)
            else { return .needMoreData }
            guard length >= 4, Int(length) <= Self.maximumMessageLength else {
                return self.fail(context, &buffer, .tooLarge)
            }
            guard buffer.readableBytes >= 1 + Int(length) else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 5)
            let body = buffer.readBytes(length: Int(length) - 4)!
            context.fireChannelRead(Self.wrapInboundOut(.typed(type, body)))
            return .continue
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard length >= 8, Int(length) <= Self.maximumStartupLength else {
            return self.fail(context, &buffer, .invalidStartupLength)
        }
        guard buffer.readableBytes >= Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let code = Int(UInt32(bitPattern: buffer.readInteger(as: Int32.self)!))
        let body = buffer.readBytes(length: Int(length) - 8)!
        let message: PostgresFrontendMessage
        switch code {
        case 80_877_103: message = .sslRequest
        case 80_877_104: message = .gssRequest
        case 80_877_102:
            message = .cancelRequest
            self.failed = true
        default:
            var parameters: [String: String] = [:]
            let parts = body.split(separator: 0, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            var index = 0
            while index + 1 < parts.count, !parts[index].isEmpty, parameters.count < 64 {
                parameters[parts[index]] = parts[index + 1]
                index += 2
            }
            message = .startup(major: code >> 16, minor: code & 0xFFFF, parameters: parameters)
            if code >> 16 == 3 { self.typed = true }
        }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    private mutating func fail(
        _ context: ChannelHandlerContext,
        _ buffer: inout ByteBuffer,
        _ message: PostgresFrontendMessage
    ) -> DecodingState {
        self.failed = true
        buffer.moveReaderIndex(to: buffer.writerIndex)
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }
}

/// Builds backend messages.
enum PostgresBackend {
    /// A typed message: type byte, Int32 length (including itself), body.
    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [type.asciiValue!]
        let length = UInt32(body.count + 4)
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        return bytes + body
    }

    static func int32(_ value: Int) -> [UInt8] {
        let value = UInt32(truncatingIfNeeded: value)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func int16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    static func cstring(_ text: String) -> [UInt8] { Array(text.utf8) + [0] }

    /// ErrorResponse with the fields in the server's order.
    static func error(_ fields: [(Character, String)]) -> [UInt8] {
        self.message("E", fields.flatMap { [$0.0.asciiValue!] + self.cstring($0.1) } + [0])
    }

    static func authentication(_ code: Int) -> [UInt8] { self.message("R", self.int32(code)) }

    static func parameterStatus(_ name: String, _ value: String) -> [UInt8] {
        self.message("S", self.cstring(name) + self.cstring(value))
    }

    static func readyForQuery() -> [UInt8] { self.message("Z", [UInt8(ascii: "I")]) }

    static func commandComplete(_ tag: String) -> [UInt8] { self.message("C", self.cstring(tag)) }

    /// RowDescription for text columns.
    static func rowDescription(_ names: [String]) -> [UInt8] {
        var body = self.int16(names.count)
        for name in names {
            body +=
                self.cstring(name) + self.int32(0) + self.int16(0) + self.int32(25) + self.int16(-1) + self.int32(-1)
                + self.int16(0)
        }
        return self.message("T", body)
    }

    static func dataRow(_ values: [String?]) -> [UInt8] {
        var body = self.int16(values.count)
        for value in values {
            if let value {
                body += self.int32(value.utf8.count) + Array(value.utf8)
            } else {
                body += self.int32(-1)
            }
        }
        return self.message("D", body)
    }
}
