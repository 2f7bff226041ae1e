import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
        /// `health`, `status`, `deploy`, `teardown`, `update`, `rollback`.
        public var op: String
        /// For `deploy`: the fleet's INI text.
        public var config: String?
        /// For `deploy`: flags passed on (only those `AgentControl.allowedFlags` lists).
        public var flags: [String]?
        /// For `update`: the length of the binary that follows the request line, its SHA-256 (hex) and the
        /// release key's signature of it (base64; `ReleaseSigning`).
        public var payload: Int?
        public var sha256: String?
        public var signature: String?

        public init(
            op: String,
            config: String? = nil,
            flags: [String]? = nil,
            payload: Int? = nil,
            sha256: String? = nil,
            signature: String? = nil
        ) {
            self.op = op
            self.config = config
            self.flags = flags
            self.payload = payload
            self.sha256 = sha256
            self.signature = signature
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
    /// The largest binary an `update` may carry.
    public static let maximumPayload = 1 << 30

    /// Serves requests with `handle` until the channel closes. Binds `host:port`. A request announcing a payload
    /// has it written to a file in `incoming` (refused when nil) and handed to `handle` with the request;
    /// `answered` runs once a reply is sent and the connection closed.
    public static func serve(
        host: String,
        port: Int,
        identity: CertificateAuthority.Identity,
        incoming: String? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        log: @escaping @Sendable (String) -> Void = { _ in },
        answered: @escaping @Sendable (Request, Reply) -> Void = { _, _ in },
        handle: @escaping @Sendable (Request, String?) async -> Reply
    ) async throws -> any Channel {
        let context = try MutualTLS.server(identity)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: context))
                    try sync.addHandler(MasterGate(log: log))
                    try sync.addHandler(
                        ByteToMessageHandler(
                            ControlFrameDecoder(
                                maximumLine: Self.maximumLine,
                                incoming: incoming,
                                maximumPayload: Self.maximumPayload
                            )
                        )
                    )
                    try sync.addHandler(AgentRequestHandler(log: log, answered: answered, handle: handle))
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
        payload: String? = nil,
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
            // The payload follows the line, a megabyte at a time, each write awaited (the agent's pace).
            if let payload {
                guard let handle = FileHandle(forReadingAtPath: payload) else {
                    throw Failure("cannot read \(payload)")
                }
                defer { try? handle.close() }
                while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                    try await channel.writeAndFlush(channel.allocator.buffer(bytes: chunk)).get()
                }
            }
        } catch let failure as Failure {
            channel.close(promise: nil)
            throw failure
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
        guard let line = try self.nextLine(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    /// The next whole line, if the buffer holds one.
    func nextLine(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: 0x0A) else {
            if view.count > self.maximum { throw TooLong() }
            return nil
        }
        var line = Array(view[view.startIndex..<newline])
        if line.last == 0x0D { line.removeLast() }
        buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
        return line
    }
}

/// The agent's side, first: nothing read goes further until the peer is known to be the master (its certificate's
/// common name; the CA issues names), so no other certificate gets as far as a line or a byte on disk.
private final class MasterGate: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    // Touched on the channel's event loop only.
    private var master = false
    let log: @Sendable (String) -> Void

    init(log: @escaping @Sendable (String) -> Void) {
        self.log = log
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
        guard self.master else { return }
        context.fireChannelRead(data)
    }
}

/// A request line, and the file its payload was written to (nil without one), or why its payload was refused.
struct ControlFrame {
    var line: [UInt8]
    var payload: String?
    var refused: String?
}

/// Splits the control stream into request lines, as `LineFrameDecoder`; a line announcing a payload
/// (`"payload": N`) is followed by N bytes, written straight to a new file in `incoming` and never held whole.
struct ControlFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ControlFrame
    let maximumLine: Int
    let incoming: String?
    let maximumPayload: Int
    private var lines: LineFrameDecoder
    private var receiving: (line: [UInt8], path: String, descriptor: Int32, remaining: Int)?
    /// After a refused payload: its bytes, and anything after them, are dropped (the reply closes the connection).
    private var discarding = false

    struct WriteFailed: Error {}

    init(maximumLine: Int, incoming: String?, maximumPayload: Int) {
        self.maximumLine = maximumLine
        self.incoming = incoming
        self.maximumPayload = maximumPayload
        self.lines = LineFrameDecoder(maximum: maximumLine)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.discarding {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        if var receiving = self.receiving {
            let count = min(buffer.readableBytes, receiving.remaining)
            guard count > 0 else { return .needMoreData }
            let written = buffer.withUnsafeReadableBytes { bytes -> Bool in
                var offset = 0
                while offset < count {
                    let result = Glibc.write(receiving.descriptor, bytes.baseAddress! + offset, count - offset)
                    if result < 0 && errno == EINTR { continue }
                    guard result > 0 else { return false }
                    offset += result
                }
                return true
            }
            guard written else {
                self.abandon()
                throw WriteFailed()
            }
            buffer.moveReaderIndex(forwardBy: count)
            receiving.remaining -= count
            guard receiving.remaining == 0 else {
                self.receiving = receiving
                return .needMoreData
            }
            close(receiving.descriptor)
            self.receiving = nil
            context.fireChannelRead(Self.wrapInboundOut(ControlFrame(line: receiving.line, payload: receiving.path)))
            return .continue
        }
        guard let line = try self.lines.nextLine(&buffer) else { return .needMoreData }
        guard let request = try? JSONDecoder().decode(AgentControl.Request.self, from: Data(line)),
            let size = request.payload
        else {
            context.fireChannelRead(Self.wrapInboundOut(ControlFrame(line: line)))
            return .continue
        }
        guard let incoming = self.incoming else {
            context.fireChannelRead(
                Self.wrapInboundOut(ControlFrame(line: line, refused: "this agent takes no payloads"))
            )
            self.discarding = true
            return .needMoreData
        }
        guard (1...self.maximumPayload).contains(size) else {
            context.fireChannelRead(
                Self.wrapInboundOut(
                    ControlFrame(line: line, refused: "a payload of \(size) bytes (1 to \(self.maximumPayload))")
                )
            )
            self.discarding = true
            return .needMoreData
        }
        let path = (incoming as NSString).appendingPathComponent(UUID().uuidString + ".part")
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            context.fireChannelRead(
                Self.wrapInboundOut(ControlFrame(line: line, refused: "cannot write \(path): errno \(errno)"))
            )
            self.discarding = true
            return .needMoreData
        }
        self.receiving = (line, path, descriptor, size)
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        // A payload cut off by the close is not kept.
        self.abandon()
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    private mutating func abandon() {
        guard let receiving = self.receiving else { return }
        close(receiving.descriptor)
        unlink(receiving.path)
        self.receiving = nil
    }
}

/// The agent's side: one request, one reply, then the close (the master's certificate checked by `MasterGate`).
private final class AgentRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ControlFrame
    // Touched on the channel's event loop only.
    private var answered = false
    let log: @Sendable (String) -> Void
    let afterReply: @Sendable (AgentControl.Request, AgentControl.Reply) -> Void
    let handle: @Sendable (AgentControl.Request, String?) async -> AgentControl.Reply

    init(
        log: @escaping @Sendable (String) -> Void,
        answered: @escaping @Sendable (AgentControl.Request, AgentControl.Reply) -> Void,
        handle: @escaping @Sendable (AgentControl.Request, String?) async -> AgentControl.Reply
    ) {
        self.log = log
        self.afterReply = answered
        self.handle = handle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard !self.answered else {
            if let payload = frame.payload { unlink(payload) }
            return
        }
        self.answered = true
        let channel = context.channel
        let handle = self.handle
        let log = self.log
        let afterReply = self.afterReply
        Task {
            let reply: AgentControl.Reply
            let request = try? JSONDecoder().decode(AgentControl.Request.self, from: Data(frame.line))
            if let request, let refused = frame.refused {
                log("control: \(request.op) from the master refused: \(refused)")
                reply = AgentControl.Reply(ok: false, status: 2, output: "", error: refused)
            } else if let request {
                log("control: \(request.op) from the master")
                reply = await handle(request, frame.payload)
            } else {
                reply = AgentControl.Reply(ok: false, status: 2, output: "", error: "not a request")
            }
            if let payload = frame.payload, FileManager.default.fileExists(atPath: payload) { unlink(payload) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            var buffer = channel.allocator.buffer(capacity: 256)
            buffer.writeBytes((try? encoder.encode(reply)) ?? Data())
            buffer.writeInteger(UInt8(0x0A))
            try? await channel.writeAndFlush(buffer).get()
            try? await channel.close()
            if let request { afterReply(request, reply) }
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
