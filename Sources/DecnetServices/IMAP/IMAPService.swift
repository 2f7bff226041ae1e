import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `imap` honeypot (143, and 993 over TLS): Dovecot's IMAP server, with LOGIN and AUTHENTICATE captured.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default).
public struct IMAPService: HoneypotService {
    public static let kind: ServiceKind = "imap"

    let configuration: DovecotPersona
    /// TLS from the first byte on the context's `tlsPorts` (993, imaps), as Dovecot serves them.
    let tls: ImplicitTLS

    public init(context: ServiceContext) throws {
        self.configuration = DovecotPersona(context: context)
        self.tls = try ImplicitTLS(context: context)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try self.tls.configure(channel, port: port)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RawBytesDecoder()))
    }

    public func handle(_ connection: Connection<[UInt8], ByteBuffer>, session: SessionEvents) async throws {
        let sniffer = await ImplicitTLS.sniffer(connection.channel)
        defer { ImplicitTLS.reportFingerprint(sniffer, session: session) }
        var machine = IMAPStateMachine(configuration: self.configuration.withPlantedMail())
        try await ProtocolLoop.serve(connection, session: session, greeting: Array(machine.greeting.utf8)) {
            machine.received(bytes: $0)
        }
    }
}
