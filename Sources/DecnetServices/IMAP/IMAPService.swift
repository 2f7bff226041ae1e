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

    /// Dovecot's greeting, sent by the runtime on connect (after the handshake, on a TLS port: the TLS handler
    /// holds it until then): a connection that never logs in holds no task.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        Greeting(ByteBuffer(string: IMAPStateMachine(configuration: self.configuration).greeting))
    }

    public func handle(_ connection: Connection<[UInt8], ByteBuffer>, session: SessionEvents) async throws {
        let sniffer = await ImplicitTLS.sniffer(connection.channel)
        defer { ImplicitTLS.reportFingerprint(sniffer, session: session) }
        var machine = IMAPStateMachine(configuration: self.configuration.withPlantedMail())
        let greeting = connection.greeting == nil ? Array(machine.greeting.utf8) : []
        try await ProtocolLoop.serve(connection, session: session, greeting: greeting) {
            machine.received(bytes: $0)
        }
    }
}
