import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `pop3` honeypot (110): Dovecot's POP3 server, with USER/PASS and SASL PLAIN/LOGIN captured.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default).
public struct POP3Service: HoneypotService {
    public static let kind: ServiceKind = "pop3"

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
            ByteToMessageHandler(LineDecoder(maximumLength: 4096), maximumBufferSize: 1 << 16)
        )
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        var machine = POP3StateMachine(configuration: self.configuration)
        try await connection.outbound.write(ByteBuffer(string: machine.greeting))
        for try await frame in connection.inbound {
            let actions: [POP3StateMachine.Action]
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
