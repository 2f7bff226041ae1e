import Foundation
import NIOCore
import NIOHTTP1

/// A request the persona's server refuses while reading it, before any handler sees it: the status it answers
/// with (400, 414, 501, 505), the Host the client named (Apache writes it into the error page), and the method.
struct HTTPRejection: Error, Equatable, CustomStringConvertible {
    var status: Int
    var host: String? = nil
    var method: String? = nil
    var reason: String

    var description: String { "HTTP \(self.status): \(self.reason)" }
}

/// Reads HTTP/1.x requests the way the persona's server does, which llhttp (NIO's decoder) cannot imitate: nginx
/// refuses a request line at its first impossible byte (a binary probe gets its 400 at once, `HTTP/2.0` a 505,
/// a line over 8 KiB a 414), Apache reads a whole line first (a probe without a newline gets silence), takes any
/// method token (FOO is answered 501 later) and treats `HTTP/2.0` as 1.1. Both refuse a 1.1 request without
/// Host, a path that climbs above the root, folded or nameless header lines and a bad Content-Length with 400,
/// an unknown Transfer-Encoding with 501. Measured against Debian 12's nginx 1.22 and Apache 2.4 in
/// bench/differential.
///
/// It produces NIO's request parts, so the rest of the pipeline is NIO's. A refusal is answered here, with the
/// bytes `reject` makes (the persona's error page), then the connection is closed and the refusal fired as an
/// error (recorded as `client.malformed`); it must sit before `HTTPResponseEncoder` so those bytes reach the wire
/// as they are.
struct HTTPPersonaRequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPServerRequestPart

    /// nginx's `large_client_header_buffers` (8 KiB) and Apache's `LimitRequestLine` (8190).
    /// Go's net/http has none of its own: the request line counts against its header limit.
    static func lineLimit(_ family: HTTPPages.Family) -> Int {
        family == .apache ? 8190 : family == .go ? Self.goHeaderLimit : 8192
    }
    /// The whole header block.
    static let headerLimit = 64 * 1024
    /// Go's `DefaultMaxHeaderBytes` (1 MiB) and the 4 KiB it allows past it; beyond, 431.
    static let goHeaderLimit = (1 << 20) + 4096

    /// The reasons Go's server writes after its status (`statusError`); its other refusals say only the status.
    static let goStatedReasons: Set<String> = [
        "missing required Host header", "too many Host headers", "malformed Host header",
        "unsupported protocol version",
    ]

    private enum State {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed
    }

    let family: HTTPPages.Family
    let reject: @Sendable (HTTPRejection) -> ByteBuffer
    private var state = State.head

    init(family: HTTPPages.Family, reject: @escaping @Sendable (HTTPRejection) -> ByteBuffer) {
        self.family = family
        self.reject = reject
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        do {
            return try self.step(context: context, buffer: &buffer)
        } catch let rejection as HTTPRejection {
            self.state = .failed
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.writeAndFlush(NIOAny(self.reject(rejection)), promise: nil)
            context.fireErrorCaught(rejection)
            context.close(promise: nil)
            return .needMoreData
        }
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // What is left when the client goes is an unfinished request: nobody is there to answer it.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    private mutating func step(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch self.state {
        case .failed:
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        case .head:
            guard let (head, length, body) = try self.head(buffer.readableBytesView) else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: length)
            context.fireChannelRead(self.wrapInboundOut(.head(head)))
            switch body {
            case .none:
                context.fireChannelRead(self.wrapInboundOut(.end(nil)))
            case .length(let count):
                self.state = .body(remaining: count)
            case .chunked:
                self.state = .chunkSize
            }
            return .continue
        case .body(let remaining):
            guard buffer.readableBytes > 0 else { return .needMoreData }
            let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            context.fireChannelRead(self.wrapInboundOut(.body(slice)))
            if remaining - slice.readableBytes == 0 {
                self.state = .head
                context.fireChannelRead(self.wrapInboundOut(.end(nil)))
            } else {
                self.state = .body(remaining: remaining - slice.readableBytes)
            }
            return .continue
        case .chunkSize:
            guard let line = try self.line(&buffer, limit: 1024) else { return .needMoreData }
            let digits = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") }
            // Hex digits only: Int(_:radix:) also takes a sign, and a size of -2 would be read as a length.
            guard !digits.isEmpty, digits.count <= 8, digits.allSatisfy({ Self.isHexDigit($0) }),
                let size = Int(String(decoding: digits, as: UTF8.self), radix: 16)
            else { throw HTTPRejection(status: 400, reason: "bad chunk size") }
            self.state = size == 0 ? .trailers : .chunkData(remaining: size)
            return .continue
        case .chunkData(let remaining):
            guard buffer.readableBytes > 0 else { return .needMoreData }
            let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            context.fireChannelRead(self.wrapInboundOut(.body(slice)))
            let left = remaining - slice.readableBytes
            self.state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
            return .continue
        case .chunkDataEnd:
            guard let line = try self.line(&buffer, limit: 2) else { return .needMoreData }
            guard line.isEmpty else { throw HTTPRejection(status: 400, reason: "chunk without its CRLF") }
            self.state = .chunkSize
            return .continue
        case .trailers:
            guard let line = try self.line(&buffer, limit: 8192) else { return .needMoreData }
            if line.isEmpty {
                self.state = .head
                context.fireChannelRead(self.wrapInboundOut(.end(nil)))
            }
            return .continue
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// One line ending in LF (its CR dropped), or nil while it is incomplete.
    private func line(_ buffer: inout ByteBuffer, limit: Int) throws -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count > limit { throw HTTPRejection(status: 400, reason: "line too long") }
            return nil
        }
        var line = Array(view[view.startIndex..<newline])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return line
    }

    enum Body: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// The request head at the start of `bytes`: the head, how many bytes it took and what body follows; nil
    /// while more is needed; a rejection as soon as the server would refuse what it has read.
    func head(_ bytes: ByteBufferView) throws -> (HTTPRequestHead, Int, Body)? {
        var start = bytes.startIndex
        // nginx and Apache skip empty lines before a request line (RFC 9112 §2.2); Go takes one as the request
        // line and refuses it.
        while self.family != .go, start < bytes.endIndex,
            bytes[start] == UInt8(ascii: "\r") || bytes[start] == UInt8(ascii: "\n")
        {
            start += 1
        }
        let rest = bytes[start...]
        let limit = Self.lineLimit(self.family)
        let nginxLike = self.family != .apache && self.family != .go
        let tooLong =
            self.family == .go
            ? HTTPRejection(status: 431, reason: "request header fields too large")
            : HTTPRejection(status: 414, reason: "request line too long")
        guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")) else {
            if nginxLike { try Self.checkNginxPrefix(Array(rest)) }
            if rest.count > limit { throw tooLong }
            return nil
        }
        var requestLine = Array(rest[rest.startIndex..<newline])
        if requestLine.last == UInt8(ascii: "\r") { requestLine.removeLast() }
        if requestLine.count > limit { throw tooLong }
        if nginxLike { try Self.checkNginxPrefix(requestLine + [UInt8(ascii: "\n")]) }
        let (method, uri, version) =
            self.family == .go ? try Self.parseGoRequestLine(requestLine) : try self.parseRequestLine(requestLine)
        let blockLimit = self.family == .go ? Self.goHeaderLimit : Self.headerLimit

        // The header block, up to its empty line.
        var index = newline + 1
        var headers = HTTPHeaders()
        while true {
            guard let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                if bytes.endIndex - bytes.startIndex > blockLimit {
                    throw self.family == .go
                        ? tooLong : HTTPRejection(status: 400, method: method, reason: "header block too large")
                }
                return nil
            }
            var line = Array(bytes[index..<end])
            index = end + 1
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.isEmpty { break }
            if index - bytes.startIndex > blockLimit {
                throw self.family == .go
                    ? tooLong : HTTPRejection(status: 400, method: method, reason: "header block too large")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
                line[..<colon].allSatisfy(Self.isTokenByte)
            else { throw HTTPRejection(status: 400, method: method, reason: "malformed header line") }
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            headers.add(name: name, value: value)
        }
        let host = headers.first(name: "host").map { String($0.prefix { $0 != ":" }) }
        func refuse(_ status: Int, _ reason: String) -> HTTPRejection {
            HTTPRejection(status: status, host: host, method: method, reason: reason)
        }
        if version == .http1_1 && headers["host"].isEmpty {
            throw HTTPRejection(
                status: 400,
                method: method,
                reason: self.family == .go ? "missing required Host header" : "HTTP/1.1 request without Host"
            )
        }
        if headers["host"].count > 1 {
            throw refuse(400, self.family == .go ? "too many Host headers" : "more than one Host")
        }
        // Go serves any path to its router (which has its own answer for one that climbs).
        if self.family != .go, Self.climbsAboveRoot(uri) { throw refuse(400, "path above the root") }

        var body = Body.none
        let encodings = headers["transfer-encoding"].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if !encodings.isEmpty {
            guard encodings.last == "chunked", encodings.allSatisfy({ $0 == "chunked" }) else {
                throw refuse(501, "transfer coding not implemented")
            }
            body = .chunked
        } else if let lengths = Optional(headers["content-length"]), !lengths.isEmpty {
            let values = Set(
                lengths.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            )
            guard values.count == 1, let text = values.first, !text.isEmpty, text.count <= 18,
                text.allSatisfy(\.isASCIIDigit), let count = Int(text)
            else { throw refuse(400, "bad Content-Length") }
            body = count > 0 ? .length(count) : .none
        }
        let head = HTTPRequestHead(version: version, method: HTTPMethod(rawValue: method), uri: uri, headers: headers)
        return (head, index - bytes.startIndex, body)
    }

    /// The request line as Go's net/http reads it: cut at the first space and at the next; a method of token
    /// bytes; a target that is a path, `*` or an absolute URL; `HTTP/x.y` with one digit each, where anything
    /// but 1.x is refused 505 ("unsupported protocol version"; HTTP/2.0 too, without h2c).
    static func parseGoRequestLine(_ line: [UInt8]) throws -> (String, String, HTTPVersion) {
        let malformed = HTTPRejection(status: 400, reason: "malformed HTTP request")
        guard let first = line.firstIndex(of: UInt8(ascii: " ")) else { throw malformed }
        let rest = line[(first + 1)...]
        guard let second = rest.firstIndex(of: UInt8(ascii: " ")) else { throw malformed }
        let methodBytes = line[..<first]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(Self.isTokenByte) else {
            throw HTTPRejection(status: 400, reason: "invalid method")
        }
        let method = String(decoding: methodBytes, as: UTF8.self)
        let uri = String(decoding: rest[..<second], as: UTF8.self)
        let proto = Array(line[(second + 1)...])
        let major: Int
        let minor: Int
        if proto == Array("HTTP/1.1".utf8) {
            (major, minor) = (1, 1)
        } else if proto == Array("HTTP/1.0".utf8) {
            (major, minor) = (1, 0)
        } else {
            guard proto.count == 8, proto.starts(with: Array("HTTP/".utf8)), proto[6] == UInt8(ascii: "."),
                proto[5].isASCIIDigit, proto[7].isASCIIDigit
            else { throw HTTPRejection(status: 400, method: method, reason: "malformed HTTP version") }
            (major, minor) = (Int(proto[5] - UInt8(ascii: "0")), Int(proto[7] - UInt8(ascii: "0")))
        }
        guard major == 1 else {
            throw HTTPRejection(status: 505, method: method, reason: "unsupported protocol version")
        }
        let target = uri.utf8
        let absolute = uri.firstRange(of: "://").map { range in
            let scheme = uri[..<range.lowerBound]
            return !scheme.isEmpty && scheme.allSatisfy { $0.isLetter || $0.isNumber || "+-.".contains($0) }
        }
        guard uri == "*" || target.first == UInt8(ascii: "/") || absolute == true,
            !target.contains(where: { $0 < 0x21 || $0 == 0x7F })
        else { throw HTTPRejection(status: 400, method: method, reason: "invalid URI for request") }
        return (method, uri, HTTPVersion(major: 1, minor: minor == 0 ? 0 : 1))
    }

    /// `METHOD SP request-target SP HTTP/x.y`, as the family reads it.
    private func parseRequestLine(_ line: [UInt8]) throws -> (String, String, HTTPVersion) {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: self.family != .apache)
        guard parts.count == 3, parts[0].allSatisfy(Self.isTokenByte), !parts[1].isEmpty,
            !parts[1].contains(where: { $0 < 0x21 || $0 == 0x7F })
        else { throw HTTPRejection(status: 400, reason: "malformed request line") }
        let method = String(decoding: parts[0], as: UTF8.self)
        let uri = String(decoding: parts[1], as: UTF8.self)
        let protocolName = Array(parts[2])
        guard protocolName.count == 8, protocolName.starts(with: Array("HTTP/".utf8)),
            protocolName[6] == UInt8(ascii: "."), protocolName[5].isASCIIDigit, protocolName[7].isASCIIDigit
        else { throw HTTPRejection(status: 400, method: method, reason: "not an HTTP/x.y request") }
        let major = Int(protocolName[5] - UInt8(ascii: "0"))
        let minor = Int(protocolName[7] - UInt8(ascii: "0"))
        guard major >= 1 else { throw HTTPRejection(status: 400, method: method, reason: "HTTP/0.x") }
        if major > 1 {
            // nginx answers 505; Apache serves HTTP/2.0 on an HTTP/1.1 connection as 1.1.
            if self.family != .apache {
                throw HTTPRejection(status: 505, method: method, reason: "HTTP version not supported")
            }
            return (method, uri, .http1_1)
        }
        return (method, uri, HTTPVersion(major: 1, minor: minor == 0 ? 0 : 1))
    }

    /// nginx's request-line parser refuses at the first byte that cannot continue a request line: a method of
    /// capitals, `_` and `-`; spaces; a target starting with `/` or a scheme letter; then, after a space,
    /// `HTTP/` and digits, where a major version above 1 is a 505. `bytes` may stop anywhere.
    static func checkNginxPrefix(_ bytes: [UInt8]) throws {
        enum Phase { case method, spaces, target, afterTarget, protocolName(Int), major, minor, end }
        let name = Array("HTTP/".utf8)
        var phase = Phase.method
        var methodLength = 0
        for byte in bytes {
            if byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") {
                switch phase {
                case .minor, .end, .target, .afterTarget: return
                default: throw HTTPRejection(status: 400, reason: "request line ends early")
                }
            }
            switch phase {
            case .method:
                if byte == UInt8(ascii: " ") && methodLength > 0 {
                    phase = .spaces
                } else if (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: "-")
                {
                    methodLength += 1
                } else {
                    throw HTTPRejection(status: 400, reason: "invalid method byte")
                }
            case .spaces:
                if byte == UInt8(ascii: " ") { continue }
                guard byte == UInt8(ascii: "/") || byte.isASCIILetter else {
                    throw HTTPRejection(status: 400, reason: "invalid request target")
                }
                phase = .target
            case .target:
                if byte == 0 { throw HTTPRejection(status: 400, reason: "NUL in request target") }
                if byte == UInt8(ascii: " ") { phase = .afterTarget }
            case .afterTarget:
                // A byte other than H makes the space part of the target again (nginx 1.22's sw_http_09).
                phase = byte == name[0] ? .protocolName(1) : (byte == UInt8(ascii: " ") ? .afterTarget : .target)
            case .protocolName(let matched):
                if matched < name.count {
                    guard byte == name[matched] else { throw HTTPRejection(status: 400, reason: "invalid protocol") }
                    phase = .protocolName(matched + 1)
                } else {
                    guard byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "9") else {
                        throw HTTPRejection(status: 400, reason: "invalid major version")
                    }
                    if byte > UInt8(ascii: "1") {
                        throw HTTPRejection(status: 505, reason: "HTTP version not supported")
                    }
                    phase = .major
                }
            case .major:
                if byte.isASCIIDigit { throw HTTPRejection(status: 505, reason: "HTTP version not supported") }
                guard byte == UInt8(ascii: ".") else { throw HTTPRejection(status: 400, reason: "invalid version") }
                phase = .minor
            case .minor:
                if byte == UInt8(ascii: " ") {
                    phase = .end
                } else if !byte.isASCIIDigit {
                    throw HTTPRejection(status: 400, reason: "invalid minor version")
                }
            case .end:
                if byte != UInt8(ascii: " ") { throw HTTPRejection(status: 400, reason: "bytes after the version") }
            }
        }
    }

    /// Whether the path, with `%2e` decoded as servers decode it, climbs above `/` (`/../etc/passwd`).
    static func climbsAboveRoot(_ uri: String) -> Bool {
        let path = uri.prefix { $0 != "?" && $0 != "#" }
        guard path.hasPrefix("/") else { return false }
        let decoded = path.replacingOccurrences(of: "%2e", with: ".", options: .caseInsensitive)
        var depth = 0
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == ".." {
                depth -= 1
                if depth < 0 { return true }
            } else if segment != "." {
                depth += 1
            }
        }
        return false
    }

    /// RFC 9110's tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte.isASCIILetter || byte.isASCIIDigit || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}

extension UInt8 {
    fileprivate var isASCIIDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isASCIILetter: Bool {
        (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z"))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self.isASCII && self.isNumber }
}
