import NIOCore
import NIOPosix
import Synchronization

/// Sends raw bytes to a service and collects what comes back until the server closes or `timeout` passes:
/// the way to feed a service input no real client would send.
enum RawTCP {
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
