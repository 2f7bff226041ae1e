import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import Synchronization

/// The `mongodb` honeypot (27017): a mongod of the persona's release.
///
/// Persona keys: `mongo_version` (default 6.0.14; releases before 5.1 also serve legacy OP_QUERY commands, which
/// is what nmap's probe and scripts send), and DECNET-Swift's `users` (SCRAM logins that succeed) and
/// `mongo_auth` (`true`: every command but the handshake needs a login, as `security.authorization: enabled`;
/// default `false`, an open server with a small company's data, the kind ransom crews empty).
public struct MongoDBService: HoneypotService {
    public static let kind: ServiceKind = "mongodb"

    let configuration: MongoServer.Configuration
    let store: MongoStore
    let started = ContinuousClock.now
    /// Seconds the server claims to have run when the decky starts.
    let uptimeOffset: Double
    private let connections: MongoConnectionNumbers

    public init(context: ServiceContext) throws {
        let version = context.persona["mongo_version"].flatMap(MongoVersion.init) ?? MongoVersion("6.0.14")!
        let seed = Array(SHA256.hash(data: Array("mongodb/\(context.decky)/\(context.hostname)".utf8)))
        var random = SeededBytes(seed)
        self.configuration = MongoServer.Configuration(
            version: version,
            requireAuth: (context.persona["mongo_auth"] ?? "false").lowercased() == "true",
            users: AcceptedCredentials(context.persona["users"]),
            hostname: String(context.hostname.split(separator: ".").first ?? Substring(context.hostname)),
            port: 27017,
            processID: random.next(12),
            saltSeed: random.next(32),
            pid: 700 + Int(seed[1]) * 4
        )
        self.store = MongoStore(
            MongoDataSet.databases(
                seed: random.next(32),
                hostname: self.configuration.hostname,
                featureVersion: version.featureCompatibility,
                now: Int64(Date().timeIntervalSince1970 * 1000)
            )
        )
        self.uptimeOffset = Double(86_400 * 12 + Int(seed[2]) * 977)
        self.connections = MongoConnectionNumbers(Int32(seed[3]) + 11)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(MongoMessageDecoder(), maximumBufferSize: MongoMessageDecoder.maximumMessage + 16)
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<MongoInbound, ByteBuffer>, session: SessionEvents) async throws {
        let started = self.started, offset = self.uptimeOffset
        var machine = MongoServer(
            configuration: self.configuration,
            store: self.store,
            connectionID: self.connections.next(),
            peer: session.source.description
        ) {
            offset + Double((ContinuousClock.now - started).components.seconds)
        }
        for try await message in connection.inbound {
            var reply = ByteBuffer()
            var close = false
            for action in machine.received(message) {
                switch action {
                case .send(let bytes): reply.writeBytes(bytes)
                case .emit(let id, let fields): session.emit(id, fields)
                case .delay(let wait): try await Task.sleep(for: wait)
                case .close: close = true
                }
            }
            if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
            if close { return }
        }
    }
}

/// mongod numbers its connections from start-up; `hello` and `serverStatus` show the number.
final class MongoConnectionNumbers: Sendable {
    private let value: Atomic<Int32>

    init(_ start: Int32) { self.value = Atomic(start) }

    func next() -> Int32 { self.value.wrappingAdd(1, ordering: .relaxed).newValue }
}
