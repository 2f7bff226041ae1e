import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore

/// The `smb` honeypot: SMB2/3 on 445 and, behind the NetBIOS session service, on 139, as the persona's Windows
/// release (or Samba) answers before a login; every NTLM login is captured as a crackable hash and refused.
///
/// Persona keys: `os_version` (e.g. `Windows Server 2019 Standard 17763`, `Windows 10 Pro 19045`, `Samba`),
/// `workgroup` (NetBIOS domain or workgroup), `server_name` (NetBIOS name), `domain` (DNS domain of a domain
/// member), `build`, and DECNET-Swift's `smb_signing` (`required` as on domain controllers, or `enabled`).
public struct SMBService: HoneypotService {
    public static let kind: ServiceKind = "smb"

    struct Configuration: Sendable, Equatable {
        var identity: WindowsIdentity
        var signingRequired: Bool
        /// Domain controllers list Kerberos in their SPNEGO token.
        var domainController: Bool
        /// The server's GUID, the same across restarts (derived from the decky's names).
        var serverGUID: [UInt8]
        /// The logins the persona accepts (`users`).
        var users = AcceptedCredentials(nil)
        /// `smb_guest`: unknown users and null sessions get a guest session (Samba's "map to guest = bad user").
        var guest = false
        /// The shares and their files.
        var shares = SMBShares.none
    }

    let configuration: Configuration
    /// Files planted under `/srv/shares/<share>/`, added to the shares at each connection.
    let planted: PlantedFiles

    public init(context: ServiceContext) throws {
        self.planted = context.planted
        let identity = WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: context.osFamily)
        let signing = context.persona["smb_signing"] ?? "enabled"
        let digest = SHA256.hash(data: Array("decnet smb server guid \(context.decky) \(context.hostname)".utf8))
        self.configuration = Configuration(
            identity: identity,
            signingRequired: signing == "required",
            domainController: signing == "required" && identity.isDomainMember,
            serverGUID: Array(Array(digest).prefix(16)),
            users: AcceptedCredentials(context.persona["users"]),
            guest: ["true", "yes", "1", "on"].contains(context.persona["smb_guest"]?.lowercased() ?? ""),
            shares: SMBShares(
                identity: identity,
                persona: context.persona,
                domainController: signing == "required" && identity.isDomainMember
            )
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(NBSSFrameDecoder(), maximumBufferSize: NBSSFrameDecoder.maximumLength + 8)
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<NBSSFrame, ByteBuffer>, session: SessionEvents) async throws {
        var configuration = self.configuration
        configuration.shares = configuration.shares.adding(self.planted)
        var machine = SMBStateMachine(
            configuration: configuration,
            netbiosSession: session.destination.port == 139,
            random: {
                PooledRandom.bytes(8)
            },
            now: { SMBService.fileTime(Date()) }
        )
        try await ProtocolLoop.serve(connection, session: session) { frame in
            machine.received(frame).map { action -> ProtocolAction in
                switch action {
                case .send(let bytes): .send(bytes)
                case .emit(let id, let fields): .emit(id, fields)
                case .close: .close
                }
            }
        }
    }

    /// A Windows FILETIME: 100-nanosecond intervals since 1601-01-01.
    static func fileTime(_ date: Date) -> UInt64 {
        UInt64(max(0, (date.timeIntervalSince1970 + 11_644_473_600) * 10_000_000))
    }
}
