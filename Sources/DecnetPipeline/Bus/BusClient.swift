import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Publishes to the bus without ever waiting: `publish` queues (a bounded queue; past it messages are dropped
/// and counted) and `run()` writes the queue to the broker, connecting and reconnecting as the broker comes and
/// goes. While no broker runs, the queue holds the latest `capacity` messages' worth of the oldest and the rest
/// are counted as dropped: the bus is for live reactions, the store keeps the record.
public final class BusPublisher: Sendable {
    public let socketPath: String
    public let name: String
    private let stream: AsyncStream<BusMessage>
    private let continuation: AsyncStream<BusMessage>.Continuation
    /// `full`: a message was dropped since the last connection, so the queue is full, and stays so until a broker
    /// takes what it holds.
    private let counts = Mutex(
        (published: 0, dropped: 0, connected: false, absent: false, finishing: false, full: false)
    )

    public init(socketPath: String, name: String, capacity: Int = 10_000) {
        self.socketPath = socketPath
        self.name = name
        (self.stream, self.continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Queues a message; never blocks.
    public func publish(_ subject: Subject, _ payload: [UInt8]) {
        if case .dropped = self.continuation.yield(BusMessage(subject: subject, payload: payload)) {
            self.counts.withLock {
                $0.dropped += 1
                $0.full = true
            }
        }
    }

    /// True while no broker is connected and the queue is full: a message published now would be dropped, so a
    /// publisher may count it dropped (`dropped(_:)`) without making its payload.
    public var wouldDrop: Bool {
        self.counts.withLock { $0.full && !$0.connected }
    }

    /// Counts messages dropped without being made (see `wouldDrop`).
    public func dropped(_ count: Int) {
        self.counts.withLock { $0.dropped += count }
    }

    /// Queues `value` as JSON on `subject` (an invalid subject is dropped and counted).
    public func publish(_ subject: String, json value: some Encodable) {
        guard let subject = try? Subject(subject) else {
            self.counts.withLock { $0.dropped += 1 }
            return
        }
        if self.wouldDrop { return self.dropped(1) }
        guard let payload = self.encoded(value) else { return }
        self.publish(subject, payload)
    }

    /// `value` as the JSON payload the bus carries (sorted keys, ISO 8601 dates); nil, counted as dropped,
    /// when it cannot be encoded.
    public func encoded(_ value: some Encodable) -> [UInt8]? {
        guard let data = try? BusPublisher.encoder.encode(value) else {
            self.counts.withLock { $0.dropped += 1 }
            return nil
        }
        return Array(data)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public var statistics: (published: Int, dropped: Int, connected: Bool) {
        self.counts.withLock { ($0.published, $0.dropped, $0.connected) }
    }

    /// No more messages; `run()` returns once the queue is written (or the broker is gone).
    public func finish() {
        self.counts.withLock { $0.finishing = true }
        self.continuation.finish()
    }

    /// Finishes, gives `running` (the task of `run()`) up to `grace` to connect and write what is queued, then
    /// cancels it. When the last attempt found no broker, it cancels at once: a missing broker never holds up
    /// an exit.
    public func close(running: Task<Void, Never>, grace: Duration = .seconds(2)) async {
        self.finish()
        if !self.counts.withLock({ $0.absent }) {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await running.value }
                group.addTask { try? await Task.sleep(for: grace) }
                await group.next()
                // Cancelled here, not after the group: the group waits for its task awaiting `running`.
                running.cancel()
                group.cancelAll()
            }
        }
        running.cancel()
        await running.value
    }

    /// Writes queued messages to the broker until `finish()` (or cancellation).
    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async {
        var iterator = self.stream.makeAsyncIterator()
        var pending: BusMessage?
        while !Task.isCancelled {
            let connection: NIOAsyncChannel<BusWire.ServerOperation, ByteBuffer>
            do {
                connection = try await BusConnection.connect(self.socketPath, name: self.name, group: group)
            } catch {
                // No broker: keep queueing (and dropping past the limit) and try again shortly.
                let finishing = self.counts.withLock {
                    $0.absent = true
                    return $0.finishing
                }
                if finishing { return }  // nothing more will come, and nobody is there to take what is queued
                do { try await Task.sleep(for: .milliseconds(500)) } catch { return }
                continue
            }
            self.counts.withLock {
                $0.connected = true
                $0.absent = false
                $0.full = false
            }
            let finished: Bool
            do {
                finished = try await connection.executeThenClose { inbound, outbound in
                    var buffer = ByteBuffer()
                    while true {
                        let message: BusMessage
                        if let waiting = pending {
                            message = waiting
                        } else if let next = await iterator.next() {
                            message = next
                        } else {
                            // Closing straight after the last write could lose it: a broker that has not yet
                            // started on the connection finds it closed and never reads what waits in the socket.
                            try await BusConnection.flush(inbound, outbound)
                            return true
                        }
                        pending = message
                        buffer.clear()
                        BusWire.publish(message, into: &buffer)
                        try await outbound.write(buffer)
                        pending = nil
                        self.counts.withLock { $0.published += 1 }
                    }
                }
            } catch {
                finished = false
            }
            self.counts.withLock { $0.connected = false }
            if finished { return }
        }
    }
}

/// Connecting to the broker and listening.
public enum BusConnection {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static func connect(
        _ socketPath: String,
        name: String,
        group: any EventLoopGroup
    ) async throws -> NIOAsyncChannel<BusWire.ServerOperation, ByteBuffer> {
        let connection = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: socketPath) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BusServerDecoder()))
                return try NIOAsyncChannel<BusWire.ServerOperation, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        var buffer = ByteBuffer()
        BusWire.write(
            .connect(#"{"verbose":false,"pedantic":false,"name":"\#(name)","lang":"swift","version":"0.1.0"}"#),
            into: &buffer
        )
        try await connection.channel.writeAndFlush(buffer)
        return connection
    }

    /// Publishes one message and returns once the broker has taken it: a PING follows the PUB, and the broker
    /// reads a connection's operations in order, so its PONG means the message was published (a NATS client's
    /// flush). Throws when no broker answers, it refuses the message, or `timeout` passes first.
    public static func publishConfirmed(
        _ socketPath: String,
        _ message: BusMessage,
        name: String,
        timeout: Duration = .seconds(10),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws {
        let connection = try await Self.connect(socketPath, name: name, group: group)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await connection.executeThenClose { inbound, outbound in
                    var buffer = ByteBuffer()
                    BusWire.publish(message, into: &buffer)
                    try await Self.flush(inbound, outbound, after: buffer)
                }
            }
            tasks.addTask {
                try await Task.sleep(for: timeout)
                connection.channel.close(promise: nil)
                throw Failure(description: "the broker did not confirm the message within \(timeout)")
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }

    /// Writes `written` and a PING, and returns at the PONG: the broker reads a connection's operations in order,
    /// so the PONG means it has taken everything before it (a NATS client's flush). Answers the broker's PINGs
    /// meanwhile; throws when the broker refuses an operation (-ERR) or closes first.
    static func flush(
        _ inbound: NIOAsyncChannelInboundStream<BusWire.ServerOperation>,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        after written: ByteBuffer = ByteBuffer()
    ) async throws {
        var buffer = written
        BusWire.write(BusWire.ClientOperation.ping, into: &buffer)
        try await outbound.write(buffer)
        for try await operation in inbound {
            switch operation {
            case .pong:
                return
            case .error(let text):
                throw Failure(description: "the broker refused the message: \(text)")
            case .ping:
                var pong = ByteBuffer()
                BusWire.write(BusWire.ClientOperation.pong, into: &pong)
                try await outbound.write(pong)
            case .info, .ok, .message:
                continue
            }
        }
        throw Failure(description: "the broker closed the connection before confirming the message")
    }

    /// Messages on `pattern`, as they come, until the broker goes away or the task is cancelled.
    public static func subscribe(
        _ socketPath: String,
        pattern: String,
        name: String = "decnet-bus-sub",
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (String, ByteBuffer) async throws -> Bool
    ) async throws {
        _ = try Subject.pattern(pattern)
        let connection = try await Self.connect(socketPath, name: name, group: group)
        try await connection.executeThenClose { inbound, outbound in
            var buffer = ByteBuffer()
            BusWire.write(.subscribe(subject: pattern, queue: nil, sid: "1"), into: &buffer)
            BusWire.write(BusWire.ClientOperation.ping, into: &buffer)
            try await outbound.write(buffer)
            for try await operation in inbound {
                switch operation {
                case .message(let subject, _, _, let payload):
                    guard try await body(subject, payload) else { return }
                case .ping:
                    var pong = ByteBuffer()
                    BusWire.write(BusWire.ClientOperation.pong, into: &pong)
                    try await outbound.write(pong)
                case .error(let message):
                    throw Failure(description: "the broker says: \(message)")
                case .info, .pong, .ok:
                    break
                }
            }
        }
    }
}
