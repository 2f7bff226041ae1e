import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOHTTP1

/// The request loop of the HTTP-speaking API honeypots (docker_api, elasticsearch): each request's head and body
/// (kept up to a limit) handed to the service, the first User-Agent recorded as the client's fingerprint, the
/// TLS client hello's fingerprint on TLS ports.
enum HTTPExchange {
    /// Serves requests until the service says the connection ends (or the client goes).
    static func serve(
        _ connection: Connection<HTTPServerRequestPart, HTTPServerResponsePart>,
        session: SessionEvents,
        maximumBody: Int,
        respond: (HTTPRequestHead, [UInt8]) async throws -> Bool
    ) async throws {
        let sniffer = await ImplicitTLS.sniffer(connection.channel)
        var reported = false
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        var announced = false
        for try await part in connection.inbound {
            if !reported { reported = ImplicitTLS.reportFingerprint(sniffer, session: session) }
            switch part {
            case .head(let requestHead):
                head = requestHead
                body = []
            case .body(let chunk):
                if body.count + chunk.readableBytes <= maximumBody { body.append(contentsOf: chunk.readableBytesView) }
            case .end:
                guard let request = head else { continue }
                head = nil
                if !announced, let agent = request.headers.first(name: "User-Agent") {
                    announced = true
                    var fields = EventFields()
                    fields.add("user_agent", attackerText: agent)
                    session.emit(.clientFingerprint, fields)
                }
                guard try await respond(request, body) else { return }
            }
        }
    }
}

/// A REST API honeypot's logic without I/O: a request in, a response and its events out.
protocol HTTPAPI: Sendable {
    associatedtype Response
    func respond(
        method: String,
        uri: String,
        headers: [(name: String, value: String)],
        body: [UInt8]
    )
        -> (Response, [(EventID, EventFields)])
}

extension HTTPExchange {
    /// Serves an API: each request answered by `api`, its events emitted, the response written by `write`, which
    /// says whether the connection stays open.
    static func serve<API: HTTPAPI>(
        _ connection: Connection<HTTPServerRequestPart, HTTPServerResponsePart>,
        session: SessionEvents,
        maximumBody: Int,
        api: API,
        write: (API.Response, HTTPRequestHead) async throws -> Bool
    ) async throws {
        try await self.serve(connection, session: session, maximumBody: maximumBody) { request, body in
            let (response, events) = api.respond(
                method: request.method.rawValue,
                uri: request.uri,
                headers: request.headers.map { (name: $0.name, value: $0.value) },
                body: body
            )
            for (id, fields) in events { session.emit(id, fields) }
            return try await write(response, request)
        }
    }
}

extension HTTPExchange {
    /// What every API request records: its method and URI (`command.input`, with the client's User-Agent when given)
    /// and, when it has one, its body (`payload.received` of `kind`, with size, digest and preview).
    static func requestEvents(
        method: String,
        uri: String,
        body: [UInt8],
        kind: String,
        userAgent: String? = nil
    ) -> [(EventID, EventFields)] {
        var fields = EventFields()
        fields.add("command", attackerText: method)
        fields.add("args", attackerText: uri)
        if let userAgent { fields.add("user_agent", attackerText: userAgent) }
        var events: [(EventID, EventFields)] = [(.commandInput, fields)]
        if !body.isEmpty {
            var payload = EventFields()
            payload.add("kind", kind)
            payload.add("size", String(body.count))
            payload.add("sha256", ArtifactStore.sha256(body))
            payload.add("preview", attackerBytes: body.prefix(400))
            events.append((.payloadReceived, payload))
        }
        return events
    }
}
