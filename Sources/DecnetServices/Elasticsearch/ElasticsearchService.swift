import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOHTTP1

/// The `elasticsearch` honeypot (9200): an Elasticsearch node's REST API.
///
/// Persona keys: `es_version` (`8.12.2`), `cluster_name` (`elasticsearch`), and DECNET-Swift's `es_security`
/// (`true`: every request needs a login, as Elasticsearch 8 installs itself; default `false`, an open cluster as
/// the exposed ones ransom bots find) and `users` (Basic logins that succeed with security on).
public struct ElasticsearchService: HoneypotService {
    public static let kind: ServiceKind = "elasticsearch"
    static let maximumBody = 1 << 20

    let api: ElasticsearchAPI
    let tls: ImplicitTLS

    public init(context: ServiceContext) throws {
        self.tls = try ImplicitTLS(context: context)
        let domain = context.hostname.split(separator: ".").dropFirst().joined(separator: ".")
        self.api = ElasticsearchAPI(
            configuration: ElasticsearchAPI.Configuration(
                version: context.persona["es_version"] ?? "8.12.2",
                clusterName: context.persona["cluster_name"] ?? "elasticsearch",
                nodeName: String(context.hostname.split(separator: ".").first ?? Substring(context.hostname)),
                security: (context.persona["es_security"] ?? "false").lowercased() == "true",
                users: AcceptedCredentials(context.persona["users"])
            ),
            store: ElasticsearchStore(domain: domain.isEmpty ? "corp.local" : domain)
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try HTTPService.configureHTTP(channel, port: port, tls: self.tls)
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(
        _ connection: Connection<HTTPServerRequestPart, HTTPServerResponsePart>,
        session: SessionEvents
    ) async throws {
        try await HTTPExchange.serve(connection, session: session, maximumBody: Self.maximumBody, api: self.api) {
            response,
            request in
            // Elasticsearch (Netty) writes its own headers and the length, no Date and no Server.
            var headers = HTTPHeaders()
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            headers.add(name: "content-length", value: String(response.body.utf8.count))
            let head = HTTPResponseHead(
                version: request.version.minor == 0 ? .http1_0 : .http1_1,
                status: HTTPResponseStatus(statusCode: response.status),
                headers: headers
            )
            try await connection.outbound.write(.head(head))
            if request.method != .HEAD && !response.body.isEmpty {
                try await connection.outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body))))
            }
            try await connection.outbound.write(.end(nil))
            return request.isKeepAlive
        }
    }
}
