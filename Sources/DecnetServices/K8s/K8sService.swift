import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The `k8s` honeypot: a kubeadm cluster's kube-apiserver on 6443 (TLS, kubeadm's serving certificate, a client
/// certificate requested) and the legacy insecure port 8080 (plain HTTP, no authentication), with Go's HTTP
/// framing, the API server's Status errors, discovery, a small fake cluster, and exec into its pods over
/// WebSocket or SPDY answered by the fake shell.
///
/// Persona keys: `k8s_version` (gitVersion, default `v1.29.2`), and DECNET-Swift's `k8s_anonymous`, `k8s_tokens`,
/// `k8s_insecure_port` (see the catalogue notes above).
public struct K8sService: HoneypotService {
    public static let kind: ServiceKind = "k8s"
    static let maximumBody = 1 << 20
    static let maximumHeaderBytes = 64 * 1024
    static let maximumStdin = 64 * 1024

    /// The cluster, built on first use (it quotes the CA certificate, which is made lazily).
    final class Shared: Sendable {
        let cluster = Mutex<K8sCluster?>(nil)
    }

    let configuration: K8sAPI.Configuration
    let certificate: K8sCertificate
    let tls: NIOSSLContext?
    let tlsPorts: Set<Int>
    let insecurePort: Int
    let shared = Shared()
    let profile: ShellProfile
    let address: String?

    public init(context: ServiceContext) throws {
        let release = K8sRelease(persona: context.persona["k8s_version"] ?? "v1.29.2")
        self.configuration = K8sAPI.Configuration(
            release: release,
            anonymousAllowed: (context.persona["k8s_anonymous"] ?? "false").lowercased() == "true",
            tokens: K8sTokens(context.persona["k8s_tokens"]),
            serverAddress: "\(context.address ?? "10.0.0.10"):6443",
            hostname: context.hostname
        )
        self.insecurePort = Int(context.persona["k8s_insecure_port"] ?? "8080") ?? 8080
        self.address = context.address
        self.certificate = K8sCertificate(
            hostname: context.hostname,
            directory: context.keyDirectory,
            address: context.address
        )
        self.tlsPorts = context.tlsPorts
        self.tls = context.tlsPorts.isEmpty ? nil : try self.certificate.serverContext()
        if context.address != nil && !context.tlsPorts.isEmpty { self.certificate.made.prewarm() }
        self.profile = ShellProfile(context: context)
    }

    /// The client speaks first: a connection's task starts with its first request (`TCPHoneypot.waitsForClient`),
    /// or with the error that ends it (plain HTTP on the TLS port, a failed handshake).
    public static var waitsForClient: Bool { true }

    public func configure(_ channel: any Channel, port: Int) throws {
        // The node address goes into the certificate, whose handshake may come before `handle` runs.
        self.certificate.learn(address: self.address ?? channel.localAddress?.ipAddress)
        let sync = channel.pipeline.syncOperations
        if let tls = self.tls, self.tlsPorts.contains(port) {
            let peer = K8sPeerCertificate()
            try sync.addHandler(K8sPlaintextGuard())
            try sync.addHandler(ClientHelloSniffer())
            try sync.addHandler(
                NIOSSLServerHandler(context: tls) { chain, promise in
                    peer.keep(chain)
                    promise.succeed(.certificateVerified)
                }
            )
            try sync.addHandler(peer)
            try sync.addHandler(TLSPeerLeft())
        }
        try sync.addHandler(
            ByteToMessageHandler(
                HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes),
                maximumBufferSize: Self.maximumHeaderBytes
            )
        )
        let insecure = !self.tlsPorts.contains(port) && port == self.insecurePort && port != 0
        try sync.addHandler(K8sGoErrorHandler(insecure: insecure))
    }

    /// The API for a connection whose local address is `local`: the cluster is built the first time.
    func api(local: String?) async -> K8sAPI {
        self.certificate.learn(address: self.address ?? local)
        let nodeIP = self.certificate.knownAddress ?? "10.0.0.10"
        var configuration = self.configuration
        configuration.serverAddress = "\(nodeIP):6443"
        if let cluster = self.shared.cluster.withLock({ $0 }) {
            return K8sAPI(configuration: configuration, cluster: cluster)
        }
        let caPEM = (try? await self.certificate.made.get())?.caPEM ?? ""
        let cluster = self.shared.cluster.withLock { stored -> K8sCluster in
            if let stored { return stored }
            let made = K8sCluster(
                release: configuration.release,
                hostname: self.profile.hostname,
                nodeIP: nodeIP,
                caPEM: caPEM,
                now: Int(Date().timeIntervalSince1970)
            )
            stored = made
            return made
        }
        return K8sAPI(configuration: configuration, cluster: cluster)
    }

    public func handle(
        _ connection: Connection<HTTPServerRequestPart, ByteBuffer>,
        session: SessionEvents
    ) async throws {
        let channel = connection.channel
        let errors = try? await channel.pipeline.handler(type: K8sGoErrorHandler.self).get()
        let peer = try? await channel.pipeline.handler(type: K8sPeerCertificate.self).get()
        let sniffer = await ImplicitTLS.sniffer(channel)
        var fingerprinted = false
        defer {
            if !fingerprinted { ImplicitTLS.reportFingerprint(sniffer, session: session) }
        }
        do {
            try await self.serve(connection, session: session, insecure: errors?.insecure ?? false, peer: peer) {
                if !fingerprinted { fingerprinted = ImplicitTLS.reportFingerprint(sniffer, session: session) }
            }
        } catch let plaintext as K8sPlaintextHTTP {
            session.emit(.clientMalformed, EventFields.malformed(plaintext.description, preview: plaintext.preview))
        } catch let error
            where error is HTTPParserError || error is ByteToMessageDecoderError.PayloadTooLargeError
            || error is NIOSSLError || error is BoringSSLError
        {
            // Requests the parser rejected (answered by Go's 400 or 431) and failed TLS handshakes.
            session.emit(.clientMalformed, EventFields.malformed("\(error)", preview: []))
        }
    }

    /// The request loop.
    func serve(
        _ connection: Connection<HTTPServerRequestPart, ByteBuffer>,
        session: SessionEvents,
        insecure: Bool,
        peer: K8sPeerCertificate?,
        received: () -> Void
    ) async throws {
        let channel = connection.channel
        let api = await self.api(local: channel.localAddress?.ipAddress)
        var state = K8sAPI.ConnectionState()
        var iterator = connection.inbound.makeAsyncIterator()
        var reader = K8sRequestReader()
        var announced = false
        while let part = try await iterator.next() {
            received()
            switch reader.read(part) {
            case .reading:
                continue
            case .missingHost(let requestHead):
                try await connection.outbound.write(
                    ByteBuffer(bytes: K8sGoHTTP.error(400, "missing required Host header"))
                )
                session.emit(
                    .clientMalformed,
                    EventFields.malformed(
                        "missing required Host header",
                        preview: Array("\(requestHead.method.rawValue) \(requestHead.uri)".utf8)
                    )
                )
                return
            case .request(let request, let body, let tooLarge):
                if !announced, let agent = request.headers.first(name: "User-Agent") {
                    announced = true
                    var fields = EventFields()
                    fields.add("user_agent", attackerText: agent)
                    session.emit(.clientFingerprint, fields)
                }
                let apiRequest = K8sAPI.Request(
                    request,
                    body: body,
                    tooLarge: tooLarge,
                    clientCertificate: peer?.certificate,
                    insecurePort: insecure
                )
                let (response, events) = api.respond(to: apiRequest, state: &state)
                for (id, fields) in events { session.emit(id, fields) }
                let http10 = request.version.major == 1 && request.version.minor == 0
                let upgrading = K8sRequestReader.upgrading(request)
                switch response.body {
                case .bytes(let bytes):
                    let close = !request.isKeepAlive
                    let reply = K8sGoHTTP.response(
                        status: response.status,
                        headers: response.headers,
                        body: bytes,
                        head: request.method == .HEAD,
                        http10: http10,
                        close: close
                    )
                    try await connection.outbound.write(ByteBuffer(bytes: reply))
                    if close || upgrading { return }
                case .watch(let events, let seconds):
                    try await self.watch(
                        events,
                        seconds: seconds,
                        headers: response.headers,
                        http10: http10,
                        connection: connection
                    )
                    if !request.isKeepAlive || upgrading || http10 { return }
                case .exec(let exec):
                    try await self.exec(exec, iterator: &iterator, connection: connection, session: session)
                    return
                }
            }
        }
    }

    /// A watch: the current objects as ADDED events, then the stream held open (bounded), then its end.
    func watch(
        _ events: [[UInt8]],
        seconds: Int,
        headers: [(String, String)],
        http10: Bool,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>
    ) async throws {
        var out = K8sGoHTTP.head(
            status: 200,
            headers: headers,
            framing: http10 ? .none : .chunked,
            http10: http10,
            close: http10
        )
        for event in events { out += http10 ? event : K8sGoHTTP.chunk(event) }
        try await connection.outbound.write(ByteBuffer(bytes: out))
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline, connection.channel.isActive {
            try await Task.sleep(for: .milliseconds(250))
        }
        if !http10 && connection.channel.isActive {
            try await connection.outbound.write(ByteBuffer(bytes: K8sGoHTTP.lastChunk))
        }
    }
}

extension K8sService {
    /// From here on the connection carries raw bytes both ways: the request decoder leaves (what it still held
    /// goes on as raw bytes) and a raw-to-body adapter takes its place.
    static func switchToRaw(_ channel: any Channel) async throws {
        try await channel.eventLoop.submit {
            let sync = channel.pipeline.syncOperations
            let decoder = try sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try sync.addHandler(K8sRawBodyAdapter(), position: .after(decoder))
            sync.removeHandler(decoder, promise: nil)
        }.get()
    }

    /// Closes the connection in `delay` (after a last frame, the client is given time to read it and hang up).
    static func closeSoon(_ channel: any Channel, after delay: TimeAmount = .seconds(1)) {
        channel.eventLoop.execute {
            let task = channel.eventLoop.scheduleTask(in: delay) { channel.close(promise: nil) }
            channel.closeFuture.whenComplete { _ in task.cancel() }
        }
    }

    func exec(
        _ exec: K8sExecRequest,
        iterator: inout ConnectionInbound<HTTPServerRequestPart>.AsyncIterator,
        connection: Connection<HTTPServerRequestPart, ByteBuffer>,
        session: SessionEvents
    ) async throws {
        try await Self.switchToRaw(connection.channel)
        let shell = K8sExecSession(request: exec, profile: self.profile)
        let artifacts = ArtifactStore(directory: session.context.artifactDirectory)
        switch exec.transport {
        case .websocket(let protocolName, let key):
            try await connection.outbound.write(
                ByteBuffer(bytes: K8sWebSocket.handshake(key: key, protocolName: protocolName))
            )
            var runner = K8sWebSocketExec(shell: shell, protocolName: protocolName)
            defer { runner.shell.terminal?.recording.keep(in: artifacts, session: session) }
            try await runner.run(iterator: &iterator, connection: connection, session: session)
        case .spdy(let protocolName):
            try await connection.outbound.write(ByteBuffer(bytes: K8sSPDY.handshake(protocolName: protocolName)))
            var runner = K8sSPDYExec(shell: shell, protocolName: protocolName)
            defer { runner.shell.terminal?.recording.keep(in: artifacts, session: session) }
            try await runner.run(iterator: &iterator, connection: connection, session: session)
        }
    }
}
