import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The `http` honeypot (80; 443 arrives with TLS): nginx, Apache or IIS by its Server header, optionally
/// running a fake WordPress or admin panel whose logins are captured.
///
/// Persona keys: `server_header` (default per distro, e.g. `nginx/1.22.1`), `response_code` (status of the
/// default page), `fake_app` (`wordpress`, `admin`; unset: the server's default page), and DECNET-Swift's `users`
/// (logins the fake app accepts; none by default).
public struct HTTPService: HoneypotService {
    public static let kind: ServiceKind = "http"
    /// Largest request body kept; larger ones get 413.
    static let maximumBody = 1 << 20
    /// Largest header block.
    static let maximumHeaderBytes = 64 * 1024

    /// A fake application the site pretends to run.
    enum FakeApp: String, Sendable {
        case wordpress
        case admin
        case none
    }

    struct Configuration: Sendable, Equatable {
        var server: String
        var responseCode: Int
        var fakeApp: FakeApp
        var users: AcceptedCredentials
        var hostname: String
        var siteName: String
        /// When the server's default page was installed (its Last-Modified and entity tag): a time in 2024 fixed by
        /// the host name, so it stays across restarts and differs between deckies.
        var installed: Date

        var family: HTTPPages.Family { HTTPPages.family(self.server) }

        static func installed(hostname: String) -> Date {
            // FNV-1a, stable across runs (Swift's Hasher is seeded per process).
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in hostname.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return Date(timeIntervalSince1970: 1_704_067_200 + Double(hash % 31_536_000))
        }
    }

    let configuration: Configuration
    /// TLS on the context's `tlsPorts` (443), with the decky's own certificate.
    let tls: ImplicitTLS
    /// What the web root holds beyond the persona's pages: the files planted under `/var/www/html/`.
    let planted: PlantedFiles
    /// The canary tokens answered at `/c/<id>` (the `canary` service's web server); nil for a plain one.
    let canary: CanaryTokenLookup?

    public init(context: ServiceContext) throws {
        self.tls = try ImplicitTLS(context: context, applicationProtocols: ["http/1.1"])
        self.planted = context.planted
        self.canary = context.service == CanaryService.kind ? context.canaryTokens : nil
        let app = (context.persona["fake_app"] ?? "").lowercased()
        self.configuration = Configuration(
            server: context.persona["server_header"] ?? "nginx/1.22.1",
            responseCode: Int(context.persona["response_code"] ?? "200") ?? 200,
            fakeApp: FakeApp(rawValue: app) ?? (app.contains("wordpress") ? .wordpress : app.isEmpty ? .none : .admin),
            users: AcceptedCredentials(context.persona["users"]),
            hostname: context.hostname,
            siteName: context.hostname.split(separator: ".").first.map { $0.prefix(1).uppercased() + $0.dropFirst() }
                ?? "Intranet",
            installed: Configuration.installed(hostname: context.hostname)
        )
    }

    /// The client speaks first: a connection's task starts with its first request (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func configure(_ channel: any Channel, port: Int) throws {
        let configuration = self.configuration
        let address = channel.localAddress?.ipAddress ?? "127.0.0.1"
        try Self.configureHTTP(channel, port: port, tls: self.tls, family: configuration.family) {
            // A request the server refuses while reading it: its error page, and the connection closes.
            var responder = HTTPResponder(configuration: configuration, port: port)
            responder.serverAddress = address
            let response = responder.error($0.status, host: $0.host, method: $0.method ?? "GET")
            return Self.serialise(response, configuration: configuration, date: Date())
        }
    }

    /// The HTTP/1.1 server pipeline every HTTP-speaking honeypot uses: TLS on its TLS ports, the codec with a
    /// bounded header block, pipelining, and an answer and a close for requests that do not parse (as a real
    /// server answers them), remembered by a ParserErrorObserver. With a `family` (the web server honeypot), the
    /// request parser is that server's (HTTPPersonaRequestDecoder) and refusals get the bytes `reject` makes;
    /// without, NIO's parser and a bare 400 (the API honeypots). `framesItself`: the service sets the framing
    /// headers (Go's servers write them in their own order).
    static func configureHTTP(
        _ channel: any Channel,
        port: Int,
        tls: ImplicitTLS,
        family: HTTPPages.Family? = nil,
        framesItself: Bool = false,
        reject: @escaping @Sendable (HTTPRejection) -> ByteBuffer = { _ in ByteBuffer() }
    ) throws {
        try tls.configure(channel, port: port)
        let sync = channel.pipeline.syncOperations
        // A service that writes Content-Length and Transfer-Encoding itself keeps them where its server puts them
        // (NIO's encoder would move them to the end, in lower case).
        var encoder = HTTPResponseEncoder.Configuration()
        encoder.automaticallySetFramingHeaders = !framesItself
        if let family {
            try sync.addHandler(
                ByteToMessageHandler(
                    HTTPPersonaRequestDecoder(family: family, reject: reject),
                    maximumBufferSize: max(Self.maximumHeaderBytes, HTTPPersonaRequestDecoder.lineLimit(family)) + 1024
                )
            )
            try sync.addHandler(HTTPResponseEncoder(configuration: encoder))
            try sync.addHandler(HTTPServerPipelineHandler())
            try sync.addHandler(ParserErrorObserver())
            return
        }
        try sync.addHandler(HTTPResponseEncoder(configuration: encoder))
        try sync.addHandler(
            ByteToMessageHandler(
                HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes),
                maximumBufferSize: Self.maximumHeaderBytes
            )
        )
        try sync.addHandler(HTTPServerPipelineHandler())
        try sync.addHandler(ParserErrorObserver())
        try sync.addHandler(HTTPServerProtocolErrorHandler())
    }

    public func handle(
        _ connection: Connection<HTTPServerRequestPart, HTTPServerResponsePart>,
        session: SessionEvents
    ) async throws {
        var responder = HTTPResponder(configuration: self.configuration, port: session.destination.port)
        responder.serverAddress = session.destination.ip
        responder.planted = self.planted
        responder.canary = self.canary
        let observer = try? await connection.channel.pipeline.handler(type: ParserErrorObserver.self).get()
        let sniffer = await ImplicitTLS.sniffer(connection.channel)
        var fingerprinted = false
        func fingerprint() {
            if !fingerprinted { fingerprinted = ImplicitTLS.reportFingerprint(sniffer, session: session) }
        }
        defer {
            fingerprint()
            if let error = observer?.error {
                var fields = EventFields()
                fields.add("error", error)
                session.emit(.clientMalformed, fields)
            }
        }
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        var tooLarge = false
        var announcedClient = false
        for try await part in connection.inbound {
            fingerprint()
            switch part {
            case .head(let requestHead):
                head = requestHead
                body = []
                tooLarge = false
            case .body(let chunk):
                if body.count + chunk.readableBytes > Self.maximumBody {
                    tooLarge = true
                    body = []
                } else if !tooLarge {
                    body.append(contentsOf: chunk.readableBytesView)
                }
            case .end:
                guard let requestHead = head else { continue }
                head = nil
                let request = HTTPResponder.Request(
                    method: requestHead.method.rawValue,
                    uri: requestHead.uri,
                    headers: requestHead.headers.map { ($0.name, $0.value) },
                    body: body,
                    bodyTooLarge: tooLarge
                )
                if !announcedClient, let agent = request.header("User-Agent") {
                    announcedClient = true
                    var fields = EventFields()
                    fields.add("user_agent", attackerText: agent)
                    session.emit(.clientFingerprint, fields)
                }
                let (response, events) = responder.respond(to: request)
                for (id, fields) in events { session.emit(id, fields) }
                let keepAlive = requestHead.isKeepAlive && response.status != 413 && !response.close
                try await self.write(response, for: requestHead, keepAlive: keepAlive, to: connection.outbound)
                if !keepAlive { return }
            }
        }
    }

    private func write(
        _ response: HTTPResponder.Response,
        for request: HTTPRequestHead,
        keepAlive: Bool,
        to outbound: ConnectionOutbound<HTTPServerResponsePart>
    ) async throws {
        let lines = Self.headerLines(
            response,
            configuration: self.configuration,
            date: Date(),
            keepAlive: keepAlive,
            http10: request.version == .http1_0
        )
        let head = HTTPResponseHead(
            // nginx, Apache and IIS answer an HTTP/1.0 request with an HTTP/1.1 status line (RFC 9110 §6.2; nginx
            // 1.22 and Apache 2.4 measured in bench/differential).
            version: .http1_1,
            // .custom keeps the family's phrase (nginx's "405 Not Allowed"); NIO's init maps known codes to its own.
            status: .custom(
                code: UInt(response.status),
                reasonPhrase: HTTPPages.reason(response.status, family: self.configuration.family)
            ),
            headers: HTTPHeaders(lines)
        )
        try await outbound.write(.head(head))
        let payload = response.payload
        if request.method != .HEAD && !payload.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: payload))))
        }
        try await outbound.write(.end(nil))
    }

    /// The response's header lines as the family's server orders them. nginx: Server, Date, Content-Type,
    /// Content-Length, Last-Modified, Location, Connection, then the rest (ETag, Accept-Ranges); Apache: Date,
    /// Server, the rest (Last-Modified, ETag, Accept-Ranges, Allow, Location), Content-Length, Vary, Keep-Alive,
    /// Connection (none for a kept HTTP/1.1 connection), Content-Type last. Measured against Debian 12's.
    static func headerLines(
        _ response: HTTPResponder.Response,
        configuration: Configuration,
        date: Date,
        keepAlive: Bool,
        http10: Bool
    ) -> [(String, String)] {
        var lines = [("Server", configuration.server), ("Date", Self.httpDate(date))] + response.headers
        lines.append(("Content-Length", String(response.payload.count)))
        let ranks: [String: Int]
        switch configuration.family {
        case .apache:
            if !keepAlive {
                lines.append(("Connection", "close"))
            } else if http10 {
                lines.append(("Keep-Alive", "timeout=5, max=100"))
                lines.append(("Connection", "Keep-Alive"))
            }
            ranks = [
                "Date": 0, "Server": 1, "Content-Length": 3, "Vary": 4, "Keep-Alive": 5, "Connection": 6,
                "Content-Type": 7,
            ]
        case .nginx, .go, .other:
            lines.append(("Connection", keepAlive ? "keep-alive" : "close"))
            ranks = [
                "Server": 0, "Date": 1, "Content-Type": 2, "Content-Length": 3, "Last-Modified": 4, "Location": 5,
                "Connection": 6,
            ]
        case .iis:
            lines.append(("Connection", keepAlive ? "keep-alive" : "close"))
            ranks = [:]
        }
        let middle = configuration.family == .apache ? 2 : 7
        return lines.enumerated().sorted {
            let left = ranks[$0.element.0] ?? middle
            let right = ranks[$1.element.0] ?? middle
            return left != right ? left < right : $0.offset < $1.offset
        }.map(\.element)
    }

    /// A whole response as bytes, for refusals answered before the HTTP pipeline (always closing).
    static func serialise(_ response: HTTPResponder.Response, configuration: Configuration, date: Date) -> ByteBuffer {
        var text = "HTTP/1.1 \(response.status) \(HTTPPages.reason(response.status, family: configuration.family))\r\n"
        for (name, value) in Self.headerLines(
            response,
            configuration: configuration,
            date: date,
            keepAlive: false,
            http10: false
        ) {
            text += "\(name): \(value)\r\n"
        }
        var buffer = ByteBuffer(string: text + "\r\n")
        buffer.writeBytes(response.payload)
        return buffer
    }

    /// IMF-fixdate: `Sat, 21 Nov 2026 13:05:24 GMT`.
    static func httpDate(_ date: Date) -> String {
        PosixDate.imfFixdate(date)
    }
}

/// Remembers the parser error that made `HTTPServerProtocolErrorHandler` answer 400, so the connection can
/// record it as `client.malformed`.
final class ParserErrorObserver: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let recorded = Mutex<String?>(nil)

    var error: String? { self.recorded.withLock { $0 } }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.recorded.withLock { $0 = $0 ?? "\(error)" }
        context.fireErrorCaught(error)
    }
}
