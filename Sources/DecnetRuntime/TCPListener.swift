import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Runs one `TCPHoneypot` on one socket: accepts connections, applies `ConnectionLimits`, binds each to a
/// `SessionEvents` and raises `connection.open`/`close`/`refused`. A connection's failure never reaches the
/// listener, and the accept loop never waits on a connection.
public struct TCPListener<Service: TCPHoneypot>: Sendable {
    public let service: Service
    public let context: ServiceContext
    public let limits: ConnectionLimits
    private let serverChannel: NIOAsyncChannel<AcceptedConnection<Service>, Never>
    private let tracker: ConnectionTracker

    /// The bound address (with the real port when 0 was asked for).
    public var localAddress: SocketAddress? { self.serverChannel.channel.localAddress }

    /// Binds `host:port` (port 0 picks a free one), in network namespace `namespace` when given (the socket is
    /// opened there by `NamespaceSocket`, the connections are served by this process's event loops), or serves
    /// `socket`, a listening socket opened already (then `port` is only the port the service is told it has).
    public static func bind(
        _ service: Service,
        host: String,
        port: Int,
        context: ServiceContext,
        limits: ConnectionLimits = ConnectionLimits(),
        namespace: String? = nil,
        socket: Int32? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TCPListener {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<AcceptedConnection<Service>> = { channel in
            // The source as accept(2) saw it: a scanner that connects and resets at once is still attributed.
            AcceptedPeer.source(of: channel).flatMapThrowing { source in
                let counts = ByteCounts()
                let activation = ActivationHandler(eventLoop: channel.eventLoop)
                try channel.pipeline.syncOperations.addHandler(activation)
                try channel.pipeline.syncOperations.addHandler(ByteCountingHandler(counts: counts))
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                try channel.pipeline.syncOperations.addHandler(IdleCloseHandler())
                let deadline = channel.eventLoop.scheduleTask(in: limits.sessionTimeout) {
                    channel.close(promise: nil)
                }
                channel.closeFuture.whenComplete { _ in deadline.cancel() }
                // The port as configured (0 when the system picked one), which is what per-port settings
                // such as a service context's `tlsPorts` name.
                try service.configure(channel, port: port)
                let wrapped = try NIOAsyncChannel<Service.Inbound, Service.Outbound>(
                    wrappingChannelSynchronously: channel
                )
                return AcceptedConnection<Service>(
                    channel: wrapped,
                    counts: counts,
                    active: activation.active,
                    source: source,
                    destination: Endpoint(address: channel.localAddress)
                )
            }
        }
        let serverChannel: NIOAsyncChannel<AcceptedConnection<Service>, Never>
        if let socket {
            serverChannel = try await bootstrap.bind(socket, childChannelInitializer: initializer)
        } else if let namespace {
            let socket = try await NamespaceSocket.listeningTCP(namespace: namespace, host: host, port: port)
            serverChannel = try await bootstrap.bind(socket, childChannelInitializer: initializer)
        } else {
            serverChannel = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
        }
        return TCPListener(
            service: service,
            context: context,
            limits: limits,
            serverChannel: serverChannel,
            tracker: ConnectionTracker(limits: limits)
        )
    }

    private init(
        service: Service,
        context: ServiceContext,
        limits: ConnectionLimits,
        serverChannel: NIOAsyncChannel<AcceptedConnection<Service>, Never>,
        tracker: ConnectionTracker
    ) {
        self.service = service
        self.context = context
        self.limits = limits
        self.serverChannel = serverChannel
        self.tracker = tracker
    }

    /// Connections open right now.
    public var openConnections: Int { self.tracker.open }

    /// Connections accepted since the listener started (refused ones not counted).
    public var totalConnections: Int { self.tracker.accepted }

    /// Accepts until the task is cancelled or `close()` is called; returns when every connection has ended.
    public func run() async {
        // The accept loop runs on the listening socket's event loop, as each connection's task runs on its own.
        await withTaskExecutorPreference(EventLoopTaskExecutor(self.serverChannel.channel.eventLoop)) {
            await self.acceptUntilClosed()
        }
    }

    private func acceptUntilClosed() async {
        do {
            try await self.serverChannel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await accepted in inbound {
                        let source = accepted.source
                        let destination = accepted.destination
                        let session = SessionEvents(context: self.context, source: source, destination: destination)
                        let channel = accepted.channel.channel
                        switch self.tracker.acquire(source.ip, close: { channel.close(promise: nil) }) {
                        case .refused(let limit):
                            session.emit(.connectionRefused, ["limit": limit, "reason": "connection limit reached"])
                            // Closed through its async wrapper, which must be finished before it goes away.
                            group.addTask { try? await accepted.channel.executeThenClose { _, _ in } }
                        case .admitted(let slot):
                            // The connection's task runs on its channel's event loop (see EventLoopTaskExecutor).
                            group.addTask(executorPreference: EventLoopTaskExecutor(channel.eventLoop)) {
                                await self.serve(accepted, session: session, source: source.ip, slot: slot)
                            }
                        }
                    }
                }
            }
        } catch {
            // The listening socket closed under us (shutdown or close()); open connections were awaited above.
        }
    }

    private func serve(
        _ accepted: AcceptedConnection<Service>,
        session: SessionEvents,
        source: String,
        slot: Int
    ) async {
        let started = ContinuousClock.now
        session.emit(.connectionOpen)
        var reason = "closed"
        do {
            try await accepted.channel.executeThenClose { inbound, outbound in
                // What a service writes and closes at once must not be dropped (see ActivationHandler).
                try await accepted.active.get()
                let connection = Connection(inbound: inbound, outbound: outbound, channel: accepted.channel.channel)
                try await self.service.handle(connection, session: session)
            }
        } catch let error as ByteToMessageDecoderError.PayloadTooLargeError {
            reason = "malformed"
            session.emit(.clientMalformed, ["error": "request larger than the protocol allows (\(error))"])
        } catch {
            // A reset, a timeout-close mid-write, cancellation: the connection is over either way.
            reason = "error"
        }
        if self.tracker.release(source, slot: slot) { reason = "evicted" }
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        session.emit(
            .connectionClose,
            [
                "duration_ms": String(milliseconds),
                "bytes_in": String(accepted.counts.received.load(ordering: .relaxed)),
                "bytes_out": String(accepted.counts.sent.load(ordering: .relaxed)),
                "reason": reason,
            ]
        )
        session.close()
    }

    /// Stops accepting; connections already open run on until they end.
    public func close() async {
        try? await self.serverChannel.channel.close()
    }
}

/// A freshly accepted connection and its byte counters.
struct AcceptedConnection<Service: TCPHoneypot>: Sendable {
    let channel: NIOAsyncChannel<Service.Inbound, Service.Outbound>
    let counts: ByteCounts
    /// Succeeds once the channel is registered and active.
    let active: EventLoopFuture<Void>
    let source: Endpoint
    let destination: Endpoint
}

extension Endpoint {
    init(address: SocketAddress?) {
        self.init(ip: address?.ipAddress ?? "?", port: address?.port ?? 0)
    }
}
