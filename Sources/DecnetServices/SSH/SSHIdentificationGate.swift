import NIOCore

/// Holds a connection's first bytes until the client's identification line is complete (or until sshd would
/// refuse it), then passes them on in one read and everything after as it comes.
///
/// The runtime starts a connection's task at its first message; without the gate that was the first byte, and a
/// slow-loris flood that sends `SSH-2.0-Open` and stops held a task and a transport (its buffers, its key
/// exchange state) per connection: 14.4 KiB each. Held here, such a connection costs this handler and the bytes
/// it has sent. sshd's LoginGraceTime still closes it: the runtime's answer deadline runs until the first message.
final class SSHIdentificationGate: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var pending: ByteBuffer?
    private var open = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.open else { return context.fireChannelRead(data) }
        var bytes = Self.unwrapInboundIn(data)
        if self.pending == nil {
            // A copy of the size sent: the read buffer the bytes came in is larger, and would be held with them.
            self.pending = context.channel.allocator.buffer(capacity: bytes.readableBytes)
        }
        self.pending!.writeBuffer(&bytes)
        // Released at the line's end, or at once when sshd would refuse what came (the transport answers it).
        let decided: Bool
        do {
            decided = try SSHWire.identificationEnd(self.pending!.readableBytesView) != nil
        } catch {
            decided = true
        }
        if decided { self.release(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // An unfinished line is still the transport's to see (and the session's to record) before the end.
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
