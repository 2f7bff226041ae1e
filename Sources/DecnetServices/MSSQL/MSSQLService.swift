import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore

/// The `mssql` honeypot (1433): SQL Server's TDS login.
///
/// Persona keys: `mssql_version` (e.g. `15.0.2000.5`, SQL Server 2019 RTM; the PRELOGIN version nmap reads), and
/// the decky's Windows identity (`os_version`, `workgroup`, `server_name`, `domain`, `build`) for the NTLM
/// challenge of integrated logins and the server name in errors.
public struct MSSQLService: HoneypotService {
    public static let kind: ServiceKind = "mssql"

    let configuration: MSSQLStateMachine.Configuration

    public init(context: ServiceContext) throws {
        let text = context.persona["mssql_version"] ?? "15.0.2000.5"
        let parts = text.split(separator: ".").map { Int($0) ?? 0 }
        func part(_ index: Int) -> Int { index < parts.count ? parts[index] : 0 }
        self.configuration = MSSQLStateMachine.Configuration(
            version: (
                UInt8(clamping: part(0)), UInt8(clamping: part(1)), UInt16(clamping: part(2)), UInt16(clamping: part(3))
            ),
            versionText: text,
            identity: WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: .windows)
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(TDSMessageDecoder(), maximumBufferSize: (1 << 16) + 8)
        )
    }

    public func handle(_ connection: Connection<TDSMessage, ByteBuffer>, session: SessionEvents) async throws {
        var machine = MSSQLStateMachine(
            configuration: self.configuration,
            random: {
                var generator = SystemRandomNumberGenerator()
                return (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }
            },
            now: { SMBService.fileTime(Date()) }
        )
        try await ProtocolLoop.serve(connection, session: session) { message in
            machine.received(message).map { action -> ProtocolAction in
                switch action {
                case .send(let bytes): .send(bytes)
                case .emit(let id, let fields): .emit(id, fields)
                case .close: .close
                }
            }
        }
    }
}
