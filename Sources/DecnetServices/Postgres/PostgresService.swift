import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `postgres` honeypot (5432): a PostgreSQL server asking for cleartext passwords.
///
/// Persona keys: `pg_version` (default per distro, e.g. 15.6 on Debian 12) and DECNET-Swift's `users` (logins
/// accepted; none by default).
public struct PostgresService: HoneypotService {
    public static let kind: ServiceKind = "postgres"

    struct Configuration: Sendable, Equatable {
        /// `server_version` as the distro's build reports it, e.g. `15.6 (Debian 15.6-0+deb12u1)`.
        var serverVersion: String
        /// What `SELECT version()` returns.
        var versionFunction: String
        /// The `L` field of the startup-protocol error, which differs per release (nmap reads it).
        var postmasterLine: Int
        /// Oldest protocol the release accepts (2.0 was dropped in 14).
        var earliestProtocol: String
        var users: AcceptedCredentials
        /// Built with GSSAPI (Debian's, Ubuntu's and Red Hat's packages from 12 on): a GSSENCRequest is accepted.
        var gssapi = true
    }

    let configuration: Configuration

    public init(context: ServiceContext) throws {
        let version = context.persona["pg_version"] ?? "15.6"
        let major = Int(version.prefix { $0 != "." }) ?? 15
        let build: String
        switch context.distro {
        case "debian", "kali": build = " (Debian \(version)-0+deb12u1)"
        case "ubuntu22": build = " (Ubuntu \(version)-0ubuntu0.22.04.1)"
        case "ubuntu20": build = " (Ubuntu \(version)-0ubuntu0.20.04.1)"
        default: build = ""
        }
        let gcc =
            context.distro == "ubuntu22" ? "gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0" : "gcc (Debian 12.2.0-14) 12.2.0"
        // postmaster.c line of "unsupported frontend protocol" per major release, and where a minor release moved
        // it (15.18, Debian 12's today, measured against the real server: bench/differential).
        let lines = [12: 2119, 13: 2133, 14: 2138, 15: 2194, 16: 2204]
        let minorLines = ["15.18": 2222]
        self.configuration = Configuration(
            serverVersion: version + build,
            versionFunction: "PostgreSQL \(version)\(build) on x86_64-pc-linux-gnu, compiled by \(gcc), 64-bit",
            postmasterLine: minorLines[version] ?? lines[major] ?? 2204,
            earliestProtocol: major >= 14 ? "3.0" : "2.0",
            users: AcceptedCredentials(context.persona["users"]),
            gssapi: major >= 12
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(
                PostgresFrontendDecoder(),
                maximumBufferSize: PostgresFrontendDecoder.maximumMessageLength + 16
            )
        )
    }

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(
        _ connection: Connection<PostgresFrontendMessage, ByteBuffer>,
        session: SessionEvents
    ) async throws {
        var generator = PooledRandom()
        var machine = PostgresStateMachine(
            configuration: self.configuration,
            processID: Int.random(in: 1000...400_000, using: &generator),
            secretKey: Int.random(in: 0...Int(Int32.max), using: &generator)
        )
        try await ProtocolLoop.serve(connection, session: session) { machine.received($0) }
    }
}
