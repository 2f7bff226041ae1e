import NIOCore
import Synchronization

/// Sits in front of the TLS handler and reads the ClientHello as it passes, changing nothing: every byte goes on
/// unchanged and at once. After the first record (or 16 KiB) it stops looking.
final class ClientHelloSniffer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let maximumRecord = 16 * 1024 + 5

    private struct State {
        var buffer: [UInt8] = []
        var done = false
        var hello: TLSClientHello?
    }

    private let state = Mutex(State())

    /// The parsed hello, once it has passed.
    var hello: TLSClientHello? { self.state.withLock { $0.hello } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Self.unwrapInboundIn(data).readableBytesView
        self.state.withLock { state in
            guard !state.done else { return }
            state.buffer.append(contentsOf: bytes.prefix(Self.maximumRecord - state.buffer.count))
            if let needed = TLSClientHello.neededLength(state.buffer) {
                if state.buffer.count >= needed || needed > Self.maximumRecord
                    || state.buffer.count >= Self.maximumRecord
                {
                    state.hello = TLSClientHello(record: Array(state.buffer.prefix(needed)))
                    state.done = true
                    state.buffer = []
                }
            }
        }
        context.fireChannelRead(data)
    }
}
