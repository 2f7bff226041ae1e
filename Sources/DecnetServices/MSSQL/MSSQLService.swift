import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOSSL

/// The `mssql` honeypot (1433): SQL Server's TDS login.
///
/// Persona keys: `mssql_version` (e.g. `15.0.2000.5`, SQL Server 2019 RTM; the PRELOGIN version nmap reads), and
/// the decky's Windows identity (`os_version`, `workgroup`, `server_name`, `domain`, `build`) for the NTLM
/// challenge of integrated logins and the server name in errors.
public struct MSSQLService: HoneypotService {
    public static let kind: ServiceKind = "mssql"

    let configuration: MSSQLStateMachine.Configuration
    /// TLS 1.2 at most, as SQL Server speaks it inside TDS 7.x, with the decky's certificate.
    let tls: NIOSSLContext

    public init(context: ServiceContext) throws {
        let text = context.persona["mssql_version"] ?? "15.0.2000.5"
        let parts = text.split(separator: ".").map { Int($0) ?? 0 }
        func part(_ index: Int) -> Int { index < parts.count ? parts[index] : 0 }
        self.configuration = MSSQLStateMachine.Configuration(
            version: (
                UInt8(clamping: part(0)), UInt8(clamping: part(1)), UInt16(clamping: part(2)), UInt16(clamping: part(3))
            ),
            versionText: text,
            identity: WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: .windows),
            tlsAvailable: true
        )
        let certificate = LazyCertificate(hostname: context.hostname, directory: context.keyDirectory)
        self.tls = try certificate.serverContext(applicationProtocols: [], maximumVersion: .tlsv12)
        certificate.prewarm()
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(TDSMessageDecoder(), maximumBufferSize: (1 << 16) + 8)
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<TDSMessage, ByteBuffer>, session: SessionEvents) async throws {
        var machine = MSSQLStateMachine(
            configuration: self.configuration,
            random: {
                PooledRandom.bytes(8)
            },
            now: { SMBService.fileTime(Date()) }
        )
        var sniffer: ClientHelloSniffer?
        var reported = false
        for try await message in connection.inbound {
            if !reported { reported = ImplicitTLS.reportFingerprint(sniffer, session: session) }
            var close = false
            for action in machine.received(message) {
                switch action {
                case .send(let bytes): try await connection.outbound.write(ByteBuffer(bytes: bytes))
                case .emit(let id, let fields): session.emit(id, fields)
                case .close: close = true
                case .startTLS(let bytes):
                    sniffer = try await TDSTLS.start(connection.channel, context: self.tls, after: bytes)
                case .endTLS: try await TDSTLS.end(connection.channel)
                }
            }
            if close { return }
        }
    }
}
