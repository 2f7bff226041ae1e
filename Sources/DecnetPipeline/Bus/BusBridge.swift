import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Carries a host's bus to and from an upstream NATS server (Debian's `nats-server`; several of them clustered
/// join the hosts of a swarm): what is published on this host goes up, what other hosts published comes down to
/// this host's subscribers. The topics are unchanged; a single host needs no upstream at all.
///
/// The link is NATS's own protocol over TCP, with TLS and a client certificate from the project's CA when an
/// identity is given (nats-server 2.9 sends its INFO in the clear and then expects the TLS handshake). It
/// connects with `echo: false`, so the server never returns this host's own messages, and a message that came
/// down is marked `relayed` and never sent up again: no loops. While the upstream is away, local publishing goes
/// on unaffected and the bridge connects again (what is published meanwhile is not sent up later: the bus carries
/// live notifications, the store keeps the record).
public final class BusBridge: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public struct Statistics: Codable, Sendable, Equatable {
        public var upstream: String
        public var connected = false
        public var connections = 0
        public var sentUp = 0
        public var receivedDown = 0
        public var lastError: String?
    }

    let bus: MessageBus
    let host: String
    let port: Int
    let identity: CertificateAuthority.Identity?
    let name: String
    let pattern: String
    let stats: Mutex<Statistics>
    let log: @Sendable (String) -> Void

    public init(
        bus: MessageBus,
        host: String,
        port: Int,
        identity: CertificateAuthority.Identity?,
        name: String,
        pattern: String = ">",
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        try identity?.check()
        _ = try Subject.pattern(pattern)
        self.bus = bus
        self.host = host
        self.port = port
        self.identity = identity
        self.name = name
        self.pattern = pattern
        self.stats = Mutex(Statistics(upstream: "\(host):\(port)"))
        self.log = log
    }

    public var statistics: Statistics { self.stats.withLock { $0 } }

    /// Keeps the link up until the task is cancelled.
    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async {
        let context: NIOSSLContext?
        do {
            context = try self.identity.map { try MutualTLS.client($0) }
        } catch {
            self.stats.withLock { $0.lastError = "TLS settings: \(error)" }
            return
        }
        var backoff: Duration = .milliseconds(250)
        while !Task.isCancelled {
            do {
                try await self.serve(context: context, group: group)
                backoff = .milliseconds(250)
            } catch {
                self.stats.withLock {
                    $0.connected = false
                    $0.lastError = "\(error)"
                }
                self.log("bus upstream \(self.host):\(self.port): \(error)")
            }
            self.stats.withLock { $0.connected = false }
            do { try await Task.sleep(for: backoff) } catch { return }
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// One link: INFO, TLS if asked, CONNECT and SUB; then both directions until either fails.
    private func serve(context: NIOSSLContext?, group: any EventLoopGroup) async throws {
        let holder = Mutex<InfoLine?>(nil)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let info = InfoLine(channel.eventLoop.makePromise())
                    holder.withLock { $0 = info }
                    try channel.pipeline.syncOperations.addHandler(info)
                }
            }
            .connect(host: self.host, port: self.port).get()
        guard let info = holder.withLock({ $0 }) else { throw Failure(description: "no pipeline") }
        let line: String
        do {
            line = try await info.line.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        let tlsRequired = line.contains("\"tls_required\":true")
        if tlsRequired && context == nil {
            try? await channel.close()
            throw Failure(description: "the upstream requires TLS: give the bus an identity")
        }
        let connection = try await channel.eventLoop.submit {
            let sync = channel.pipeline.syncOperations
            // A removable handler leaves at once (the future is already complete).
            _ = sync.removeHandler(info)
            if let context, tlsRequired {
                try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil), position: .first)
            }
            try sync.addHandler(ByteToMessageHandler(BusServerDecoder()))
            return try NIOAsyncChannel<BusWire.ServerOperation, ByteBuffer>(wrappingChannelSynchronously: channel)
        }.get()
        let subscription = self.bus.subscribe(try Subject.pattern(self.pattern))
        defer { self.bus.unsubscribe(subscription.id) }
        try await connection.executeThenClose { inbound, outbound in
            var buffer = ByteBuffer()
            let options =
                #"{"verbose":false,"pedantic":false,"echo":false,"tls_required":\#(tlsRequired),"name":"\#(self.name)","lang":"swift","version":"0.1.0"}"#
            BusWire.write(.connect(options), into: &buffer)
            BusWire.write(.subscribe(subject: self.pattern, queue: nil, sid: "1"), into: &buffer)
            BusWire.write(BusWire.ClientOperation.ping, into: &buffer)
            try await outbound.write(buffer)
            self.stats.withLock {
                $0.connected = true
                $0.connections += 1
                $0.lastError = nil
            }
            self.log("bus upstream \(self.host):\(self.port) connected\(tlsRequired ? " (TLS)" : "")")
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Up: what this host published (never what came down).
                group.addTask {
                    var buffer = ByteBuffer()
                    for await message in subscription.messages where !message.relayed {
                        buffer.clear()
                        BusWire.publish(message, into: &buffer)
                        try await outbound.write(buffer)
                        self.stats.withLock { $0.sentUp += 1 }
                    }
                }
                // Down: what the other hosts published, to this host's subscribers.
                group.addTask {
                    for try await operation in inbound {
                        switch operation {
                        case .message(let subject, _, _, let payload):
                            guard let subject = try? Subject(subject) else { continue }
                            _ = self.bus.publish(
                                BusMessage(subject: subject, payload: Array(payload.readableBytesView), relayed: true)
                            )
                            self.stats.withLock { $0.receivedDown += 1 }
                        case .ping:
                            var pong = ByteBuffer()
                            BusWire.write(BusWire.ClientOperation.pong, into: &pong)
                            try await outbound.write(pong)
                        case .error(let message):
                            throw Failure(description: "the upstream says: \(message)")
                        case .info, .pong, .ok:
                            break
                        }
                    }
                    throw Failure(description: "the upstream closed the connection")
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

/// Reads the server's first line (its INFO) before anything else is set up.
private final class InfoLine: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let line: EventLoopPromise<String>
    private let buffer = Mutex(ByteBuffer())

    init(_ line: EventLoopPromise<String>) {
        self.line = line
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Removed after the INFO (a no-op then), or torn down with a connection that failed.
        self.line.fail(BusBridge.Failure(description: "the connection ended before the server's INFO"))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = Self.unwrapInboundIn(data)
        let text: String? = self.buffer.withLock { buffer in
            buffer.writeBuffer(&incoming)
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: 0x0A) else {
                return buffer.readableBytes > 64 * 1024 ? "" : nil
            }
            return String(decoding: view[view.startIndex..<newline], as: UTF8.self)
        }
        guard let text else { return }
        if text.hasPrefix("INFO ") {
            self.line.succeed(text)
        } else {
            self.line.fail(BusBridge.Failure(description: "not a NATS server: \(text.prefix(80).debugDescription)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.line.fail(BusBridge.Failure(description: "the upstream closed before its INFO"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.line.fail(error)
        context.close(promise: nil)
    }
}
