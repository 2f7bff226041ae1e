import DecnetCore
import DecnetServiceKit
import NIOCore
import Synchronization

/// The `ssh` honeypot (22): what the claimed OpenSSH release says on the wire (`SSHServerTransport`), logins
/// the persona's `users` accept going on to a session with the fake shell, exec, sftp and scp
/// (`SSHConnection`); every attempt, command, forwarding request and upload recorded.
///
/// Persona keys: `ssh_version` (default: the distro's), `users`, and DECNET-Swift's `keyboard_interactive`
/// (yes/no), `password_delay_ms` and `login_grace_time`.
public struct SSHService: HoneypotService {
    public static let kind: ServiceKind = "ssh"

    let configuration: SSHServerTransport.Configuration
    let hostKeys: SSHHostKeys

    public init(context: ServiceContext) throws {
        let shell = ShellProfile(context: context)
        let profile = OpenSSHProfile(claiming: context.persona["ssh_version"] ?? shell.distro.sshVersion)
        var configuration = SSHServerTransport.Configuration(
            openSSH: profile,
            shell: shell,
            users: AcceptedCredentials(context.persona["users"])
        )
        configuration.keyboardInteractive = context.persona["keyboard_interactive"] == "yes"
        if let seconds = context.persona["login_grace_time"].flatMap(Int.init), seconds > 0 {
            configuration.loginGraceTime = .seconds(seconds)
        }
        if let delay = context.persona["password_delay_ms"].flatMap(Int.init), delay >= 0 {
            configuration.failureDelay = delay...delay
        }
        self.configuration = configuration
        self.hostKeys = try SSHHostKeys(directory: context.keyDirectory)
        self.hostKeys.rsa.prewarm()
    }

    /// A connection's task starts at the client's complete identification line, not its first byte: the gate
    /// holds bytes until they make the line, or until sshd would refuse them (the transport answers that).
    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(FirstMessageGate(isComplete: Self.identificationDecided))
    }

    static func identificationDecided(_ bytes: ByteBufferView) -> Bool {
        do {
            return try SSHWire.identificationEnd(bytes) != nil
        } catch {
            return true
        }
    }

    /// sshd's identification line, sent on connect by the runtime, so a connection that never answers (a scanner's,
    /// a flood's) holds no task; it is closed at LoginGraceTime as sshd closes it. The connect time travels as
    /// `state`: the grace counts from it, not from the client's first bytes.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        let (seconds, attoseconds) = self.configuration.loginGraceTime.components
        return Greeting(
            ByteBuffer(string: self.configuration.openSSH.identification + "\r\n"),
            state: ContinuousClock.now,
            answerWithin: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        )
    }

    public func handle(_ connection: Connection<ByteBuffer, ByteBuffer>, session: SessionEvents) async throws {
        var configuration = self.configuration
        configuration.shell.ip = session.destination.ip
        var transport = SSHServerTransport(configuration: configuration, hostKeys: self.hostKeys)
        let artifacts = ArtifactStore(directory: session.context.artifactDirectory)
        defer {
            for case .keep(let artifact) in transport.finish() {
                artifacts.keep(artifact.bytes, as: artifact.id, fields: artifact.fields, session: session)
            }
        }
        // sshd's LoginGraceTime: a connection that has not logged in by then is closed without a word.
        let loggedIn = Atomic<Bool>(false)
        let channel = connection.channel
        let connected = connection.greeting?.state as? ContinuousClock.Instant ?? .now
        let grace = Task { [deadline = connected + configuration.loginGraceTime] in
            try await Task.sleep(until: deadline)
            if !loggedIn.load(ordering: .relaxed) { channel.close(promise: nil) }
        }
        defer { grace.cancel() }
        if connection.greeting == nil { try await connection.outbound.write(ByteBuffer(bytes: transport.greeting())) }
        for try await chunk in connection.inbound {
            var actions = transport.receive(chunk)
            while true {
                var output = ByteBuffer()
                var waitForKey = false
                for action in actions {
                    switch action {
                    case .send(let bytes): output.writeBytes(bytes)
                    case .emit(let id, let fields):
                        if id == .loginSuccess { loggedIn.store(true, ordering: .relaxed) }
                        session.emit(id, fields)
                    case .keep(let artifact):
                        artifacts.keep(artifact.bytes, as: artifact.id, fields: artifact.fields, session: session)
                    case .pause(let milliseconds):
                        if output.readableBytes > 0 { try await connection.outbound.write(output) }
                        output.clear()
                        try await Task.sleep(for: .milliseconds(milliseconds))
                    case .awaitHostKey:
                        waitForKey = true
                    case .close:
                        if output.readableBytes > 0 { try await connection.outbound.write(output) }
                        return
                    }
                }
                if output.readableBytes > 0 { try await connection.outbound.write(output) }
                guard waitForKey else { break }
                _ = try await self.hostKeys.rsa.get()
                transport.hostKeyReady()
                actions = transport.receive(ByteBuffer())
            }
        }
    }
}
