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
        let initializer: @Sendable (any Channel) -> EventLoopFuture<AcceptedData> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let activation = ActivationHandler(eventLoop: channel.eventLoop)
                try channel.pipeline.syncOperations.addHandler(activation)
                // The peer is read at accept time: a client that uploads and closes before the transfer
                // task looks at the connection has no remote address any more.
                return AcceptedData(
                    channel: try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel),
                    peer: channel.remoteAddress?.ipAddress,
                    active: activation.active
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
        return PosixPassiveListener(server: server, peer: peer)
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
/// a transfer ever happens, so `accept` and `close` share a flag.
final class PosixPassiveListener: PassiveDataListener {
    let server: NIOAsyncChannel<AcceptedData, Never>
    let peer: String
    private let used = Mutex(false)

    init(server: NIOAsyncChannel<AcceptedData, Never>, peer: String) {
        self.server = server
        self.peer = peer
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
        defer { deadline.cancel() }
        var served = false
        do {
            try await self.server.executeThenClose { inbound in
                for try await accepted in inbound {
                    guard accepted.peer == self.peer else {
                        // Someone else raced for the port: refused, the transfer still waits for its client.
                        try? await accepted.channel.executeThenClose { _, _ in }
                        continue
                    }
                    try await accepted.channel.executeThenClose { inbound, outbound in
                        // A listing written and closed before the channel is registered would be dropped unsent.
                        try await accepted.active.get()
                        try await body(inbound, outbound)
                    }
                    served = true
                    return
                }
            }
        } catch {
            if !served { return false }
        }
        return served
    }

    func close() async {
        if self.claim() {
            try? await self.server.executeThenClose { _ in }
        } else {
            try? await self.server.channel.close()
        }
    }
}

/// A data connection and the peer address it came from, read when it was accepted.
struct AcceptedData: Sendable {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let peer: String?
    /// Succeeds once the channel is registered and active (see `ActivationHandler`).
    let active: EventLoopFuture<Void>
}
