import DecnetCore
import DecnetServiceKit
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The `ldap` honeypot (389, and LDAPS on 636): an Active Directory domain controller's LDAP.
///
/// Persona keys: `base_dn` (`DC=corp,DC=local`) and `domain` (`corp.local`), each derived from the other when one
/// is missing, with the decky's Windows identity (`os_version`, `build`, `server_name`, `workgroup`; see smb);
/// `users` (simple binds that succeed), `ldap_anonymous` (anonymous searches read the directory; default true)
/// and `ldap_users` (the staff accounts in the directory).
public struct LDAPService: HoneypotService {
    public static let kind: ServiceKind = "ldap"

    let configuration: LDAPStateMachine.Configuration
    let tls: ImplicitTLS

    public init(context: ServiceContext) throws {
        var persona = context.persona
        let baseDN = persona["base_dn"]
        let domain =
            persona["domain"]
            ?? baseDN.map(ActiveDirectory.domain(fromBaseDN:))
            ?? (persona["workgroup"].map { $0.lowercased() + ".local" } ?? "corp.local")
        persona["domain"] = domain
        if persona["workgroup"] == nil || persona["workgroup"] == "WORKGROUP" {
            persona["workgroup"] = String(domain.split(separator: ".").first ?? "CORP").uppercased()
        }
        let identity = WindowsIdentity(persona: persona, hostname: context.hostname, osFamily: .windows)
        let levels: [String: Int] = [
            "Windows Server 2012 R2": 6, "Windows Server 2012": 5, "Windows Server 2008 R2": 4,
        ]
        let base = baseDN ?? domain.split(separator: ".").map { "DC=\($0)" }.joined(separator: ",")
        let staff = persona["ldap_users"].map {
            $0.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
        }
        self.tls = try ImplicitTLS(context: context, upgradable: true)
        self.configuration = LDAPStateMachine.Configuration(
            identity: identity,
            baseDN: base,
            domain: domain,
            functionalLevel: levels[identity.release.name] ?? 7,
            highestCommittedUSN: Int.random(in: 120_000...900_000),
            directory: LDAPDirectory(
                identity: identity,
                baseDN: base,
                domain: domain,
                staff: staff ?? LDAPDirectory.defaultStaff
            ),
            anonymousReads: (persona["ldap_anonymous"] ?? "true").lowercased() == "true",
            users: AcceptedCredentials(persona["users"]),
            tlsAvailable: self.tls.context != nil
        )
    }

    /// `DC=corp,DC=local` → `corp.local`.
    public func configure(_ channel: any Channel, port: Int) throws {
        try self.tls.configure(channel, port: port)
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LDAPMessageDecoder(), maximumBufferSize: LDAPMessageDecoder.maximumMessage + 8)
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<LDAPInbound, ByteBuffer>, session: SessionEvents) async throws {
        var machine = LDAPStateMachine(
            configuration: self.configuration,
            random: {
                PooledRandom.bytes(8)
            },
            now: { SMBService.fileTime(Date()) },
            generalizedTime: { PosixDate.string(Date(), format: "yyyyMMddHHmmss'.0Z'") }
        )
        machine.inTLS = self.tls.ports.contains(session.destination.port)
        let sniffer = NIOLockedValueBox(await ImplicitTLS.sniffer(connection.channel))
        var reported = false
        let tls = self.tls
        let channel = connection.channel
        try await ProtocolLoop.serve(
            connection,
            session: session,
            startTLS: { reply in
                let upgraded = try await tls.upgrade(channel, after: reply)
                sniffer.withLockedValue { $0 = upgraded }
            }
        ) { message in
            if !reported { reported = ImplicitTLS.reportFingerprint(sniffer.withLockedValue { $0 }, session: session) }
            return machine.received(message).map { action -> ProtocolAction in
                switch action {
                case .send(let bytes): .send(bytes)
                case .emit(let id, let fields): .emit(id, fields)
                case .close: .close
                case .startTLS: .startTLS
                }
            }
        }
    }
}
