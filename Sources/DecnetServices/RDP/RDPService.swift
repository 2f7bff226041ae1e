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
    /// `rdp_nla`: `required` (the default, as Windows installs it) or `optional` (TLS security for clients
    /// that ask for it, the password then in the Client Info PDU).
    let nlaRequired: Bool

    public init(context: ServiceContext) throws {
        self.identity = WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: .windows)
        self.nlaRequired = context.persona["rdp_nla"]?.lowercased() != "optional"
        let certificate = LazyCertificate(hostname: self.identity.dnsHostName, directory: context.keyDirectory)
        self.tls = try certificate.serverContext(applicationProtocols: [])
        certificate.prewarm()
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(RDPFrameDecoder(), maximumBufferSize: RDPFrameDecoder.maximumMessage + 8)
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<RDPInbound, ByteBuffer>, session: SessionEvents) async throws {
        var machine = RDPStateMachine(
            identity: self.identity,
            random: {
                PooledRandom.bytes(8)
            },
            now: { SMBService.fileTime(Date()) }
        )
        machine.nlaRequired = self.nlaRequired
        var sniffer: ClientHelloSniffer?
        for try await message in connection.inbound {
            var close = false
            for action in machine.received(message) {
                switch action {
                case .send(let bytes):
                    try await connection.outbound.write(ByteBuffer(bytes: bytes))
                case .startTLS(let bytes):
                    // The Connection Confirm leaves in the clear; the client's ClientHello (sent only once it has the
                    // confirm) always meets the TLS handler.
                    sniffer = try await ImplicitTLS.upgrade(
                        connection.channel,
                        context: self.tls,
                        after: ByteBuffer(bytes: bytes)
                    )
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

}
