import NIOCore

/// Extra connections a protocol opens besides its control connection (FTP's data channel). The runtime
/// implements it, so the sockets live where the decky lives (its network namespace, its address).
public protocol DataChannels: Sendable {
    /// Listens on an ephemeral port of `host` for one connection from `peer` (others are refused, as vsftpd's
    /// `pasv_promiscuous=NO` does).
    func listen(host: String, peer: String) async throws -> any PassiveDataListener

    /// Connects to `host:port` (FTP active mode) and runs `body` on the connection, then closes it.
    func connect(
        host: String,
        port: Int,
        body:
            @Sendable (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
            -> Void
    ) async throws
}

/// A listening data socket waiting for its one connection.
public protocol PassiveDataListener: Sendable {
    var port: Int { get }

    /// Waits up to `timeout` for the connection and runs `body` on it; false when none came.
    func accept(
        timeout: Duration,
        body:
            @Sendable (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
            -> Void
    ) async throws -> Bool

    func close() async
}

/// For contexts without a network (unit tests): every attempt fails.
public struct NoDataChannels: DataChannels {
    public struct Unavailable: Error {}

    public init() {}

    public func listen(host: String, peer: String) async throws -> any PassiveDataListener { throw Unavailable() }

    public func connect(
        host: String,
        port: Int,
        body:
            @Sendable (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
            -> Void
    ) async throws { throw Unavailable() }
}
