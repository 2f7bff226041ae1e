import DecnetServiceKit
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// HTTP/1.1 as Go's net/http writes it, byte for byte: the status line, the handler's headers sorted by name,
/// then `Connection: close` when closing, `Transfer-Encoding`, `Date` and `Content-Length`; bodies over
/// 2048 bytes chunked (one chunk, as the API server's single encoder write gives); Go's own replies to requests
/// it cannot parse.
enum K8sGoHTTP {
    /// Go's `bufferBeforeChunkingSize`.
    static let chunkingThreshold = 2048

    static func reason(_ code: Int) -> String {
        switch code {
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Request Entity Too Large"
        case 422: "Unprocessable Entity"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "status code \(code)"
        }
    }

    /// How the body goes out.
    enum Framing {
        case length(Int)
        case chunked
        case none
    }

    /// The head of a response.
    static func head(
        status: Int,
        headers: [(String, String)],
        framing: Framing,
        http10: Bool,
        close: Bool,
        date: Date = Date()
    ) -> [UInt8] {
        var text = "HTTP/\(http10 ? "1.0" : "1.1") \(status) \(Self.reason(status))\r\n"
        for (name, value) in headers.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }) {
            text += "\(name): \(value)\r\n"
        }
        if close && !http10 { text += "Connection: close\r\n" }
        if case .chunked = framing { text += "Transfer-Encoding: chunked\r\n" }
        text += "Date: \(HTTPService.httpDate(date))\r\n"
        if case .length(let length) = framing { text += "Content-Length: \(length)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    /// A whole response with `body`, framed as Go frames a handler's single write.
    static func response(
        status: Int,
        headers: [(String, String)],
        body: [UInt8],
        head: Bool,
        http10: Bool,
        close: Bool
    ) -> [UInt8] {
        let chunked = !http10 && body.count > Self.chunkingThreshold && !head
        var out = Self.head(
            status: status,
            headers: headers,
            framing: chunked ? .chunked : .length(body.count),
            http10: http10,
            close: close
        )
        if head { return out }
        if chunked {
            out += Self.chunk(body) + Self.lastChunk
        } else {
            out += body
        }
        return out
    }

    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        return Array(String(bytes.count, radix: 16).utf8) + [0x0D, 0x0A] + bytes + [0x0D, 0x0A]
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// What net/http writes itself and then closes: `400 Bad Request` for a request it cannot parse, with a
    /// reason after the status when it has one (`missing required Host header`), `431` for oversized headers.
    static func error(_ code: Int, _ detail: String? = nil) -> [UInt8] {
        let status = detail.map { "\(code) \(Self.reason(code)): \($0)" } ?? "\(code) \(Self.reason(code))"
        return Array(
            "HTTP/1.1 \(status)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n\(status)".utf8
        )
    }

    /// What Go's TLS server answers to plain HTTP on its port.
    static let plaintextOnTLS = Array(
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n".utf8
    )
}

/// Answers requests the HTTP parser rejects as Go does (a 400, or 431 for an oversized header block) and
/// closes; remembers the error for `client.malformed`.
final class K8sGoErrorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let recorded = Mutex<String?>(nil)
    /// This connection came in on the legacy insecure port: no authentication, no authorization.
    let insecure: Bool

    init(insecure: Bool) {
        self.insecure = insecure
    }

    var error: String? { self.recorded.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let first = self.recorded.withLock { value -> Bool in
            defer { value = value ?? "\(error)" }
            return value == nil
        }
        if first {
            if error is ByteToMessageDecoderError.PayloadTooLargeError {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: K8sGoHTTP.error(431))), promise: nil)
            } else if error is HTTPParserError {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: K8sGoHTTP.error(400))), promise: nil)
            }
        }
        // The service's loop sees the error, records it and ends the connection.
        context.fireErrorCaught(error)
    }
}

/// Plain HTTP sent to the TLS port (the guard answered it).
struct K8sPlaintextHTTP: Error, CustomStringConvertible {
    let preview: [UInt8]
    var description: String { "plain HTTP on the TLS port" }
}

/// After an upgrade the connection carries raw bytes; they reach the service as body parts, so its one inbound
/// stream keeps working.
final class K8sRawBodyAdapter: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(self.wrapInboundOut(.body(self.unwrapInboundIn(data))))
    }
}

/// In front of TLS: plain HTTP on the TLS port gets Go's answer (its TLS server looks at the first five bytes)
/// and the connection ends; anything else passes on and this handler leaves.
final class K8sPlaintextGuard: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let buffered = Mutex<ByteBuffer?>(nil)
    private let answered = Mutex(false)

    static let httpPrefixes: [[UInt8]] = ["GET /", "HEAD ", "POST ", "PUT /", "OPTIO"].map { Array($0.utf8) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.answered.withLock({ $0 }) else { return }
        var incoming = self.unwrapInboundIn(data)
        let all = self.buffered.withLock { held -> ByteBuffer in
            if var previous = held {
                previous.writeBuffer(&incoming)
                held = nil
                return previous
            }
            return incoming
        }
        guard all.readableBytes >= 5 else {
            self.buffered.withLock { $0 = all }
            return
        }
        let first = Array(all.readableBytesView.prefix(5))
        if Self.httpPrefixes.contains(first) {
            self.answered.withLock { $0 = true }
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: K8sGoHTTP.plaintextOnTLS)), promise: nil)
            context.fireErrorCaught(K8sPlaintextHTTP(preview: Array(all.readableBytesView.prefix(200))))
            return
        }
        context.fireChannelRead(self.wrapInboundOut(all))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
