import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// `decnet bus`: the service bus's broker on a UNIX socket (`<state>/decnet-bus.sock`, mode 0600), speaking
/// NATS's text protocol (`BusWire`), with the seed's topic hierarchy and NATS wildcards (`*`, `>`).
///
/// Fan-out is a `MessageBus`: every subscription has its own bounded queue and a task that writes it to its
/// connection as fast as that connection takes it. A publisher's `PUB` only queues, so a slow subscriber never
/// slows a publisher or another subscriber; when its queue is full it loses messages, and the loss is counted
/// per subscription and in total (`decnet bus status`).
///
/// The bus carries live notifications; the durable record of every event is the log and the store.
public final class BusBroker: Sendable {
    public struct Subscriber: Codable, Sendable, Equatable {
        public var client: String
        public var pattern: String
        public var dropped: Int
    }

    public struct Status: Codable, Sendable, Equatable {
        public var published = 0
        public var delivered = 0
        public var dropped = 0
        public var connections = 0
        public var subscribers: [Subscriber] = []
    }

    public let socketPath: String
    /// The loopback TCP address it also listens on, if asked to (for NATS clients that speak TCP only).
    public let tcpAddress: SocketAddress?
    let bus: MessageBus
    typealias Listener = NIOAsyncChannel<NIOAsyncChannel<BusWire.ClientOperation, ByteBuffer>, Never>
    let channel: Listener
    let tcpChannel: Listener?
    let registry = Mutex<(next: Int, open: Int, subscriptions: [Int: (client: String, pattern: String)])>(
        (0, 0, [:])
    )
    let log: @Sendable (String) -> Void

    private init(
        socketPath: String,
        bus: MessageBus,
        channel: Listener,
        tcpChannel: Listener?,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.socketPath = socketPath
        self.bus = bus
        self.channel = channel
        self.tcpChannel = tcpChannel
        self.tcpAddress = tcpChannel?.channel.localAddress
        self.log = log
    }

    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds the socket (replacing one a killed broker left; the caller holds the pid lock) and, when `tcp` is
    /// given, a TCP port on a loopback address as well (port 0: any free one). The UNIX socket is closed to
    /// other users (mode 0600); a TCP port is open to every local user, so it is never bound off loopback: the
    /// bus has no authentication of its own.
    public static func start(
        socketPath: String,
        tcp: (host: String, port: Int)? = nil,
        queueCapacity: Int = 10_000,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> BusBroker {
        if let tcp, !tcp.host.hasPrefix("127.") {
            throw Refused(description: "\(tcp.host): the bus listens on TCP only on loopback (127.0.0.0/8)")
        }
        try? FileManager.default.removeItem(atPath: socketPath)
        func bootstrap() -> ServerBootstrap {
            ServerBootstrap(group: group).serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        }
        @Sendable func client(
            _ channel: any Channel
        ) -> EventLoopFuture<
            NIOAsyncChannel<BusWire.ClientOperation, ByteBuffer>
        > {
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BusClientDecoder()))
                return try NIOAsyncChannel<BusWire.ClientOperation, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let channel = try await bootstrap().bind(unixDomainSocketPath: socketPath, childChannelInitializer: client)
        chmod(socketPath, 0o600)
        var tcpChannel: Listener?
        if let tcp {
            do {
                tcpChannel = try await bootstrap().bind(host: tcp.host, port: tcp.port, childChannelInitializer: client)
            } catch {
                try? await channel.channel.close()
                throw error
            }
        }
        return BusBroker(
            socketPath: socketPath,
            bus: MessageBus(queueCapacity: queueCapacity),
            channel: channel,
            tcpChannel: tcpChannel,
            log: log
        )
    }

    /// Serves connections until `close()`.
    public func run() async {
        await withDiscardingTaskGroup { listeners in
            for listener in [self.channel] + (self.tcpChannel.map { [$0] } ?? []) {
                listeners.addTask {
                    do {
                        try await withThrowingDiscardingTaskGroup { group in
                            try await listener.executeThenClose { inbound in
                                for try await connection in inbound {
                                    group.addTask { await self.serve(connection) }
                                }
                            }
                        }
                    } catch {
                        self.log("bus socket closed: \(error)")
                    }
                }
            }
        }
        try? FileManager.default.removeItem(atPath: self.socketPath)
    }

    /// A bridge carrying this broker's messages to and from an upstream NATS server (`BusBridge`).
    public func bridge(
        host: String,
        port: Int,
        identity: CertificateAuthority.Identity?,
        name: String,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> BusBridge {
        try BusBridge(bus: self.bus, host: host, port: port, identity: identity, name: name, log: log)
    }

    public func close() async {
        try? await self.channel.channel.close()
        try? await self.tcpChannel?.channel.close()
    }

    public var status: Status {
        let statistics = self.bus.statistics
        let (open, subscriptions) = self.registry.withLock { ($0.open, $0.subscriptions) }
        return Status(
            published: statistics.published,
            delivered: statistics.delivered,
            dropped: statistics.dropped,
            connections: open,
            subscribers: subscriptions.sorted { $0.key < $1.key }.map {
                Subscriber(client: $0.value.client, pattern: $0.value.pattern, dropped: self.bus.dropped(for: $0.key))
            }
        )
    }

    static let info =
        #"{"server_id":"decnet-bus","server_name":"decnet","version":"0.1.0","proto":1,"headers":false,"max_payload":\#(BusWire.maximumPayload)}"#

    private func serve(_ connection: NIOAsyncChannel<BusWire.ClientOperation, ByteBuffer>) async {
        let number = self.registry.withLock {
            $0.next += 1
            $0.open += 1
            return $0.next
        }
        var client = "client-\(number)"
        var subscriptions: [String: Int] = [:]
        defer {
            for id in subscriptions.values { self.bus.unsubscribe(id) }
            self.registry.withLock { state in
                state.open -= 1
                for id in subscriptions.values { state.subscriptions[id] = nil }
            }
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let allocator = ByteBufferAllocator()
                func send(_ operation: BusWire.ServerOperation) async throws {
                    var buffer = allocator.buffer(capacity: 64)
                    BusWire.write(operation, into: &buffer)
                    try await outbound.write(buffer)
                }
                // A client that wrote and closed before this task started still has its operations read.
                try? await send(.info(Self.info))
                var verbose = false
                try await withThrowingDiscardingTaskGroup { group in
                    do {
                        for try await operation in inbound {
                            switch operation {
                            case .connect(let json):
                                let options =
                                    (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
                                verbose = options?["verbose"] as? Bool ?? false
                                if let name = options?["name"] as? String, !name.isEmpty {
                                    client = "\(name)#\(number)"
                                }
                                if verbose { try await send(.ok) }
                            case .ping:
                                try await send(.pong)
                            case .pong:
                                break
                            case .publish(let text, _, let payload):
                                guard let subject = try? Subject(text) else {
                                    try await send(.error("Invalid Publish Subject"))
                                    continue
                                }
                                self.bus.publish(
                                    BusMessage(subject: subject, payload: Array(payload.readableBytesView))
                                )
                                if verbose { try await send(.ok) }
                            case .subscribe(let text, _, let sid):
                                guard let pattern = try? Subject.pattern(text) else {
                                    try await send(.error("Invalid Subject"))
                                    continue
                                }
                                if let old = subscriptions.removeValue(forKey: sid) { self.bus.unsubscribe(old) }
                                let subscription = self.bus.subscribe(pattern)
                                subscriptions[sid] = subscription.id
                                self.registry.withLock { $0.subscriptions[subscription.id] = (client, text) }
                                group.addTask {
                                    var buffer = allocator.buffer(capacity: 256)
                                    for await message in subscription.messages {
                                        buffer.clear()
                                        BusWire.write(
                                            .message(
                                                subject: message.subject.text,
                                                sid: sid,
                                                reply: nil,
                                                payload: ByteBuffer(bytes: message.payload)
                                            ),
                                            into: &buffer
                                        )
                                        try await outbound.write(buffer)
                                    }
                                }
                                if verbose { try await send(.ok) }
                            case .unsubscribe(let sid, _):
                                if let id = subscriptions.removeValue(forKey: sid) {
                                    self.bus.unsubscribe(id)
                                    self.registry.withLock { $0.subscriptions[id] = nil }
                                }
                                if verbose { try await send(.ok) }
                            }
                        }
                    } catch let error as BusWire.ProtocolError {
                        try? await send(.error(error.description))
                    }
                    // The client went away or broke the protocol: end its subscriptions (their tasks finish).
                    for id in subscriptions.values { self.bus.unsubscribe(id) }
                }
            }
        } catch {
            // A write to a connection that went away; its subscriptions end in the defer.
        }
    }
}
