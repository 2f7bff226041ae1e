import NIOCore
import NIOSSL

/// Placed right after a TLS handler: a client that goes away without TLS's goodbye simply closed the connection.
/// Leaving before the handshake ends (a scanner that reads RDP's Connection Confirm, or a certificate, and
/// goes) and leaving without a close_notify (most clients and tools) reach the service as errors otherwise, and
/// its connection.close would say `reason="error"` for what is an ordinary end. Any other TLS error (a client
/// that sends no TLS at all, or refuses the certificate with an alert) still goes on to the service.
final class TLSPeerLeft: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if Self.isPeerLeaving(error) { return }
        context.fireErrorCaught(error)
    }

    static func isPeerLeaving(_ error: any Error) -> Bool {
        switch error as? NIOSSLError {
        case .uncleanShutdown:
            return true
        case .handshakeFailed(.sslError(let errors)):
            return errors == [.eofDuringHandshake]
        default:
            return false
        }
    }
}
