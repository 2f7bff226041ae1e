import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `pop3` honeypot (110): Dovecot's POP3 server, with USER/PASS and SASL PLAIN/LOGIN captured.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default).
public struct POP3Service: HoneypotService {
    public static let kind: ServiceKind = "pop3"

    let configuration: DovecotPersona

    public init(context: ServiceContext) throws { self.configuration = DovecotPersona(context: context) }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineDecoder(maximumLength: 4096), maximumBufferSize: 1 << 16)
        )
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        var machine = POP3StateMachine(configuration: self.configuration)
        try await ProtocolLoop.serve(connection, session: session, greeting: Array(machine.greeting.utf8)) { frame in
            switch frame {
            case .line(let line): machine.received(line)
            case .tooLong: machine.receivedOverlongLine()
            }
        }
    }
}
