import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `telnet` honeypot (23): inetutils' telnetd (Debian 12) or netkit `in.telnetd` (Ubuntu, others) with `login` (BusyBox telnetd on embedded deckies, IOS's
/// "User Access Verification" on Cisco ones, Microsoft Telnet Service on Windows ones), then a fake shell whose
/// every line is recorded.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default, so every attempt fails and is recorded).
public struct TelnetService: HoneypotService {
    public static let kind: ServiceKind = "telnet"

    struct Configuration: Sendable, Equatable {
        var profile: ShellProfile
        /// `/etc/issue.net`, shown before the login prompt.
        var issue: String
        var users: AcceptedCredentials

        /// Whose telnet server the decky's family would run.
        enum Dialect: Sendable, Equatable {
            /// GNU inetutils' telnetd: Debian 12's `telnetd` package is a transitional one for it.
            case inetutils
            case netkit, busybox, ios, windows
        }

        var dialect: Dialect {
            switch self.profile.osFamily {
            case .embedded: .busybox
            case .cisco: .ios
            case .windows: .windows
            case .linux where self.profile.distro.slug == "debian": .inetutils
            case .linux, .bsd: .netkit
            }
        }

        /// The login prompt, as each server words it.
        var loginPrompt: String {
            switch self.dialect {
            case .inetutils, .netkit, .busybox: "\r\n\(self.profile.hostname) login: "
            case .ios: "\r\nUsername: "
            case .windows: "\n\rlogin: "
            }
        }

        var passwordPrompt: String { self.dialect == .windows ? "\n\rpassword: " : "\r\nPassword: " }

        /// What a wrong password gets before the next prompt (or, after the last try, before the close).
        var failure: String {
            switch self.dialect {
            case .inetutils, .netkit, .busybox: "\r\nLogin incorrect"
            case .ios: "\r\n% Login invalid\r\n"
            case .windows: "\n\rThe handle is invalid.\n\r\n\rLogin Failed\n\r"
            }
        }
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

    private func configuration(for session: SessionEvents) -> Configuration {
        var configuration = self.configuration
        configuration.profile.ip = session.destination.ip
        return configuration
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(TelnetDecoder(), maximumBufferSize: 1 << 16)
        )
    }

    /// The option negotiation (and, for the dialects that send it at once, the login prompt), sent by the runtime
    /// on connect: a connection that never answers holds no task. The connect time travels as `state`, so the
    /// session's clock (its uptime and `last`) starts where telnetd's does.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        let started = ContinuousClock.now
        var machine = TelnetStateMachine(configuration: self.configuration(for: session), started: started)
        return Greeting(ByteBuffer(bytes: machine.greeting()), state: started)
    }

    public func handle(_ connection: Connection<TelnetMessage, ByteBuffer>, session: SessionEvents) async throws {
        var machine = TelnetStateMachine(
            configuration: self.configuration(for: session),
            started: connection.greeting?.state as? ContinuousClock.Instant ?? .now
        )
        // Negotiated either way: the machine notes which options it asked for.
        let greeting = machine.greeting()
        let artifacts = ArtifactStore(directory: session.context.artifactDirectory)
        defer { machine.shell?.recording.keep(in: artifacts, session: session) }
        try await ProtocolLoop.serve(connection, session: session, greeting: connection.greeting == nil ? greeting : [])
        {
            machine.received($0)
        }
    }
}
