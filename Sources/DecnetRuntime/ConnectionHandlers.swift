import NIOCore
import Synchronization

/// Closes the channel when `IdleStateHandler` reports it idle.
final class IdleCloseHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Bytes in and out of one connection, for its `connection.close` event.
final class ByteCounts: Sendable {
    let received = Atomic<Int>(0)
    let sent = Atomic<Int>(0)
}

/// Counts bytes at the front of the pipeline.
final class ByteCountingHandler: ChannelDuplexHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let counts: ByteCounts

    init(counts: ByteCounts) { self.counts = counts }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.counts.received.add(Self.unwrapInboundIn(data).readableBytes, ordering: .relaxed)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.counts.sent.add(Self.unwrapOutboundIn(data).readableBytes, ordering: .relaxed)
        context.write(data, promise: promise)
    }
}

/// Tells when an accepted channel has become active (registered with its event loop).
///
/// NIO's async `ServerBootstrap` hands an accepted channel to the accept loop as soon as its initializer ran, and
/// registers it afterwards, on its event loop. Bytes written before then wait, and are flushed on activation; but a
/// close that reaches the event loop before the registration does drops them unsent. A connection that writes and
/// closes at once (an FTP data connection sending a listing, a refusal sent before reading) waits for `active`
/// first. Seen on a loaded machine: curl's anonymous FTP listing arrived empty, the server having sent 226.
final class ActivationHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    private let promise: EventLoopPromise<Void>

    /// Succeeds when the channel is active; fails if it closes first.
    var active: EventLoopFuture<Void> { self.promise.futureResult }

    init(eventLoop: any EventLoop) {
        self.promise = eventLoop.makePromise()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.promise.succeed() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.promise.succeed()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.promise.fail(ChannelError.ioOnClosedChannel)
    }
}
