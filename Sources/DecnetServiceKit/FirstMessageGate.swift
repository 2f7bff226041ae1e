import NIOCore

/// Holds a connection's first bytes until they make the client's first message (as `isComplete` judges them),
/// then passes them on in one read and everything after as it comes. What it held is still passed on when the
/// connection ends.
///
/// For a service that speaks first (`TCPHoneypot.greeting(session:)`): the runtime starts a connection's task at
/// its first message, and without a gate that is the first byte. A slow-loris flood that sends part of a
/// first message and stops (`SSH-2.0-Open`, `RFB 003.0`) then held a task and the service's state per
/// connection: ssh 14.4 KiB, vnc 7.8. Held here, such a connection costs this handler and the bytes it sent.
/// The greeting's answer deadline (`Greeting.answerWithin`) still runs until the first message.
public final class FirstMessageGate: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let isComplete: (ByteBufferView) -> Bool
    private var pending: ByteBuffer?
    private var open = false

    /// `isComplete` is true once the bytes held make a first message, or once the service would answer them
    /// anyway (a refusal): then they are passed on.
    public init(isComplete: @escaping (ByteBufferView) -> Bool) {
        self.isComplete = isComplete
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.open else { return context.fireChannelRead(data) }
        var bytes = Self.unwrapInboundIn(data)
        if self.pending == nil {
            // A copy of the size sent: the read buffer the bytes came in is larger, and would be held with them.
            self.pending = context.channel.allocator.buffer(capacity: bytes.readableBytes)
        }
        self.pending!.writeBuffer(&bytes)
        if self.isComplete(self.pending!.readableBytesView) { self.release(context: context) }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        // An unfinished message is still the service's to see (and the session's to record) before the end.
        self.release(context: context)
        context.fireChannelInactive()
    }

    private func release(context: ChannelHandlerContext) {
        self.open = true
        guard let pending = self.pending else { return }
        self.pending = nil
        context.fireChannelRead(Self.wrapInboundOut(pending))
    }
}
