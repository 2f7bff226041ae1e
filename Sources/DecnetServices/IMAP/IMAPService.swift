import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `imap` honeypot (143): Dovecot's IMAP server, with LOGIN and AUTHENTICATE captured.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default).
public struct IMAPService: HoneypotService {
    public static let kind: ServiceKind = "imap"

    let configuration: DovecotPersona

    public init(context: ServiceContext) throws { self.configuration = DovecotPersona(context: context) }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineDecoder(maximumLength: 16_384), maximumBufferSize: 1 << 17)
        )
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        var machine = IMAPStateMachine(configuration: self.configuration)
        try await ProtocolLoop.serve(connection, session: session, greeting: Array(machine.greeting.utf8)) { frame in
            switch frame {
            case .line(let line): machine.received(line)
            case .tooLong: machine.receivedOverlongLine()
            }
        }
    }
}
