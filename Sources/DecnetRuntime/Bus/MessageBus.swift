import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import Synchronization

/// One message on the bus.
public struct BusMessage: Sendable, Equatable {
    public var subject: Subject
    public var payload: [UInt8]
    /// It came from another host's bus through an upstream NATS server (`BusBridge`): it is delivered here and
    /// never sent back up.
    public var relayed: Bool

    public init(subject: Subject, payload: [UInt8], relayed: Bool = false) {
        self.subject = subject
        self.payload = payload
        self.relayed = relayed
    }
}

/// The service bus's core: subscriptions by pattern, each with its own bounded queue. Publishing never waits: a
/// subscriber whose queue is full loses the message, and the loss is counted against it (and in the total), so
/// one slow subscriber never slows a publisher or another subscriber.
public final class MessageBus: Sendable {
    public struct Subscription: Sendable {
        public let id: Int
        public let pattern: Subject
        public let messages: AsyncStream<BusMessage>
    }

    public struct Statistics: Sendable, Equatable {
        public var published = 0
        public var delivered = 0
        public var dropped = 0
        public var subscriptions = 0
    }

    private struct Subscriber {
        let pattern: Subject
        let continuation: AsyncStream<BusMessage>.Continuation
        var dropped = 0
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var next = 0
        var statistics = Statistics()
    }

    private let state = Mutex(State())
    /// Messages a subscriber may have waiting.
    public let queueCapacity: Int

    public init(queueCapacity: Int = 10_000) {
        self.queueCapacity = queueCapacity
    }

    /// Listens on `pattern` until `unsubscribe` (or the stream is dropped), with up to `capacity` messages
    /// waiting (default: the bus's).
    public func subscribe(_ pattern: Subject, capacity: Int? = nil) -> Subscription {
        let (stream, continuation) = AsyncStream.makeStream(
            of: BusMessage.self,
            bufferingPolicy: .bufferingOldest(max(1, capacity ?? self.queueCapacity))
        )
        let id = self.state.withLock { state in
            let id = state.next
            state.next += 1
            state.subscribers[id] = Subscriber(pattern: pattern, continuation: continuation)
            state.statistics.subscriptions = state.subscribers.count
            return id
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return Subscription(id: id, pattern: pattern, messages: stream)
    }

    public func unsubscribe(_ id: Int) {
        let removed = self.state.withLock { state -> Subscriber? in
            let removed = state.subscribers.removeValue(forKey: id)
            state.statistics.subscriptions = state.subscribers.count
            return removed
        }
        removed?.continuation.finish()
    }

    /// Delivers `message` to every matching subscriber's queue; returns how many took it.
    @discardableResult
    public func publish(_ message: BusMessage) -> Int {
        self.state.withLock { state in
            state.statistics.published += 1
            var taken = 0
            for (id, subscriber) in state.subscribers where subscriber.pattern.matches(message.subject) {
                if case .dropped = subscriber.continuation.yield(message) {
                    state.subscribers[id]?.dropped += 1
                    state.statistics.dropped += 1
                } else {
                    taken += 1
                }
            }
            state.statistics.delivered += taken
            return taken
        }
    }

    public var statistics: Statistics { self.state.withLock { $0.statistics } }

    /// Messages subscription `id` lost to a full queue.
    public func dropped(for id: Int) -> Int { self.state.withLock { $0.subscribers[id]?.dropped ?? 0 } }
}

extension BusWire {
    /// `message` as a `PUB` (the wire format lives in DecnetServiceKit, below the bus, so that the fuzz driver
    /// reaches its decoders without linking this module: docs/fuzzing.md, "Known gap").
    public static func publish(_ message: BusMessage, into buffer: inout ByteBuffer) {
        Self.write(
            .publish(subject: message.subject.text, reply: nil, payload: ByteBuffer(bytes: message.payload)),
            into: &buffer
        )
    }
}
