import DecnetCore
import DecnetServiceKit
import NIOCore

/// One Modbus/TCP ADU (Modbus Messaging on TCP/IP Implementation Guide v1.0b §3.1.3): the MBAP header's
/// transaction and protocol identifiers, the unit identifier and the PDU.
public struct ModbusFrame: Equatable, Sendable {
    var transaction: UInt16
    var protocolID: UInt16
    var unit: UInt8
    var pdu: [UInt8]
}

/// One request to the CPU's web server.
public struct PLCWebRequest: Equatable, Sendable {
    var method: String
    var uri: String
    var version: String
    var headers: [String: String]
    var body: [UInt8]

    /// A header by its lower-case name.
    func header(_ name: String) -> String? { self.headers[name.lowercased()] }
}

/// What the conpot decoder frames: a Modbus ADU (502), a TPKT packet's payload, the COTP TPDU (102, RFC 1006),
/// or an HTTP request (80).
public enum ConpotInbound: Equatable, Sendable, FramingFailure {
    case modbus(ModbusFrame)
    case tpkt([UInt8])
    case http(PLCWebRequest)
    /// An HTTP request the web server cannot read (answered 400); the connection's last message.
    case badHTTP(String, [UInt8])
    /// Framing no client sends (a length out of range, a TPKT that is not version 3, an unreadable request);
    /// the connection's last message.
    case invalid(String, [UInt8])
}

/// Frames the protocol of one port, trusting no length beyond the protocol's own bounds.
struct ConpotFrameDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = ConpotInbound

    enum Mode: Equatable {
        case modbus, s7, http
        /// A port of no known protocol: the first bytes decide (TPKT, an HTTP method, else Modbus).
        case sniff
    }

    /// Largest TPKT accepted: far above the 1024-byte TPDUs a CPU negotiates.
    static let maximumTPKT = 8_192
    static let maximumHeader = 8_192
    static let maximumBody = 16_384
    /// What the channel may buffer before the decoder has framed anything.
    static let bufferLimit = maximumHeader + maximumBody + 64

    var mode: Mode
    private var failed = false

    init(mode: Mode) { self.mode = mode }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        if self.mode == .sniff {
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
            self.mode = first == 0x03 ? .s7 : (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) ? .http : .modbus
        }
        switch self.mode {
        case .modbus: return self.modbus(context, &buffer)
        case .s7: return self.tpkt(context, &buffer)
        case .http, .sniff: return self.http(context, &buffer)
        }
    }

    private mutating func modbus(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) -> DecodingState {
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 7) else { return .needMoreData }
        let length = Int(header[4]) << 8 | Int(header[5])
        // The length counts the unit id and the PDU: a function code at least, 253 PDU bytes at most.
        guard (2...254).contains(length) else {
            return self.failFraming(context, &buffer, "MBAP length \(length)", failed: &self.failed)
        }
        guard buffer.readableBytes >= 6 + length else { return .needMoreData }
        let bytes = buffer.readBytes(length: 6 + length)!
        let frame = ModbusFrame(
            transaction: UInt16(bytes[0]) << 8 | UInt16(bytes[1]),
            protocolID: UInt16(bytes[2]) << 8 | UInt16(bytes[3]),
            unit: bytes[6],
            pdu: Array(bytes[7...])
        )
        context.fireChannelRead(Self.wrapInboundOut(.modbus(frame)))
        return .continue
    }

    private mutating func tpkt(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) -> DecodingState {
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 4) else { return .needMoreData }
        guard header[0] == 0x03 else {
            return self.failFraming(context, &buffer, "TPKT version \(header[0])", failed: &self.failed)
        }
        let length = Int(header[2]) << 8 | Int(header[3])
        guard (7...Self.maximumTPKT).contains(length) else {
            return self.failFraming(context, &buffer, "TPKT length \(length)", failed: &self.failed)
        }
        guard buffer.readableBytes >= length else { return .needMoreData }
        let bytes = buffer.readBytes(length: length)!
        context.fireChannelRead(Self.wrapInboundOut(.tpkt(Array(bytes[4...]))))
        return .continue
    }

    private mutating func http(_ context: ChannelHandlerContext, _ buffer: inout ByteBuffer) -> DecodingState {
        let view = buffer.readableBytesView
        guard let end = Self.headerEnd(view) else {
            if view.count > Self.maximumHeader {
                return self.failHTTP(context, &buffer, "HTTP header over 8 KiB")
            }
            return .needMoreData
        }
        guard end.headerLength <= Self.maximumHeader else {
            return self.failHTTP(context, &buffer, "HTTP header over 8 KiB")
        }
        let head = String(decoding: view.prefix(end.headerLength), as: UTF8.self)
        var lines = head.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" }.map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        guard !lines.isEmpty else {
            return self.failHTTP(context, &buffer, "empty HTTP request")
        }
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/"),
            requestLine[0].allSatisfy({ $0.isASCII && $0.isUppercase })
        else { return self.failHTTP(context, &buffer, "HTTP request line that does not parse") }
        var headers: [String: String] = [:]
        for line in lines.prefix(100) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            if headers[name] == nil { headers[name] = line[line.index(after: colon)...].trimmingWhitespace() }
        }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        guard length >= 0, length <= Self.maximumBody, headers["transfer-encoding"] == nil else {
            return self.failHTTP(context, &buffer, "HTTP body of \(length) bytes")
        }
        guard view.count >= end.total + length else { return .needMoreData }
        let request = PLCWebRequest(
            method: String(requestLine[0]),
            uri: String(requestLine[1]),
            version: String(requestLine[2]),
            headers: headers,
            body: Array(view.dropFirst(end.total).prefix(length))
        )
        buffer.moveReaderIndex(forwardBy: end.total + length)
        context.fireChannelRead(Self.wrapInboundOut(.http(request)))
        return .continue
    }

    /// Gives up on an HTTP stream: one `.badHTTP`, everything after it dropped.
    private mutating func failHTTP(
        _ context: ChannelHandlerContext,
        _ buffer: inout ByteBuffer,
        _ problem: String
    )
        -> DecodingState
    {
        self.failed = true
        let preview = buffer.discardReadable()
        context.fireChannelRead(Self.wrapInboundOut(.badHTTP(problem, preview)))
        return .needMoreData
    }

    /// Where the header block ends (`\r\n\r\n` or `\n\n`): its length without, and with, the blank line.
    static func headerEnd(_ bytes: ByteBufferView) -> (headerLength: Int, total: Int)? {
        var index = bytes.startIndex
        let limit = min(bytes.endIndex, bytes.startIndex + maximumHeader + 4)
        while index < limit {
            if bytes[index] == 0x0A {
                let next = bytes.index(after: index)
                if next < bytes.endIndex, bytes[next] == 0x0A {
                    return (index - bytes.startIndex, next + 1 - bytes.startIndex)
                }
                if next + 1 < bytes.endIndex, bytes[next] == 0x0D, bytes[next + 1] == 0x0A {
                    return (index - bytes.startIndex, next + 2 - bytes.startIndex)
                }
            }
            index += 1
        }
        return nil
    }
}
