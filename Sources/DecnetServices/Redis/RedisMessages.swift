import DecnetServiceKit
import NIOCore

/// What the decoder hands the connection: one command (its arguments as raw bytes), or a protocol error after
/// which the real server replies `-ERR Protocol error: …` and closes.
public enum RedisRequest: Equatable, Sendable {
    /// A command, from a RESP multibulk (`*2\r\n$4\r\nAUTH…`) or an inline line (`PING\r\n`).
    case command([[UInt8]])
    /// Broken framing; the text is the server's own error wording.
    case protocolError(String)
}

/// A reply, in RESP2 or (after `HELLO 3`) RESP3 shape.
indirect enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    /// RESP3 map; written as a flat array under RESP2.
    case map([(RESPValue, RESPValue)])

    static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simple(let a), .simple(let b)), (.error(let a), .error(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.bulk(let a), .bulk(let b)): a == b
        case (.null, .null): true
        case (.array(let a), .array(let b)): a == b
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    static func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }
}

/// Decodes client requests the way Redis 7's `processMultibulkBuffer`/`processInlineBuffer` do, with the
/// honeypot's own tighter limits. Never allocates what the client merely claims: a declared length is checked
/// before anything is read.
struct RedisRequestDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = RedisRequest

    /// Largest bulk argument accepted (Redis allows 512 MB; nobody needs that to talk to a decoy).
    static let maximumBulkLength = 1 << 20
    /// Most arguments in one command.
    static let maximumArguments = 1024
    /// Longest inline command line (Redis: 64 KiB).
    static let maximumInlineLength = 64 * 1024

    /// Set after a protocol error: everything after it is discarded.
    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !self.failed else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        let result = first == UInt8(ascii: "*") ? self.multibulk(&buffer) : self.inline(&buffer)
        switch result {
        case .none:
            return .needMoreData
        case .some(.protocolError(let message)):
            self.failed = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(Self.wrapInboundOut(.protocolError(message)))
            return .continue
        case .some(let request):
            context.fireChannelRead(Self.wrapInboundOut(request))
            return .continue
        }
    }

    /// One inline command line, split on blanks with Redis's quoting rules.
    private func inline(_ buffer: inout ByteBuffer) -> RedisRequest? {
        let view = buffer.readableBytesView
        // Redis finds the line's end with strchr, which stops at a NUL: a NUL before the newline makes it wait
        // for ever (every later byte lands behind it), until the buffer passes the inline limit. So a TLS hello
        // or binary garbage gets silence, as from Redis 7.0 (bench/differential).
        guard let stop = view.firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == 0 }), view[stop] != 0,
            case let newline = stop
        else {
            if view.count > Self.maximumInlineLength { return .protocolError("too big inline request") }
            return nil
        }
        let length = newline - view.startIndex
        if length > Self.maximumInlineLength { return .protocolError("too big inline request") }
        var line = Array(view[view.startIndex..<newline])
        buffer.moveReaderIndex(forwardBy: length + 1)
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard let arguments = RedisArgumentSplitter.split(line) else {
            return .protocolError("unbalanced quotes in request")
        }
        return .command(arguments)
    }

    /// A `*N\r\n` multibulk; nil until the whole command has arrived (nothing is consumed until then).
    private func multibulk(_ buffer: inout ByteBuffer) -> RedisRequest? {
        var cursor = buffer
        cursor.moveReaderIndex(forwardBy: 1)
        guard let countLine = Self.readLine(&cursor) else {
            return cursor.readableBytes > 64 ? .protocolError("too big mbulk count string") : nil
        }
        guard let count = Int(ascii: countLine), count <= Self.maximumArguments else {
            return .protocolError("invalid multibulk length")
        }
        if count <= 0 {
            buffer = cursor
            return .command([])
        }
        var arguments: [[UInt8]] = []
        arguments.reserveCapacity(count)
        for _ in 0..<count {
            guard let marker = cursor.readInteger(as: UInt8.self) else { return nil }
            guard marker == UInt8(ascii: "$") else {
                return .protocolError("expected '$', got '\(Character(Unicode.Scalar(marker)))'")
            }
            guard let lengthLine = Self.readLine(&cursor) else {
                return cursor.readableBytes > 64 ? .protocolError("too big bulk count string") : nil
            }
            guard let length = Int(ascii: lengthLine), length >= 0, length <= Self.maximumBulkLength else {
                return .protocolError("invalid bulk length")
            }
            guard cursor.readableBytes >= length + 2 else { return nil }
            let bytes = cursor.readBytes(length: length)!
            guard cursor.readInteger(as: UInt16.self) == 0x0D0A else {
                return .protocolError("invalid bulk terminator")
            }
            arguments.append(bytes)
        }
        buffer = cursor
        return .command(arguments)
    }

    /// Reads up to `\r\n`, or nil when it has not arrived.
    private static func readLine(_ buffer: inout ByteBuffer) -> [UInt8]? {
        let view = buffer.readableBytesView
        // strchr for the CR, as Redis reads count and length lines: a NUL before it, and Redis waits.
        guard let newline = view.firstIndex(where: { $0 == UInt8(ascii: "\n") || $0 == 0 }), view[newline] != 0,
            newline > view.startIndex, view[newline - 1] == UInt8(ascii: "\r")
        else { return nil }
        let line = Array(view[view.startIndex..<(newline - 1)])
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return line
    }
}

/// Splits an inline command like Redis's `sdssplitargs`: blanks separate, double quotes allow `\n`, `\xHH`
/// escapes, single quotes are literal; a closing quote must be followed by a blank.
enum RedisArgumentSplitter {
    static func split(_ line: [UInt8]) -> [[UInt8]]? {
        var arguments: [[UInt8]] = []
        var index = 0
        func isBlank(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
        }
        while true {
            while index < line.count && isBlank(line[index]) { index += 1 }
            guard index < line.count else { return arguments }
            var current: [UInt8] = []
            var inDouble = false
            var inSingle = false
            var done = false
            while !done {
                if inDouble {
                    guard index < line.count else { return nil }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 3 < line.count && line[index + 1] == UInt8(ascii: "x"),
                        let high = hexValue(line[index + 2]), let low = hexValue(line[index + 3])
                    {
                        current.append(high << 4 | low)
                        index += 3
                    } else if byte == UInt8(ascii: "\\") && index + 1 < line.count {
                        index += 1
                        switch line[index] {
                        case UInt8(ascii: "n"): current.append(0x0A)
                        case UInt8(ascii: "r"): current.append(0x0D)
                        case UInt8(ascii: "t"): current.append(0x09)
                        case UInt8(ascii: "b"): current.append(0x08)
                        case UInt8(ascii: "a"): current.append(0x07)
                        default: current.append(line[index])
                        }
                    } else if byte == UInt8(ascii: "\"") {
                        if index + 1 < line.count && !isBlank(line[index + 1]) { return nil }
                        done = true
                    } else {
                        current.append(byte)
                    }
                } else if inSingle {
                    guard index < line.count else { return nil }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 1 < line.count && line[index + 1] == UInt8(ascii: "'") {
                        index += 1
                        current.append(UInt8(ascii: "'"))
                    } else if byte == UInt8(ascii: "'") {
                        if index + 1 < line.count && !isBlank(line[index + 1]) { return nil }
                        done = true
                    } else {
                        current.append(byte)
                    }
                } else {
                    guard index < line.count else {
                        done = true
                        break
                    }
                    let byte = line[index]
                    if isBlank(byte) {
                        done = true
                    } else if byte == UInt8(ascii: "\"") {
                        inDouble = true
                    } else if byte == UInt8(ascii: "'") {
                        inSingle = true
                    } else {
                        current.append(byte)
                    }
                }
                if index < line.count { index += 1 }
            }
            arguments.append(current)
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Writes replies; `resp3` follows the connection's `HELLO` protocol version.
struct RESPEncoder {
    static func write(_ value: RESPValue, resp3: Bool, into buffer: inout ByteBuffer) {
        switch value {
        case .simple(let text):
            buffer.writeString("+\(text)\r\n")
        case .error(let text):
            buffer.writeString("-\(text)\r\n")
        case .integer(let number):
            buffer.writeString(":\(number)\r\n")
        case .bulk(let bytes):
            buffer.writeString("$\(bytes.count)\r\n")
            buffer.writeBytes(bytes)
            buffer.writeString("\r\n")
        case .null:
            buffer.writeString(resp3 ? "_\r\n" : "$-1\r\n")
        case .array(let items):
            buffer.writeString("*\(items.count)\r\n")
            for item in items { self.write(item, resp3: resp3, into: &buffer) }
        case .map(let pairs):
            buffer.writeString(resp3 ? "%\(pairs.count)\r\n" : "*\(pairs.count * 2)\r\n")
            for (key, item) in pairs {
                self.write(key, resp3: resp3, into: &buffer)
                self.write(item, resp3: resp3, into: &buffer)
            }
        }
    }
}

extension Int {
    /// Parses an optionally signed decimal from ASCII bytes, as Redis's `string2ll` (no spaces, no `+`).
    init?(ascii bytes: [UInt8]) {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var negative = false
        var digits = bytes[...]
        if digits.first == UInt8(ascii: "-") {
            negative = true
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        self = negative ? -value : value
    }
}
