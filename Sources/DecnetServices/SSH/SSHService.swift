import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `ssh` honeypot as far as it goes today (see `SSHServerTransport`): the claimed OpenSSH's identification
/// and KEXINIT, HASSH of every client, curve25519-sha256 with AES-CTR and ETM MACs, and every authentication
/// attempt recorded and refused. Not in `ServiceRegistry.builtin` until a default client can log in (issue 4).
public struct SSHService: HoneypotService {
    public static let kind: ServiceKind = "ssh"

    let profile: OpenSSHProfile
    let hostKeys: SSHHostKeys

    public init(context: ServiceContext) throws {
        let version = context.persona["ssh_version"] ?? "OpenSSH_9.2p1 Debian-2+deb12u10"
        var profile = version.contains("OpenSSH_8.9") ? OpenSSHProfile.ubuntu2204 : OpenSSHProfile.debian12
        profile.identification = version.hasPrefix("SSH-") ? version : "SSH-2.0-" + version
        self.profile = profile
        self.hostKeys = try SSHHostKeys(directory: context.keyDirectory)
    }

    public func configure(_ channel: any Channel, port: Int) throws {}

    public func handle(_ connection: Connection<ByteBuffer, ByteBuffer>, session: SessionEvents) async throws {
        var transport = SSHServerTransport(profile: self.profile, hostKeys: self.hostKeys)
        try await connection.outbound.write(ByteBuffer(bytes: transport.greeting()))
        for try await chunk in connection.inbound {
            for action in transport.receive(chunk) {
                switch action {
                case .send(let bytes): try await connection.outbound.write(ByteBuffer(bytes: bytes))
                case .emit(let id, let fields): session.emit(id, fields)
                case .close: return
                }
            }
        }
    }
}
