import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `telnet` honeypot (23): netkit `in.telnetd` with `login` (BusyBox telnetd on embedded deckies), then a
/// fake shell whose every line is recorded.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default, so every attempt fails and is recorded).
public struct TelnetService: HoneypotService {
    public static let kind: ServiceKind = "telnet"

    struct Configuration: Sendable, Equatable {
        var profile: ShellProfile
        /// `/etc/issue.net`, shown before the login prompt.
        var issue: String
        var users: AcceptedCredentials
    }

    let configuration: Configuration

    public init(context: ServiceContext) throws {
        let profile = ShellProfile(context: context)
        let issue: String
        switch profile.distro.slug {
        case "debian": issue = "Debian GNU/Linux 12"
        case "ubuntu22": issue = "Ubuntu 22.04.4 LTS"
        case "ubuntu20": issue = "Ubuntu 20.04.6 LTS"
        default: issue = "Kernel \(profile.kernel) on an \(profile.machine)"
        }
        self.configuration = Configuration(
            profile: profile,
            issue: issue,
            users: AcceptedCredentials(context.persona["users"])
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(TelnetDecoder(), maximumBufferSize: 1 << 16)
        )
    }

    public func handle(_ connection: Connection<TelnetMessage, ByteBuffer>, session: SessionEvents) async throws {
        var configuration = self.configuration
        configuration.profile.ip = session.destination.ip
        var machine = TelnetStateMachine(configuration: configuration)
        let artifacts = ArtifactStore(directory: session.context.artifactDirectory)
        defer { machine.shell?.recording.keep(in: artifacts, session: session) }
        try await ProtocolLoop.serve(connection, session: session, greeting: machine.greeting()) {
            machine.received($0)
        }
    }
}
