import NIOCore
import NIOSSL

/// TLS inside TDS (MS-TDS 3.2.5.2 and 3.3.5.2): during the handshake the TLS records travel in PRELOGIN packets
/// (type 0x12) both ways; after it they travel bare. This handler sits in front of the TLS handler and wraps and
/// unwraps accordingly. The handshake ends, for it, when the client's first bare record arrives (its LOGIN7 as
/// application data): until then everything the server writes is handshake and gets wrapped.
final class TDSTLSFramer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The packet size SQL Server uses before a login.
    static let packetSize = 4096

    private var handshaking = true
    private var pending = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        guard self.handshaking else {
            context.fireChannelRead(data)
            return
        }
        self.pending.writeBuffer(&bytes)
        while self.handshaking, let type = self.pending.getInteger(at: self.pending.readerIndex, as: UInt8.self) {
            if type == 0x12 {
                guard let length = self.pending.getInteger(at: self.pending.readerIndex + 2, as: UInt16.self) else {
                    return
                }
                guard length >= 8 else {
                    // Not a packet a client sends: pass it on for the TLS handler to refuse.
                    self.handshaking = false
                    break
                }
                guard self.pending.readableBytes >= Int(length) else { return }
                self.pending.moveReaderIndex(forwardBy: 8)
                let record = self.pending.readSlice(length: Int(length) - 8)!
                context.fireChannelRead(Self.wrapInboundOut(record))
            } else {
                // A bare TLS record (or junk): the handshake is over as far as the wrapping goes.
                self.handshaking = false
            }
        }
        if !self.handshaking && self.pending.readableBytes > 0 {
            let rest = self.pending
            self.pending = ByteBuffer()
            context.fireChannelRead(Self.wrapInboundOut(rest))
        }
        self.pending.discardReadBytes()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard self.handshaking else {
            context.write(data, promise: promise)
            return
        }
        var bytes = Self.unwrapOutboundIn(data)
        var out = context.channel.allocator.buffer(capacity: bytes.readableBytes + 16)
        repeat {
            let chunk = bytes.readSlice(length: min(bytes.readableBytes, Self.packetSize - 8))!
            let last = bytes.readableBytes == 0
            out.writeBytes([0x12, last ? 0x01 : 0x00])
            out.writeInteger(UInt16(chunk.readableBytes + 8))
            out.writeBytes([0x00, 0x00, 0x00, 0x00])
            out.writeImmutableBuffer(chunk)
        } while bytes.readableBytes > 0
        context.write(Self.wrapOutboundOut(out), promise: promise)
    }
}

enum TDSTLS {
    /// Writes the PRELOGIN response in the clear, then puts the framer, a ClientHello sniffer and the TLS handler in
    /// front, in one event-loop turn (the client starts its handshake only once it has the response).
    static func start(
        _ channel: any Channel,
        context: NIOSSLContext,
        after reply: [UInt8]
    ) async throws
        -> ClientHelloSniffer
    {
        try await channel.eventLoop.submit {
            channel.writeAndFlush(ByteBuffer(bytes: reply), promise: nil)
            let sniffer = ClientHelloSniffer()
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(TLSPeerLeft(), position: .first)
            try sync.addHandler(NIOSSLServerHandler(context: context), position: .first)
            try sync.addHandler(sniffer, position: .first)
            try sync.addHandler(TDSTLSFramer(), position: .first)
            return sniffer
        }.get()
    }

    /// Takes TLS away again (after an ENCRYPT_OFF login): what follows is written, and read, in the clear. The
    /// sniffer stays; it passes everything through once it has seen the hello.
    static func end(_ channel: any Channel) async throws {
        try await channel.eventLoop.flatSubmit {
            let sync = channel.pipeline.syncOperations
            do {
                let framer = try sync.handler(type: TDSTLSFramer.self)
                let tls = try sync.handler(type: NIOSSLServerHandler.self)
                let unframed = sync.removeHandler(framer)
                let plain = sync.removeHandler(tls)
                return unframed.and(plain).map { _ in }
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }
}
