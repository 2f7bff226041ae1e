import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs one `TCPHoneypot` on one socket: accepts connections, applies `ConnectionLimits`, binds each to a
/// `SessionEvents` and raises `connection.open`/`close`/`refused`. A connection's failure never reaches the
/// listener, and the accept loop never waits on a connection.
public struct TCPListener<Service: TCPHoneypot>: Sendable {
    public let service: Service
    public let context: ServiceContext
    public let limits: ConnectionLimits
    /// The listening sockets, one per event loop.
    private let serverChannels: [any Channel]
    private let tracker: ConnectionTracker

    /// The bound address (with the real port when 0 was asked for).
    public var localAddress: SocketAddress? { self.serverChannels.first?.localAddress }

    /// Binds `host:port` (port 0 picks a free one), in network namespace `namespace` when given (the socket is
    /// opened there by `NamespaceSocket`, the connections are served by this process's event loops), or serves
    /// `socket`, a listening socket opened already (then `port` is only the port the service is told it has).
    ///
    /// A connection is admitted, set up and served on the event loop that accepted it, with no accept loop of
    /// its own between: its task starts from its channel's activation, on its channel's loop
    /// (`EventLoopTaskExecutor`). An accept loop on the listening socket's loop handing each connection to a
    /// task group cost two hops between event loops per connection, in bench/compare.sh.
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
        let tracker = ConnectionTracker(limits: limits)
        let box = ServiceBox(service, context: context)
        func bootstrap(_ group: any EventLoopGroup) -> ServerBootstrap {
            ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // The accepted connection's options are set in its initializer, on its loop, synchronously: set
                // with `childChannelOption`, each is a chain of futures (about 15 allocations a connection).
                .childChannelInitializer { channel in
                    @Sendable func admit(_ source: Endpoint) throws {
                        try Self.admit(
                            channel,
                            source: source,
                            service: box,
                            port: port,
                            context: context,
                            limits: limits,
                            tracker: tracker
                        )
                    }
                    do {
                        try Self.setOptions(of: channel)
                        // The source as accept(2) saw it: a scanner that connects and resets at once is attributed.
                        if let source = AcceptedPeer.known(channel) {
                            try admit(source)
                            return channel.eventLoop.makeSucceededVoidFuture()
                        }
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    return AcceptedPeer.source(of: channel).flatMapThrowing(admit)
                }
        }
        // One listening socket per event loop (SO_REUSEPORT: the kernel spreads connections over them), each
        // serving its connections on its own loop.
        let loops = Array(group.makeIterator())
        var channels: [any Channel] = []
        do {
            if let socket {
                channels = [try await bootstrap(group).withBoundSocket(socket).get()]
            } else if let namespace {
                let sockets = try await NamespaceSocket.listeningTCP(
                    namespace: namespace,
                    host: host,
                    port: port,
                    count: loops.count
                )
                for (index, socket) in sockets.enumerated() {
                    do {
                        channels.append(try await bootstrap(loops[index]).withBoundSocket(socket).get())
                    } catch {
                        // The failed one is NIO's to close; the ones after it were never handed over.
                        for unused in sockets[(index + 1)...] { Glibc.close(unused) }
                        throw error
                    }
                }
            } else {
                var boundPort = port
                for loop in loops {
                    let channel = try await bootstrap(loop)
                        .serverChannelOption(
                            ChannelOptions.Types.SocketOption(
                                level: SocketOptionLevel(SOL_SOCKET),
                                name: SocketOptionName(SO_REUSEPORT)
                            ),
                            value: loops.count > 1 ? 1 : 0
                        )
                        .bind(host: host, port: boundPort).get()
                    channels.append(channel)
                    boundPort = channel.localAddress?.port ?? boundPort
                }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return TCPListener(
            service: service,
            context: context,
            limits: limits,
            serverChannels: channels,
            tracker: tracker
        )
    }

    /// An accepted connection's socket options. Reads start at 512 bytes and grow when they fill (NIO's default
    /// starts at 2,048): a connection that sends a few bytes and waits, as a slow-loris flood's do, then holds a
    /// small buffer.
    private static func setOptions(of channel: any Channel) throws {
        guard let options = channel.syncOptions else {
            throw ChannelError.operationUnsupported
        }
        try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
        try options.setOption(.allowRemoteHalfClosure, value: false)
        try options.setOption(
            .recvAllocator,
            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536)
        )
    }

    /// Admits (or refuses) one accepted connection and sets up its pipeline; its task starts once it is active.
    /// Runs on the connection's event loop.
    private static func admit(
        _ channel: any Channel,
        source: Endpoint,
        service: ServiceBox<Service>,
        port: Int,
        context: ServiceContext,
        limits: ConnectionLimits,
        tracker: ConnectionTracker
    ) throws {
        let session = SessionEvents(
            shared: service.context,
            source: source,
            destination: Endpoint(address: channel.localAddress)
        )
        let slot: Int
        switch tracker.acquire(source.ip, close: { [weak channel] in channel?.close(promise: nil) }) {
        case .refused(let limit):
            session.emit(.connectionRefused, ["limit": limit, "reason": "connection limit reached"])
            channel.close(promise: nil)
            return
        case .admitted(let admitted):
            slot = admitted
        }
        let greeting = service.service.greeting(session: session)
        let guardHandler = ConnectionGuard(limits: limits, answerWithin: greeting?.answerWithin)
        do {
            try channel.pipeline.syncOperations.addHandler(guardHandler)
            // The port as configured (0 when the system picked one), which is what per-port settings such as a
            // service context's `tlsPorts` name.
            try service.service.configure(channel, port: port)
            let bridge = ConnectionBridge<Service.Inbound>()
            try channel.pipeline.syncOperations.addHandler(bridge)
            let outbound = ConnectionOutbound<Service.Outbound>(channel: channel)
            let served = ServedConnection(
                connection: Connection(
                    inbound: ConnectionInbound(bridge),
                    outbound: outbound,
                    channel: channel,
                    greeting: greeting
                ),
                service: service,
                session: session,
                counts: guardHandler.counts,
                source: source.ip,
                slot: slot,
                tracker: tracker
            )
            guardHandler.whenActive(
                start: {
                    let started = served.opened()
                    let start: @Sendable () -> Void = {
                        Task(executorPreference: EventLoopTaskExecutor.of(channel.eventLoop)) {
                            await served.serve(started: started)
                        }
                    }
                    if let greeting {
                        // Said on the service's behalf; the task waits for the client's answer.
                        outbound.send(greeting.message)
                        let answered = NIOLoopBound(guardHandler, eventLoop: channel.eventLoop)
                        bridge.whenFirstMessage {
                            answered.value.answered()
                            start()
                        }
                    } else if Service.waitsForClient {
                        bridge.whenFirstMessage(start)
                    } else {
                        start()
                    }
                },
                abandoned: {
                    // Closed before it was ever active: nothing was served, the slot is given back.
                    tracker.release(source.ip, slot: slot)
                    tracker.ended()
                }
            )
        } catch {
            tracker.release(source.ip, slot: slot)
            tracker.ended()
            throw error
        }
    }

    private init(
        service: Service,
        context: ServiceContext,
        limits: ConnectionLimits,
        serverChannels: [any Channel],
        tracker: ConnectionTracker
    ) {
        self.service = service
        self.context = context
        self.limits = limits
        self.serverChannels = serverChannels
        self.tracker = tracker
    }

    /// Connections open right now.
    public var openConnections: Int { self.tracker.open }

    /// Connections accepted since the listener started (refused ones not counted).
    public var totalConnections: Int { self.tracker.accepted }

    /// Accepts until the task is cancelled or `close()` is called; returns when every connection has ended.
    /// Cancelled, it also closes the connections still open.
    public func run() async {
        await withTaskCancellationHandler {
            for channel in self.serverChannels { try? await channel.closeFuture.get() }
            await self.tracker.allEnded()
        } onCancel: {
            for channel in self.serverChannels { channel.close(promise: nil) }
            self.tracker.closeAll()
        }
    }

    /// Stops accepting; connections already open run on until they end.
    public func close() async {
        for channel in self.serverChannels { try? await channel.close() }
    }
}

/// One service instance shared by a listener's connections, by reference: a connection's task and its frames
/// then hold a pointer to it, not a copy of the service's configuration.
final class ServiceBox<Service: TCPHoneypot>: Sendable {
    let service: Service
    /// The context every session of the listener reads, shared.
    let context: SessionEvents.SharedContext

    init(_ service: Service, context: ServiceContext) {
        self.service = service
        self.context = SessionEvents.SharedContext(context)
    }
}

/// What one connection's task needs, in one object: the task's closure captures this alone (a closure capturing
/// each value, the service's configuration included, was 480 bytes of task memory per connection).
final class ServedConnection<Service: TCPHoneypot>: Sendable {
    let connection: Connection<Service.Inbound, Service.Outbound>
    let service: ServiceBox<Service>
    let session: SessionEvents
    let counts: ConnectionGuard.Counts
    let source: String
    let slot: Int
    let tracker: ConnectionTracker

    init(
        connection: Connection<Service.Inbound, Service.Outbound>,
        service: ServiceBox<Service>,
        session: SessionEvents,
        counts: ConnectionGuard.Counts,
        source: String,
        slot: Int,
        tracker: ConnectionTracker
    ) {
        self.connection = connection
        self.service = service
        self.session = session
        self.counts = counts
        self.source = source
        self.slot = slot
        self.tracker = tracker
    }

    /// Serves the connection to its end, then closes it (after the replies still queued are written) and raises
    /// `connection.close`.
    ///
    /// The async part holds nothing but `self`: what is built before and after (the events' fields) is built in
    /// synchronous calls, on the thread's stack. An async function keeps in its task-allocated frame every value
    /// that might live across a suspension, and a held connection keeps its frames for as long as it waits.
    func serve(started: ContinuousClock.Instant) async {
        let outcome = await self.handled()
        await self.connection.outbound.drain()
        self.closed(outcome, started: started)
    }

    /// Raises `connection.open`, when the connection becomes active; returns that moment.
    func opened() -> ContinuousClock.Instant {
        self.session.emit(.connectionOpen)
        return ContinuousClock.now
    }

    /// How the service's loop ended: "closed", "malformed" (its event raised) or "error".
    private func handled() async -> Outcome {
        do {
            try await self.service.service.handle(self.connection, session: self.session)
            return .closed
        } catch let error as ByteToMessageDecoderError.PayloadTooLargeError {
            self.malformed(error)
            return .malformed
        } catch {
            // A reset, a timeout-close mid-write: the connection is over either way.
            return .error
        }
    }

    enum Outcome: String {
        case closed, malformed, error
    }

    private func malformed(_ error: ByteToMessageDecoderError.PayloadTooLargeError) {
        self.session.emit(.clientMalformed, ["error": "request larger than the protocol allows (\(error))"])
    }

    private func closed(_ outcome: Outcome, started: ContinuousClock.Instant) {
        self.connection.channel.close(promise: nil)
        var reason = outcome.rawValue
        if self.tracker.release(self.source, slot: self.slot) { reason = "evicted" }
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        self.session.emit(
            .connectionClose,
            [
                "duration_ms": String(milliseconds),
                "bytes_in": String(self.counts.received.load(ordering: .relaxed)),
                "bytes_out": String(self.counts.sent.load(ordering: .relaxed)),
                "reason": reason,
            ]
        )
        self.session.close()
        self.tracker.ended()
    }
}

extension Endpoint {
    init(address: SocketAddress?) {
        self.init(ip: address?.ipAddress ?? "?", port: address?.port ?? 0)
    }
}
