import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOSSL

/// The `rdp` honeypot (3389): Remote Desktop with Network Level Authentication required, as Windows installs it.
///
/// Persona keys: `os_version` and `build` (the NTLM version nmap's rdp-ntlm-info prints), with the decky's
/// Windows identity (`workgroup`, `server_name`, `domain`; see smb). The TLS certificate is the decky's own,
/// for its DNS name, kept across restarts.
public struct RDPService: HoneypotService {
    public static let kind: ServiceKind = "rdp"

    let identity: WindowsIdentity
    let tls: NIOSSLContext

    public init(context: ServiceContext) throws {
        self.identity = WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: .windows)
        let certificate = LazyCertificate(hostname: self.identity.dnsHostName, directory: context.keyDirectory)
        self.tls = try certificate.serverContext(applicationProtocols: [])
        certificate.prewarm()
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(RDPFrameDecoder(), maximumBufferSize: RDPFrameDecoder.maximumMessage + 8)
        )
    }

    public func handle(_ connection: Connection<RDPInbound, ByteBuffer>, session: SessionEvents) async throws {
        var machine = RDPStateMachine(
            identity: self.identity,
            random: {
                var generator = SystemRandomNumberGenerator()
                return (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }
            },
            now: { SMBService.fileTime(Date()) }
        )
        var sniffer: ClientHelloSniffer?
        for try await message in connection.inbound {
            var close = false
            for action in machine.received(message) {
                switch action {
                case .send(let bytes):
                    try await connection.outbound.write(ByteBuffer(bytes: bytes))
                case .startTLS(let bytes):
                    sniffer = try await self.startTLS(after: bytes, on: connection.channel)
                case .emit(let id, let fields):
                    session.emit(id, fields)
                    if id == .loginFailed { ImplicitTLS.reportFingerprint(sniffer, session: session) }
                case .close:
                    close = true
                }
            }
            if close { return }
        }
    }

    /// Writes the Connection Confirm in the clear and puts TLS in front of the decoder in the same event-loop
    /// turn, so the client's ClientHello (which it sends only once it has the confirm) always meets the TLS
    /// handler. A sniffer in front of it keeps the hello for JA3/JA4.
    private func startTLS(after bytes: [UInt8], on channel: any Channel) async throws -> ClientHelloSniffer {
        let context = self.tls
        return try await channel.eventLoop.submit {
            channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
            let sniffer = ClientHelloSniffer()
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(NIOSSLServerHandler(context: context), position: .first)
            try pipeline.addHandler(sniffer, position: .first)
            return sniffer
        }.get()
    }
}
