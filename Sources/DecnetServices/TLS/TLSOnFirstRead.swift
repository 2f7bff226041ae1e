import NIOCore
import NIOSSL

/// StartTLS without a TLS session until the client sends: put where the TLS handlers go, it puts the sniffer,
/// the TLS handler and `TLSPeerLeft` in its own place when the first bytes arrive, passes them on to them, and
/// leaves. A client that reads the answer sent in the clear and goes (an RDP scanner after the Connection
/// Confirm, as most are) costs no TLS session: making and freeing one (SSL_new, its buffers, the handler's
/// setup and teardown) was about 8 % of such a connection's CPU in bench/compare.sh's rdp workload.
final class TLSOnFirstRead: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let tls: NIOSSLContext
    private let sniffer: ClientHelloSniffer

    init(context: NIOSSLContext, sniffer: ClientHelloSniffer) {
        self.tls = context
        self.sniffer = sniffer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let sync = context.pipeline.syncOperations
        do {
            // Each right after this handler, so they end up in the order sniffer, TLS, TLSPeerLeft.
            try sync.addHandler(TLSPeerLeft(), position: .after(self))
            try sync.addHandler(NIOSSLServerHandler(context: self.tls), position: .after(self))
            try sync.addHandler(self.sniffer, position: .after(self))
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        sync.removeHandler(context: context, promise: nil)
    }
}
