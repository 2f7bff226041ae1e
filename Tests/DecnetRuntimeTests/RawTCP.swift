import NIOCore
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sends raw bytes to a service and collects what comes back until the server closes or `timeout` passes:
/// the way to feed a service input no real client would send.
enum RawTCP {
    /// A blocking socket connected to 127.0.0.1:`port`, for tests that need the socket itself (its local port,
    /// SO_LINGER, a byte at a time); the caller closes it.
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if connected != 0 { close(fd) }
        try #require(connected == 0, "connect: \(String(cString: strerror(errno)))")
        return fd
    }

    static func exchange(
        host: String = "127.0.0.1",
        port: Int,
        send: [UInt8],
        timeout: TimeAmount = .seconds(5)
    ) async throws -> (bytes: [UInt8], closedByServer: Bool) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let timedOut = TimeoutFlag()
        let deadline = channel.channel.eventLoop.scheduleTask(in: timeout) {
            timedOut.value.store(true, ordering: .relaxed)
            channel.channel.close(promise: nil)
        }
        var received: [UInt8] = []
        try? await channel.executeThenClose { inbound, outbound in
            try? await outbound.write(ByteBuffer(bytes: send))
            for try await chunk in inbound { received += chunk.readableBytesView }
        }
        deadline.cancel()
        // An end we did not cause (EOF or a reset) is the server closing.
        return (received, !timedOut.value.load(ordering: .relaxed))
    }
}

/// Set when the exchange's own deadline closed the connection.
final class TimeoutFlag: Sendable {
    let value = Atomic<Bool>(false)
}
