import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// The master's control channel to its agents (`decnet agent start`, `decnet swarmctl`): mutual TLS with
/// certificates from the project's CA, one JSON request and one JSON reply per connection, each on a line.
///
/// Each side checks who the other is after the handshake, beyond the CA: the agent lets in only the master's
/// certificate (its common name is `master`; the CA issues names, so an agent's certificate cannot pass), and the
/// master talks only to the certificate it pinned for that host (`decnet swarm add`). The seed's agent serves a
/// small FastAPI app for this; a request-line protocol is all the master needs, and it keeps the agent without an
/// HTTP stack: nothing on it parses more than one bounded line per connection.
public enum AgentControl {
    public static let defaultPort = 8765
    /// The longest request or reply line (a fleet's INI file travels in a request).
    public static let maximumLine = 4 << 20
    /// The master's certificate's common name.
    public static let masterName = "master"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public struct Request: Codable, Sendable, Equatable {
        /// `health`, `status`, `deploy`, `teardown`.
        public var op: String
        /// For `deploy`: the fleet's INI text.
        public var config: String?
        /// For `deploy`: flags passed on (only those `AgentControl.allowedFlags` lists).
        public var flags: [String]?

        public init(op: String, config: String? = nil, flags: [String]? = nil) {
            self.op = op
            self.config = config
            self.flags = flags
        }
    }

    public struct Reply: Codable, Sendable, Equatable {
        public var ok: Bool
        /// The exit status of the command the agent ran.
        public var status: Int32
        public var output: String
        public var error: String

        public init(ok: Bool, status: Int32, output: String, error: String) {
            self.ok = ok
            self.status = status
            self.output = output
            self.error = error
        }
    }

    /// Deploy flags the master may pass on: where the fleet goes, never files or commands of the agent's.
    public static let allowedFlags: Set<String> = ["--loopback", "--lab", "--dry-run", "--no-hairpin"]

    /// Serves requests with `handle` until the channel closes. Binds `host:port`.
    public static func serve(
        host: String,
        port: Int,
        identity: CertificateAuthority.Identity,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        log: @escaping @Sendable (String) -> Void = { _ in },
        handle: @escaping @Sendable (Request) async -> Reply
    ) async throws -> any Channel {
        let context = try MutualTLS.server(identity)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: context))
                    try sync.addHandler(ByteToMessageHandler(LineFrameDecoder(maximum: Self.maximumLine)))
                    try sync.addHandler(AgentRequestHandler(log: log, handle: handle))
                }
            }
            .bind(host: host, port: port).get()
    }

    /// Sends one request to the agent at `host:port`, which must present the certificate `fingerprint` pins.
    public static func call(
        host: String,
        port: Int,
        identity: CertificateAuthority.Identity,
        pinned fingerprint: String,
        request: Request,
        timeout: Duration = .seconds(120),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Reply {
        let context = try MutualTLS.client(identity)
        let reply = ReplyCollector(group.next().makePromise(of: [UInt8].self), pinned: fingerprint)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                        try sync.addHandler(ByteToMessageHandler(LineFrameDecoder(maximum: Self.maximumLine)))
                        try sync.addHandler(reply)
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            reply.promise.fail(error)
            throw Failure("cannot reach the agent at \(host):\(port): \(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var buffer = channel.allocator.buffer(capacity: 256)
        buffer.writeBytes(try encoder.encode(request))
        buffer.writeInteger(UInt8(0x0A))
        do {
            try await channel.writeAndFlush(buffer).get()
        } catch {
            // The connection was closed under the write: the collector knows why (the agent's certificate).
            _ = try await reply.promise.futureResult.get()
            throw error
        }
        let deadline = channel.eventLoop.scheduleTask(
            in: .seconds(Int64(timeout.components.seconds))
        ) { reply.promise.fail(Failure("no reply from \(host):\(port) within \(timeout)")) }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        let line = try await reply.promise.futureResult.get()
        do {
            return try JSONDecoder().decode(Reply.self, from: Data(line))
        } catch {
            throw Failure("\(host):\(port) did not answer as an agent: \(error)")
        }
    }
}

/// Splits a stream into lines (LF, its CR dropped); a line longer than `maximum` closes the connection.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    let maximum: Int

    struct TooLong: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: 0x0A) else {
            if view.count > self.maximum { throw TooLong() }
            return .needMoreData
        }
        var line = Array(view[view.startIndex..<newline])
        if line.last == 0x0D { line.removeLast() }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }
}

/// The agent's side: the master's certificate only, one request, one reply, then the close.
private final class AgentRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = [UInt8]
    // Touched on the channel's event loop only.
    private var master = false
    private var answered = false
    let log: @Sendable (String) -> Void
    let handle: @Sendable (AgentControl.Request) async -> AgentControl.Reply

    init(
        log: @escaping @Sendable (String) -> Void,
        handle: @escaping @Sendable (AgentControl.Request) async -> AgentControl.Reply
    ) {
        self.log = log
        self.handle = handle
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            let name = handler?.peerCertificate.flatMap { SyslogListener.commonName($0) }
            guard name == AgentControl.masterName else {
                self.log(
                    "control: refused \(name ?? "no certificate")@\(context.remoteAddress?.ipAddress ?? "?"): not the master"
                )
                context.close(promise: nil)
                return
            }
            self.master = true
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.master, !self.answered else { return }
        self.answered = true
        let line = Self.unwrapInboundIn(data)
        let channel = context.channel
        let handle = self.handle
        let log = self.log
        Task {
            let reply: AgentControl.Reply
            if let request = try? JSONDecoder().decode(AgentControl.Request.self, from: Data(line)) {
                log("control: \(request.op) from the master")
                reply = await handle(request)
            } else {
                reply = AgentControl.Reply(ok: false, status: 2, output: "", error: "not a request")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            var buffer = channel.allocator.buffer(capacity: 256)
            buffer.writeBytes((try? encoder.encode(reply)) ?? Data())
            buffer.writeInteger(UInt8(0x0A))
            try? await channel.writeAndFlush(buffer).get()
            try? await channel.close()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.log("control: \(context.remoteAddress?.ipAddress ?? "?"): \(error)")
        context.close(promise: nil)
    }
}

/// The master's side: the pinned certificate only, then the reply line.
private final class ReplyCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = [UInt8]
    let promise: EventLoopPromise<[UInt8]>
    let pinned: String

    init(_ promise: EventLoopPromise<[UInt8]>, pinned: String) {
        self.promise = promise
        self.pinned = pinned
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
            let fingerprint = handler?.peerCertificate.flatMap { try? SwarmRegistry.fingerprint($0) } ?? "none"
            if fingerprint != self.pinned {
                self.promise.fail(
                    AgentControl.Failure("the agent presented \(fingerprint), not the pinned \(self.pinned)")
                )
                context.close(promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.promise.succeed(Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(AgentControl.Failure("the agent closed the connection without a reply"))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.promise.fail(AgentControl.Failure("the connection ended"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.close(promise: nil)
    }
}
