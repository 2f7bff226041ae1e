import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `imap` honeypot (143): Dovecot's IMAP server, with LOGIN and AUTHENTICATE captured.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default).
public struct IMAPService: HoneypotService {
    public static let kind: ServiceKind = "imap"

    struct Configuration: Sendable, Equatable {
        var banner: String
        var users: AcceptedCredentials
        var mailbox: [String]
    }

    let configuration: Configuration

    public init(context: ServiceContext) throws {
        let persona = DovecotPersona(context: context)
        self.configuration = Configuration(banner: persona.greeting, users: persona.users, mailbox: persona.mailbox)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineDecoder(maximumLength: 16_384), maximumBufferSize: 1 << 17)
        )
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        var machine = IMAPStateMachine(configuration: self.configuration)
        try await connection.outbound.write(ByteBuffer(string: machine.greeting))
        for try await frame in connection.inbound {
            let actions: [IMAPStateMachine.Action]
            switch frame {
            case .line(let line): actions = machine.received(line)
            case .tooLong: actions = machine.receivedOverlongLine()
            }
            var reply = ByteBuffer()
            var close = false
            for action in actions {
                switch action {
                case .reply(let text): reply.writeString(text)
                case .emit(let id, let fields): session.emit(id, fields)
                case .close: close = true
                }
            }
            if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
            if close { return }
        }
    }
}
