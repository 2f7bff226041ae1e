import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore

/// The `redis` honeypot: Redis 7 (or the persona's version) speaking RESP2/RESP3.
///
/// Persona keys: `redis_version` (default per distro, e.g. 7.0.15 on Debian 12) and DECNET-Swift's
/// `redis_password` (unset: an open instance, the kind attackers look for; set: AUTH is required).
public struct RedisService: HoneypotService {
    public static let kind: ServiceKind = "redis"

    /// Everything the emulator needs, read once from the persona.
    struct Configuration: Sendable, Equatable {
        var version: String
        var password: String?
        var kernel: String
        var processID: Int
        var runID: String
        var replicationID: String
        var buildID: String
        var gccVersion: String
        /// Seconds the fake server claims to have been up before this process started.
        var uptimeOffset: Int
    }

    let configuration: Configuration
    let keyspace: RedisKeyspace

    public init(context: ServiceContext) throws {
        var generator = SystemRandomNumberGenerator()
        func hex(_ count: Int) -> String {
            String((0..<count).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
        }
        let version = context.persona["redis_version"] ?? "7.0.15"
        self.configuration = Configuration(
            version: version,
            password: context.persona["redis_password"],
            kernel: context.kernelVersion ?? "6.1.0-18-amd64",
            processID: Int.random(in: 600...4000, using: &generator),
            runID: hex(40),
            replicationID: hex(40),
            buildID: RedisInfo.debianBuildIDs[version] ?? hex(16),
            gccVersion: "12.2.0",
            uptimeOffset: Int.random(in: 86_400...(86_400 * 90), using: &generator)
        )
        // redis_seed_keys = no: an empty database, as a fresh server (the two keys are a lure).
        let seeded = context.persona["redis_seed_keys"]?.lowercased() != "no"
        self.keyspace = RedisKeyspace(
            seed: seeded ? ["backup:last": "2024-02-11T03:00:01Z", "session:admin": "eyJ1c2VyIjoiYWRtaW4ifQ=="] : [:],
            config: [
                "dir": "/var/lib/redis", "dbfilename": "dump.rdb", "maxmemory": "0", "appendonly": "no",
                "save": "3600 1 300 100 60 10000", "protected-mode": "no", "bind": "0.0.0.0",
                "port": "6379", "databases": "16", "slave-read-only": "yes", "replica-read-only": "yes",
                "maxclients": "10000", "timeout": "0", "loglevel": "notice",
                "logfile": "/var/log/redis/redis-server.log",
            ]
        )
    }

    /// Largest request the decoder may buffer.
    static let maximumBufferSize = 2 << 20

    /// The client speaks first: a connection's task starts with its first request (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(RedisRequestDecoder(), maximumBufferSize: Self.maximumBufferSize)
        )
    }

    public func handle(_ connection: Connection<RedisRequest, ByteBuffer>, session: SessionEvents) async throws {
        var machine = RedisStateMachine(configuration: self.configuration, keyspace: self.keyspace)
        var resp3 = false
        try await ProtocolLoop.serve(connection, session: session) { request in
            var actions: [ProtocolAction] = []
            for action in machine.received(request) {
                switch action {
                case .reply(let value):
                    var reply = ByteBuffer()
                    RESPEncoder.write(value, resp3: resp3, into: &reply)
                    actions.append(.send(Array(reply.readableBytesView)))
                case .emit(let id, let fields): actions.append(.emit(id, fields))
                case .useRESP3(let on): resp3 = on
                case .close: actions.append(.close)
                }
            }
            return actions
        }
    }
}
