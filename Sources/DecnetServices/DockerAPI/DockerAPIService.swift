import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOHTTP1

/// The `docker_api` honeypot (2375; 2376 with TLS): an exposed Docker daemon, as cryptomining bots and attackers
/// find it.
///
/// Persona keys: `docker_version` (the engine's version, e.g. `24.0.7`, or Debian's `20.10.24+dfsg1`; its API
/// version and components follow it), `docker_seed_containers` (`no`: a freshly installed engine, without the three
/// long-running containers and their images).
public struct DockerAPIService: HoneypotService {
    public static let kind: ServiceKind = "docker_api"
    static let maximumBody = 1 << 20
    /// net/http's `bufferBeforeChunkingSize`: a handler's output past it is sent chunked.
    static let chunkingThreshold = 2048

    let api: DockerEngineAPI
    let tls: ImplicitTLS

    /// Engine releases and what they report: API version, engine commit, Go.
    static let releases: [String: (api: String, commit: String, go: String)] = [
        "20.10": ("1.41", "5fa1ec8", "go1.18.10"), "23.0": ("1.42", "bc3805a", "go1.19.10"),
        "24.0": ("1.43", "311b9ff", "go1.20.10"), "25.0": ("1.44", "615dfdf", "go1.21.6"),
        "26.0": ("1.45", "8b79278", "go1.21.8"), "26.1": ("1.45", "ac2de55", "go1.21.10"),
        "27.0": ("1.46", "662f78c", "go1.21.11"), "27.1": ("1.46", "cc13f95", "go1.21.12"),
    ]

    public init(context: ServiceContext) throws {
        let version = context.persona["docker_version"] ?? "24.0.7"
        let minor = version.split(separator: ".").prefix(2).joined(separator: ".")
        let release = Self.releases[minor] ?? ("1.43", "311b9ff", "go1.20.10")
        let profile = ShellProfile(context: context)
        self.tls = try ImplicitTLS(context: context)
        let started = Int(Date().timeIntervalSince1970)
        var configuration = DockerEngineAPI.Configuration(
            version: version,
            apiVersion: release.api,
            gitCommit: release.commit,
            goVersion: release.go,
            kernelVersion: profile.kernel,
            hostname: context.hostname,
            operatingSystem: profile.prettyName,
            profile: profile
        )
        if version.contains("+dfsg") {
            // Debian's docker.io: its own build of the engine, and Debian's containerd and runc.
            configuration.release = .debian
            configuration.gitCommit = "5d6db84"
            configuration.goVersion = "go1.19.8"
        }
        configuration.engineID = Self.engineID(context.decky)
        configuration.warnings = [DockerEngineAPI.plainTCPWarning("0.0.0.0:2375")]
        let seeded = (context.persona["docker_seed_containers"] ?? "yes").lowercased() != "no"
        self.api = DockerEngineAPI(
            configuration: configuration,
            state: DockerEngineState(started: started, seeded: seeded, host: context.decky),
            now: { Int(Date().timeIntervalSince1970) }
        )
    }

    /// What Go's net/http writes when it cannot read a request, then closes: the status (with its reason for the
    /// refusals Go explains) as a plain-text body.
    static func goRefusal(_ rejection: HTTPRejection) -> ByteBuffer {
        let phrase = HTTPResponseStatus(statusCode: rejection.status).reasonPhrase
        var text = "\(rejection.status) \(phrase)"
        if rejection.status == 501 {
            return ByteBuffer(
                string: "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    + "Connection: close\r\n\r\nUnsupported transfer encoding"
            )
        }
        if HTTPPersonaRequestDecoder.goStatedReasons.contains(rejection.reason) { text += ": " + rejection.reason }
        return ByteBuffer(
            string: "HTTP/1.1 \(text)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n\(text)"
        )
    }

    /// An engine id as dockerd makes it (twelve groups of four base32 letters), stable for a decky.
    static func engineID(_ decky: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let digest = Array(SHA256.hash(data: Array("decnet docker engine \(decky)".utf8)))
        let letters = (0..<48).map { index in alphabet[Int(digest[index % digest.count] >> (index / 32 * 3)) % 32] }
        return stride(from: 0, to: 48, by: 4).map { String(letters[$0..<$0 + 4]) }.joined(separator: ":")
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try HTTPService.configureHTTP(
            channel,
            port: port,
            tls: self.tls,
            family: .go,
            framesItself: true,
            reject: Self.goRefusal
        )
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
            try await self.write(response, for: request, keepAlive: request.isKeepAlive, connection: connection)
            if case .hijacked = response.body { return false }
            return request.isKeepAlive
        }
    }

    /// Writes a response with the header order of Go's net/http: the handler's headers sorted by name, then Date,
    /// then Content-Length (or chunked framing); a hijacked stream leaves HTTP behind after its 101 and ends with
    /// the connection.
    private func write(
        _ response: DockerEngineAPI.Response,
        for request: HTTPRequestHead,
        keepAlive: Bool,
        connection: Connection<HTTPServerRequestPart, HTTPServerResponsePart>
    ) async throws {
        // Go's order: the handler's headers sorted, then what the server adds (Date, Content-Length, a sniffed
        // Content-Type, Transfer-Encoding). A body over net/http's 2 KiB buffer goes out chunked, in one chunk.
        var body = response.body
        if case .bytes(let bytes) = body, bytes.count > Self.chunkingThreshold, request.method != .HEAD {
            body = .chunked([bytes])
        }
        var headers = HTTPHeaders()
        for (name, value) in response.headers.sorted(by: { $0.0 < $1.0 }) { headers.add(name: name, value: value) }
        if case .hijacked = body {
        } else {
            headers.add(name: "Date", value: HTTPService.httpDate(Date()))
        }
        if case .bytes(let bytes) = body, response.status != 204, !headers.contains(name: "Content-Length") {
            headers.add(name: "Content-Length", value: String(bytes.count))
        }
        if let sniffed = response.sniffedType { headers.add(name: "Content-Type", value: sniffed) }
        // An HTTP/1.0 client gets such a body unframed, ended by the close (as Go's server does).
        if case .chunked = body, request.version.minor >= 1 { headers.add(name: "Transfer-Encoding", value: "chunked") }
        let head = HTTPResponseHead(
            version: request.version.minor == 0 ? .http1_0 : .http1_1,
            status: HTTPResponseStatus(statusCode: response.status),
            headers: headers
        )
        let outbound = connection.outbound
        try await outbound.write(.head(head))
        switch body {
        case .bytes(let bytes):
            if request.method != .HEAD && !bytes.isEmpty {
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
            }
            try await outbound.write(.end(nil))
        case .chunked(let chunks):
            for chunk in chunks { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk)))) }
            try await outbound.write(.end(nil))
        case .hijacked(let raw):
            try await outbound.write(.end(nil))
            // The connection is a raw stream now: the response encoder leaves, and the output is written from the
            // request decoder's place in the pipeline, below every handler that only knows HTTP parts.
            let channel = connection.channel
            try await channel.eventLoop.flatSubmit {
                let sync = channel.pipeline.syncOperations
                do {
                    let encoder = try sync.handler(type: HTTPResponseEncoder.self)
                    let decoder = try sync.context(handlerType: ByteToMessageHandler<HTTPPersonaRequestDecoder>.self)
                    // The encoder leaves at once (its removal is synchronous), before the write below passes.
                    let removed = sync.removeHandler(encoder)
                    let written = decoder.writeAndFlush(NIOAny(ByteBuffer(bytes: raw)))
                    return removed.and(written).map { _ in }
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }.get()
            try? await channel.close()
        }
    }
}
