import DecnetCore
import NIOCore

/// The source of an accepted connection, even when the peer reset it before it was accepted.
///
/// NIO learns a new connection's peer with `getpeername(2)`, which fails with `ENOTCONN` once the connection
/// is reset. A connect scan (`nmap -sT`, masscan's banner grab) does exactly that: handshake, then RST. The
/// kernel still holds the addresses the handshake set; `accept(2)` returns them because it asks the socket
/// layer in its "accept" mode, which skips the state check. `SO_PEERNAME` asks in the same mode, so the
/// address read here is the one `accept` gave, not a later lookup.
enum AcceptedPeer {
    /// The connection's source when NIO has its address (nearly always): no future to wait for.
    static func known(_ channel: any Channel) -> Endpoint? {
        guard let remote = channel.remoteAddress, let ip = remote.ipAddress, let port = remote.port else { return nil }
        return Endpoint(ip: ip, port: port)
    }

    /// The connection's source: NIO's address when it has one, otherwise the accept-time peer of `channel`.
    static func source(of channel: any Channel) -> EventLoopFuture<Endpoint> {
        if let known = Self.known(channel) { return channel.eventLoop.makeSucceededFuture(known) }
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(Endpoint(ip: "?", port: 0))
        }
        // The kernel refuses a buffer longer than the address (EINVAL), so ask for the listener's family's size.
        let unknown = Endpoint(ip: "?", port: 0)
        let level = SocketOptionLevel(PeerNameOption.level)
        let name = SocketOptionName(PeerNameOption.name)
        if case .v6 = channel.localAddress {
            let peer: EventLoopFuture<SocketAddress6Bytes> = provider.unsafeGetSocketOption(level: level, name: name)
            return peer.map { Endpoint(socketAddress: $0) }.recover { _ in unknown }
        }
        let peer: EventLoopFuture<SocketAddress4Bytes> = provider.unsafeGetSocketOption(level: level, name: name)
        return peer.map { Endpoint(socketAddress: $0) }.recover { _ in unknown }
    }
}
