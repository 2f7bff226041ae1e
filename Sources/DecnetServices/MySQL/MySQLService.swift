import DecnetCore
import DecnetServiceKit
import NIOCore
import Synchronization

/// The `mysql` honeypot (3306): MySQL 8 or, as Debian ships it, MariaDB.
///
/// Persona keys: `mysql_version` (what `VERSION()` says, e.g. `8.0.36-0ubuntu0.22.04.1` or
/// `10.11.6-MariaDB-0+deb12u1`), `mysql_banner` (the greeting's version string, when it must differ), and
/// DECNET-Swift's `users` (logins accepted; none by default).
public struct MySQLService: HoneypotService {
    public static let kind: ServiceKind = "mysql"

    struct Configuration: Sendable, Equatable {
        /// In the greeting (MariaDB prefixes `5.5.5-`, as the real one does for old clients).
        var serverVersion: String
        /// What `SELECT VERSION()` returns.
        var version: String
        var versionComment: String
        var characterSet: Int
        var authPlugin: String
        var users: AcceptedCredentials
        /// MariaDB (its capabilities, errors and metadata) rather than MySQL.
        var mariadb = false
    }

    let configuration: Configuration
    private let connectionIDs = ConnectionCounter()

    public init(context: ServiceContext) throws {
        let version = context.persona["mysql_version"] ?? "8.0.36"
        let mariadb = version.contains("MariaDB")
        let comment: String
        if mariadb {
            comment = context.distro == "debian" ? "Debian 12" : "MariaDB Server"
        } else {
            comment = version.contains("ubuntu") ? "(Ubuntu)" : "MySQL Community Server - GPL"
        }
        self.configuration = Configuration(
            serverVersion: context.persona["mysql_banner"] ?? (mariadb ? "5.5.5-" + version : version),
            version: version,
            versionComment: comment,
            characterSet: mariadb ? 45 : 255,
            authPlugin: version.hasPrefix("8.") ? "caching_sha2_password" : "mysql_native_password",
            users: AcceptedCredentials(context.persona["users"]),
            mariadb: mariadb
        )
        self.connectionIDs.value.store(Int.random(in: 8...400), ordering: .relaxed)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        let compression = MySQLCompression()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(
                MySQLPacketDecoder(compression: compression),
                maximumBufferSize: MySQLPacketDecoder.maximumPayload + 72
            ),
        )
        try channel.pipeline.syncOperations.addHandler(MySQLCompressionHolder(compression: compression))
    }

    /// The salt and thread id a connection's handshake packet announced.
    struct Handshake: Sendable {
        let salt: [UInt8]
        let connectionID: Int
    }

    func newHandshake() -> Handshake {
        var generator = PooledRandom()
        return Handshake(
            salt: (0..<20).map { _ in UInt8.random(in: 0x21...0x7E, using: &generator) },
            connectionID: self.connectionIDs.value.add(1, ordering: .relaxed).newValue
        )
    }

    /// The handshake packet, sent by the runtime on connect: a connection that never answers it holds no task.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        let handshake = self.newHandshake()
        let machine = MySQLStateMachine(
            configuration: self.configuration,
            salt: handshake.salt,
            connectionID: handshake.connectionID,
            clientAddress: session.source.ip
        )
        return Greeting(ByteBuffer(bytes: MySQLPacketWriter.bytes(machine.greeting)), state: handshake)
    }

    public func handle(_ connection: Connection<MySQLPacket, ByteBuffer>, session: SessionEvents) async throws {
        let sent = connection.greeting?.state as? Handshake
        let handshake = sent ?? self.newHandshake()
        var machine = MySQLStateMachine(
            configuration: self.configuration,
            salt: handshake.salt,
            connectionID: handshake.connectionID,
            clientAddress: session.source.ip
        )
        defer {
            for case .emit(let id, let fields) in machine.connectionClosed() { session.emit(id, fields) }
        }
        let compression =
            (try? await connection.channel.pipeline.handler(type: MySQLCompressionHolder.self).get())?.compression
            ?? MySQLCompression()
        let greeting = sent == nil ? MySQLPacketWriter.bytes(machine.greeting) : []
        try await ProtocolLoop.serve(connection, session: session, greeting: greeting) {
            machine.received($0).compactMap { action -> ProtocolAction? in
                switch action {
                case .send(let packet):
                    let bytes = MySQLPacketWriter.bytes(packet)
                    return .send(compression.enabled ? compression.frame(bytes) : bytes)
                case .emit(let id, let fields): return .emit(id, fields)
                case .close: return .close
                case .compress:
                    compression.enable()
                    return nil
                }
            }
        }
    }
}

/// Thread ids handed out to connections, as the server numbers them.
final class ConnectionCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// Hands the connection's compression switch from the pipeline (where the decoder reads it) to the service.
final class MySQLCompressionHolder: ChannelInboundHandler, Sendable {
    typealias InboundIn = MySQLPacket
    typealias InboundOut = MySQLPacket

    let compression: MySQLCompression

    init(compression: MySQLCompression) { self.compression = compression }
}
