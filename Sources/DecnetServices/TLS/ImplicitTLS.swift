import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOSSL

/// TLS from the first byte on a service's TLS ports (the context's `tlsPorts`: https on 443, imaps on 993, pop3s
/// on 995 …), with the decky's own certificate, made on first use. A sniffer in front of the TLS handler keeps the
/// client's hello, whose fingerprint `reportFingerprint` emits once.
struct ImplicitTLS: Sendable {
    /// Nil when the service serves no TLS port.
    let context: NIOSSLContext?
    let ports: Set<Int>

    /// `upgradable`: the service can also start TLS on a plaintext port (StartTLS), so it needs the certificate
    /// even without a TLS port.
    init(context: ServiceContext, applicationProtocols: [String] = [], upgradable: Bool = false) throws {
        self.ports = context.tlsPorts
        if context.tlsPorts.isEmpty && !upgradable {
            self.context = nil
        } else {
            // The certificate is made on first use (or in the background), not here: see LazyCertificate.
            let certificate = LazyCertificate(hostname: context.hostname, directory: context.keyDirectory)
            self.context = try certificate.serverContext(applicationProtocols: applicationProtocols)
            certificate.prewarm()
        }
    }

    /// Puts the sniffer and the TLS handler first in the pipeline when `port` is a TLS port.
    func configure(_ channel: any Channel, port: Int) throws {
        guard let context = self.context, self.ports.contains(port) else { return }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ClientHelloSniffer())
        try sync.addHandler(NIOSSLServerHandler(context: context))
        try sync.addHandler(TLSPeerLeft())
    }

    /// StartTLS: writes `reply` in clear, then, in the same event-loop turn, makes the next bytes read go through
    /// the sniffer and the TLS handler (put first when those bytes come: `TLSOnFirstRead`). Returns the sniffer.
    func upgrade(_ channel: any Channel, after reply: ByteBuffer) async throws -> ClientHelloSniffer? {
        guard let context = self.context else { return nil }
        return try await Self.upgrade(channel, context: context, after: reply)
    }

    /// The same with a given TLS context (RDP's, for its own certificate name).
    static func upgrade(
        _ channel: any Channel,
        context: NIOSSLContext,
        after reply: ByteBuffer
    ) async throws
        -> ClientHelloSniffer
    {
        try await channel.eventLoop.submit {
            if reply.readableBytes > 0 { channel.writeAndFlush(reply, promise: nil) }
            let sniffer = ClientHelloSniffer()
            // The sniffer and the TLS handler go in when the client's first bytes come (TLSOnFirstRead).
            try channel.pipeline.syncOperations.addHandler(
                TLSOnFirstRead(context: context, sniffer: sniffer),
                position: .first
            )
            return sniffer
        }.get()
    }

    /// The connection's ClientHello sniffer, when it came in over TLS.
    static func sniffer(_ channel: any Channel) async -> ClientHelloSniffer? {
        try? await channel.pipeline.handler(type: ClientHelloSniffer.self).get()
    }

    /// Emits `client.fingerprint` (JA3, JA4, SNI, ALPN) for the hello `sniffer` saw, if one has passed.
    /// Returns whether it did.
    @discardableResult
    static func reportFingerprint(_ sniffer: ClientHelloSniffer?, session: SessionEvents) -> Bool {
        guard let hello = sniffer?.hello else { return false }
        let ja3 = ClientFingerprint.ja3(hello)
        var fields = EventFields()
        fields.add("ja3", ja3.hash)
        fields.add("ja3_full", ja3.text)
        fields.add("ja4", ClientFingerprint.ja4(hello))
        if let name = hello.serverName { fields.add("sni", attackerText: name) }
        if !hello.alpn.isEmpty { fields.add("alpn", attackerText: hello.alpn.joined(separator: ",")) }
        session.emit(.clientFingerprint, fields)
        return true
    }
}
