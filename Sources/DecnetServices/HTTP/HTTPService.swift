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
                ?? "Intranet"
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try Self.configureHTTP(channel, port: port, tls: self.tls)
    }

    /// The HTTP/1.1 server pipeline every HTTP-speaking honeypot uses: TLS on its TLS ports, the codec with a
    /// bounded header block, pipelining, and a 400 and a close for requests that do not parse (as a real server
    /// answers them), remembered by a ParserErrorObserver.
    static func configureHTTP(_ channel: any Channel, port: Int, tls: ImplicitTLS) throws {
        try tls.configure(channel, port: port)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(HTTPResponseEncoder())
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
                let keepAlive = requestHead.isKeepAlive && response.status != 413
                try await self.write(response, for: requestHead, keepAlive: keepAlive, to: connection.outbound)
                if !keepAlive { return }
            }
        }
    }

    private func write(
        _ response: HTTPResponder.Response,
        for request: HTTPRequestHead,
        keepAlive: Bool,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Server", value: self.configuration.server)
        headers.add(name: "Date", value: Self.httpDate(Date()))
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        let payload = response.payload
        headers.add(name: "Content-Length", value: String(payload.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(
            // nginx, Apache and IIS answer an HTTP/1.0 request with an HTTP/1.1 status line (RFC 9110 §6.2; nginx
            // 1.22 and Apache 2.4 measured in bench/differential).
            version: .http1_1,
            status: HTTPResponseStatus(statusCode: response.status),
            headers: headers
        )
        try await outbound.write(.head(head))
        if request.method != .HEAD && !payload.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: payload))))
        }
        try await outbound.write(.end(nil))
    }

    /// IMF-fixdate: `Sat, 21 Nov 2026 13:05:24 GMT`.
    static func httpDate(_ date: Date) -> String {
        PosixDate.string(date, format: "EEE, dd MMM yyyy HH:mm:ss 'GMT'", timeZone: "GMT")
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
