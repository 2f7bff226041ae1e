import NIOCore
import Synchronization

/// The last handler of an accepted connection's pipeline: holds the decoded messages the connection's task has
/// not read yet and hands them to it (`ConnectionInbound`), and is what `ConnectionOutbound` writes through.
///
/// It replaces `NIOAsyncChannel` for honeypot connections because a connection that waits is what a flood holds
/// thousands of. `NIOAsyncChannel` keeps a producer, a writer, their state machines and a handler per channel,
/// and its `next()` suspends five async frames deep (with a cancellation handler): about 1.8 KB of the task's
/// frames and 1.5 KB of objects per waiting connection (heaptrack and a uprobe on `swift_task_alloc` under
/// bench/compare.sh's slow-loris flood). Here a waiting connection holds this handler, a few buffered messages and
/// one continuation.
///
/// Backpressure: past `highWatermark` unread messages, the handler holds back the channel's `read()` until the
/// task has read them down to `lowWatermark`. A decoder error (a frame over the protocol's limit) is thrown from
/// `next()` after the messages decoded before it; the end of the connection ends the sequence.
public final class ConnectionBridge<Inbound: Sendable>: ChannelDuplexHandler, @unchecked Sendable {
    public typealias InboundIn = Inbound
    public typealias OutboundIn = Never

    private struct State {
        var buffer: CircularBuffer<Inbound> = CircularBuffer(initialCapacity: 1)
        var waiter: CheckedContinuation<Inbound?, any Error>?
        var error: (any Error)?
        var ended = false
        var readHeld = false
        var context: NIOLoopBound<ChannelHandlerContext>?
        /// Run once, at the first message or at the end, whichever comes first.
        var onFirst: (@Sendable () -> Void)?
    }

    // The connection's task usually runs on the channel's event loop, but nothing here depends on it.
    private let state = Mutex(State())
    private let highWatermark: Int
    private let lowWatermark: Int

    public init(highWatermark: Int = 16, lowWatermark: Int = 4) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
    }

    /// Runs `body` at the first message (after it is buffered) or at the end of the connection, whichever comes
    /// first: how a client-speaks-first service's task is started only once there is something to serve.
    public func whenFirstMessage(_ body: @escaping @Sendable () -> Void) {
        let now = self.state.withLock { state -> Bool in
            if state.ended || !state.buffer.isEmpty { return true }
            state.onFirst = body
            return false
        }
        if now { body() }
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.state.withLock { $0.context = bound }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.end(error: nil)
        self.state.withLock { $0.context = nil }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = Self.unwrapInboundIn(data)
        let waiter = self.state.withLock { state -> CheckedContinuation<Inbound?, any Error>? in
            guard !state.ended else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(message)
            return nil
        }
        waiter?.resume(returning: message)
        self.first()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.end(error: nil)
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.end(error: error)
        context.fireErrorCaught(error)
    }

    public func read(context: ChannelHandlerContext) {
        let hold = self.state.withLock { state -> Bool in
            if state.buffer.count >= self.highWatermark {
                state.readHeld = true
                return true
            }
            return false
        }
        if !hold { context.read() }
    }

    private func first() {
        let first = self.state.withLock { state -> (@Sendable () -> Void)? in
            defer { state.onFirst = nil }
            return state.onFirst
        }
        first?()
    }

    private func end(error: (any Error)?) {
        defer { self.first() }
        let waiter = self.state.withLock { state -> CheckedContinuation<Inbound?, any Error>? in
            guard !state.ended else { return nil }
            state.ended = true
            state.error = error
            defer { state.waiter = nil }
            return state.waiter
        }
        guard let waiter else { return }
        if let error {
            self.state.withLock { $0.error = nil }
            waiter.resume(throwing: error)
        } else {
            waiter.resume(returning: nil)
        }
    }

    private enum Immediate {
        case message(Inbound, resumeReading: NIOLoopBound<ChannelHandlerContext>?)
        case end((any Error)?)
        case wait
    }

    /// The next message, nil at the end of the connection; throws the error that ended it.
    func next() async throws -> Inbound? {
        let immediate = self.state.withLock { state -> Immediate in
            if let message = state.buffer.popFirst() {
                var resume: NIOLoopBound<ChannelHandlerContext>?
                if state.readHeld && state.buffer.count <= self.lowWatermark {
                    state.readHeld = false
                    resume = state.context
                }
                return .message(message, resumeReading: resume)
            }
            if state.ended {
                defer { state.error = nil }
                return .end(state.error)
            }
            return .wait
        }
        switch immediate {
        case .message(let message, let resume):
            if let resume { Self.read(resume) }
            return message
        case .end(let error):
            if let error { throw error }
            return nil
        case .wait:
            return try await withCheckedThrowingContinuation { waiter in
                let now = self.state.withLock { state -> Result<Inbound?, any Error>? in
                    // Something may have arrived between the check above and now.
                    if let message = state.buffer.popFirst() { return .success(message) }
                    if state.ended {
                        defer { state.error = nil }
                        return state.error.map { .failure($0) } ?? .success(nil)
                    }
                    state.waiter = waiter
                    return nil
                }
                if let now { waiter.resume(with: now) }
            }
        }
    }

    /// Asks the channel for more bytes, on its event loop.
    private static func read(_ context: NIOLoopBound<ChannelHandlerContext>) {
        if context.eventLoop.inEventLoop {
            context.value.read()
        } else {
            context.eventLoop.execute { context.value.read() }
        }
    }
}

/// A connection's decoded messages, in order, as an async sequence (what `NIOAsyncChannelInboundStream` was).
public struct ConnectionInbound<Element: Sendable>: AsyncSequence, Sendable {
    let bridge: ConnectionBridge<Element>

    public init(_ bridge: ConnectionBridge<Element>) { self.bridge = bridge }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let bridge: ConnectionBridge<Element>

        public mutating func next() async throws -> Element? { try await self.bridge.next() }

        /// What `for try await` calls: straight to the bridge (the protocol's default wraps `next()` in a frame of
        /// its own, which a waiting connection keeps).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> Element? {
            try await self.bridge.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bridge: self.bridge) }
}

/// Writes a connection's replies (what `NIOAsyncChannelOutboundWriter` was): each write is flushed at once.
///
/// A write does not wait for the socket unless the channel has stopped being writable (the peer does not read):
/// then it waits until that write is done, which is the backpressure a slow reader gets. A write to a connection
/// already closed throws. `drain()` waits for the writes still queued before the runtime closes the channel.
public struct ConnectionOutbound<Element: Sendable>: Sendable {
    let channel: any Channel
    let pending: PendingWrites

    public init(channel: any Channel) {
        self.channel = channel
        self.pending = PendingWrites()
    }

    public func write(_ element: Element) async throws {
        guard self.channel.isActive else { throw ChannelError.ioOnClosedChannel }
        let promise = self.channel.eventLoop.makePromise(of: Void.self)
        self.channel.writeAndFlush(element, promise: promise)
        let written = promise.futureResult
        self.pending.last.withLock { $0 = written }
        if !self.channel.isWritable { try await written.get() }
    }

    /// Writes without waiting (the runtime's greeting, sent from the event loop before the task exists).
    public func send(_ element: Element) {
        let promise = self.channel.eventLoop.makePromise(of: Void.self)
        self.channel.writeAndFlush(element, promise: promise)
        self.pending.last.withLock { $0 = promise.futureResult }
    }

    public func write<Elements: Sequence<Element>>(contentsOf elements: Elements) async throws {
        for element in elements { try await self.write(element) }
    }

    /// Returns once every write made so far is done (or failed).
    public func drain() async {
        let last = self.pending.last.withLock { $0 }
        _ = try? await last?.get()
    }

    /// The last write's future: writes complete in order, so it completing means all have.
    final class PendingWrites: Sendable {
        let last = Mutex<EventLoopFuture<Void>?>(nil)
    }
}
