import NIOCore
import Synchronization

/// The one handler every accepted connection starts with: counts its bytes, closes it when it has sent nothing
/// for `idleTimeout`, lived `sessionTimeout` or left a greeting unanswered past `answerWithin`, and starts its
/// task once the channel is active.
///
/// One handler and one timer instead of four handlers (counting, `IdleStateHandler`, closing on idle,
/// activation) and two timers: a held connection (a slow-loris flood holds thousands) costs memory for each
/// handler, its pipeline context and each scheduled task. The timer is set for the nearer of the two deadlines
/// and, when it fires early because bytes came in meanwhile, set again; nothing is done per read but noting the
/// time.
///
/// The task starts from `channelActive`: NIO runs a child channel's initializer before registering the channel,
/// and a connection that writes and closes at once (an FTP data connection sending a listing, a refusal sent
/// before reading) would lose its bytes if its close reached the event loop before the registration. Seen on a
/// loaded machine: curl's anonymous FTP listing arrived empty, the server having sent 226.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes in and out, read by the connection's task for its `connection.close` event.
    final class Counts: Sendable {
        let received = Atomic<Int>(0)
        let sent = Atomic<Int>(0)
    }

    let counts = Counts()
    private let idleTimeout: TimeAmount
    private let sessionTimeout: TimeAmount
    private var lastRead = NIODeadline.now()
    private var sessionEnd = NIODeadline.distantFuture
    /// A greeting's answer is due by then (`Greeting.answerWithin`); cleared by `answered()`, at the first
    /// complete message: bytes that never make one (a slow-loris flood's) do not put it off.
    private let answerWithin: TimeAmount?
    private var answerDue = NIODeadline.distantFuture
    private var timer: Scheduled<Void>?
    private var start: (() -> Void)?
    private var abandoned: (() -> Void)?

    init(limits: ConnectionLimits, answerWithin: TimeAmount? = nil) {
        self.idleTimeout = limits.idleTimeout
        self.sessionTimeout = limits.sessionTimeout
        self.answerWithin = answerWithin
    }

    /// `start` runs once the channel is active; `abandoned` instead, if it closes before.
    func whenActive(start: @escaping () -> Void, abandoned: @escaping () -> Void) {
        self.start = start
        self.abandoned = abandoned
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        self.lastRead = now
        self.sessionEnd = now + self.sessionTimeout
        if let answerWithin = self.answerWithin { self.answerDue = now + answerWithin }
        self.arm(context: context)
        if context.channel.isActive { self.activate() }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.activate()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.counts.received.add(Self.unwrapInboundIn(data).readableBytes, ordering: .relaxed)
        self.lastRead = .now()
        context.fireChannelRead(data)
    }

    /// The greeting has its answer: the connection's task has started and keeps its own deadlines.
    func answered() {
        self.answerDue = .distantFuture
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.counts.sent.add(Self.unwrapOutboundIn(data).readableBytes, ordering: .relaxed)
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.disarm()
        self.abandon()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.disarm()
        self.abandon()
    }

    private func activate() {
        guard let start = self.start else { return }
        self.start = nil
        self.abandoned = nil
        start()
    }

    private func abandon() {
        guard let abandoned = self.abandoned else { return }
        self.start = nil
        self.abandoned = nil
        abandoned()
    }

    private func disarm() {
        self.timer?.cancel()
        self.timer = nil
    }

    private func arm(context: ChannelHandlerContext) {
        let due = min(self.lastRead + self.idleTimeout, self.sessionEnd, self.answerDue)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: due) {
            let (handler, context) = loopBound.value
            handler.fire(context: context)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        self.timer = nil
        let now = NIODeadline.now()
        if now >= self.sessionEnd || now >= self.lastRead + self.idleTimeout || now >= self.answerDue {
            context.close(promise: nil)
        } else {
            self.arm(context: context)
        }
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
