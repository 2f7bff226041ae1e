import DecnetServiceKit
import NIOCore
import NIOPosix
import Synchronization

/// Data channels on plain sockets, in the decky's network namespace when it has one (else the process's own).
public struct PosixDataChannels: DataChannels {
    let group: any EventLoopGroup
    let namespace: String?

    public init(namespace: String? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.namespace = namespace
        self.group = group
    }

    public func listen(host: String, peer: String) async throws -> any PassiveDataListener {
        let accepted = AcceptedConnections()
        let initializer: @Sendable (any Channel) -> EventLoopFuture<AcceptedData> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let activation = ActivationHandler(eventLoop: channel.eventLoop)
                try channel.pipeline.syncOperations.addHandler(activation)
                // Wrapped at once, so an upload sent and closed before the transfer looks is buffered, not lost;
                // kept in `accepted` until a transfer takes it or the listener closes it.
                let wrapped = try accepted.wrap(channel)
                // The peer is read at accept time: a client that uploads and closes before the transfer
                // task looks at the connection has no remote address any more.
                return AcceptedData(
                    id: ObjectIdentifier(channel),
                    peer: channel.remoteAddress?.ipAddress,
                    active: activation.active,
                    refused: wrapped == nil
                )
            }
        }
        let bootstrap = ServerBootstrap(group: self.group).serverChannelOption(.backlog, value: 4)
        let server: NIOAsyncChannel<AcceptedData, Never>
        if let namespace {
            let socket = try await NamespaceSocket.listeningTCP(namespace: namespace, host: host, port: 0, backlog: 4)
            server = try await bootstrap.bind(socket, childChannelInitializer: initializer)
        } else {
            server = try await bootstrap.bind(host: host, port: 0, childChannelInitializer: initializer)
        }
        return PosixPassiveListener(server: server, peer: peer, accepted: accepted)
    }

    public func connect(
        host: String,
        port: Int,
        body:
            @Sendable (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
            -> Void
    ) async throws {
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = {
            channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let bootstrap = ClientBootstrap(group: self.group).connectTimeout(.seconds(10))
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        if let namespace {
            // Connected from inside the namespace (a blocking connect on the namespace's own thread), then
            // served by the event loops.
            let socket = try await NamespaceThread.run(namespace) {
                try NamespaceSocket.openConnectedTCP(host: host, port: port, timeout: 10)
            }
            channel = try await bootstrap.withConnectedSocket(socket, channelInitializer: initializer)
        } else {
            channel = try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
        }
        try await channel.executeThenClose { inbound, outbound in try await body(inbound, outbound) }
    }
}

/// One passive data socket. Its async wrapper must be run (`executeThenClose`) exactly once, whether or not
/// a transfer ever happens, so `accept` and `close` share a flag. Connections it accepted that no transfer took
/// (a second one, one from another address, one still queued when it closed) are closed with it.
final class PosixPassiveListener: PassiveDataListener {
    let server: NIOAsyncChannel<AcceptedData, Never>
    let peer: String
    private let accepted: AcceptedConnections
    private let used = Mutex(false)

    init(server: NIOAsyncChannel<AcceptedData, Never>, peer: String, accepted: AcceptedConnections) {
        self.server = server
        self.peer = peer
        self.accepted = accepted
    }

    /// Claims the one run of the wrapper; false if it was claimed already.
    private func claim() -> Bool {
        self.used.withLock { used in
            defer { used = true }
            return !used
        }
    }

    var port: Int { self.server.channel.localAddress?.port ?? 0 }

    func accept(
        timeout: Duration,
        body:
            @Sendable (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
            -> Void
    ) async throws -> Bool {
        guard self.claim() else { return false }
        let channel = self.server.channel
        let deadline = channel.eventLoop.scheduleTask(
            in: .nanoseconds(
                Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            )
        ) {
            channel.close(promise: nil)
        }
        var served = false
        do {
            try await self.server.executeThenClose { inbound in
                for try await accepted in inbound {
                    guard !accepted.refused, let data = self.accepted.take(accepted.id) else { continue }
                    guard accepted.peer == self.peer else {
                        // Someone else raced for the port: refused, the transfer still waits for its client.
                        try? await data.executeThenClose { _, _ in }
                        continue
                    }
                    try await data.executeThenClose { inbound, outbound in
                        // A listing written and closed before the channel is registered would be dropped unsent.
                        try await accepted.active.get()
                        try await body(inbound, outbound)
                    }
                    served = true
                    return
                }
            }
        } catch {
            // The deadline closed the listener before a connection came, or the transfer failed: not served.
        }
        deadline.cancel()
        await self.accepted.closeAll()
        return served
    }

    func close() async {
        if self.claim() {
            try? await self.server.executeThenClose { _ in }
        } else {
            try? await self.server.channel.close()
        }
        await self.accepted.closeAll()
    }
}

/// A data connection as it was accepted: which one (its wrapper waits in `AcceptedConnections`) and the peer
/// address it came from, read then.
struct AcceptedData: Sendable {
    let id: ObjectIdentifier
    let peer: String?
    /// Succeeds once the channel is registered and active (see `ActivationHandler`).
    let active: EventLoopFuture<Void>
    /// Accepted after the listener was done: closed at once, never wrapped.
    let refused: Bool
}

/// The async wrappers of a passive listener's accepted connections, from the moment each is accepted until a
/// transfer takes it or the listener closes it.
///
/// NIO traps on a wrapper dropped without `executeThenClose` ("Deinited NIOAsyncWriter without calling
/// finish()"). Handed over only through the listener's own stream, a wrapper was dropped whenever that stream
/// ended with connections still queued in it (a second connection to the port, the transfer done or timed out),
/// and the trap took the engine and every decky down: found by the soak (issue 25). Held here instead, every
/// wrapper is run exactly once: by the transfer that takes it, or by `closeAll`.
final class AcceptedConnections: Sendable {
    private struct State {
        var waiting: [ObjectIdentifier: NIOAsyncChannel<ByteBuffer, ByteBuffer>] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Wraps `channel` and keeps the wrapper; nil (and the channel closed) once the listener is done.
    /// On the channel's event loop.
    func wrap(_ channel: any Channel) throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer>? {
        try self.state.withLock { state in
            guard !state.closed else {
                channel.close(promise: nil)
                return nil
            }
            let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            state.waiting[ObjectIdentifier(channel)] = wrapped
            return wrapped
        }
    }

    /// The wrapper of an accepted connection, taken out: the caller runs it.
    func take(_ id: ObjectIdentifier) -> NIOAsyncChannel<ByteBuffer, ByteBuffer>? {
        self.state.withLock { $0.waiting.removeValue(forKey: id) }
    }

    /// Closes every connection no transfer took (running each wrapper once), and any accepted from now on.
    func closeAll() async {
        let left = self.state.withLock { state in
            state.closed = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for wrapped in left { try? await wrapped.executeThenClose { _, _ in } }
    }
}
