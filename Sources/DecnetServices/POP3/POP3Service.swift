import DecnetCore
import DecnetServiceKit
import NIOCore

/// The `pop3` honeypot (110, and 995 over TLS): Dovecot's POP3 server, with USER/PASS and SASL PLAIN/LOGIN captured.
///
/// Persona key: DECNET-Swift's `users` (logins accepted; none by default).
public struct POP3Service: HoneypotService {
    public static let kind: ServiceKind = "pop3"

    let configuration: DovecotPersona
    /// TLS from the first byte on the context's `tlsPorts` (995, pop3s), as Dovecot serves them.
    let tls: ImplicitTLS

    public init(context: ServiceContext) throws {
        self.configuration = DovecotPersona(context: context)
        self.tls = try ImplicitTLS(context: context)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try self.tls.configure(channel, port: port)
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineDecoder(maximumLength: 4096), maximumBufferSize: 1 << 16)
        )
    }

    /// Dovecot's greeting, sent by the runtime on connect (after the handshake, on a TLS port: the TLS handler
    /// holds it until then): a connection that never logs in holds no task.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        Greeting(ByteBuffer(string: POP3StateMachine(configuration: self.configuration).greeting))
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        let sniffer = await ImplicitTLS.sniffer(connection.channel)
        defer { ImplicitTLS.reportFingerprint(sniffer, session: session) }
        var machine = POP3StateMachine(configuration: self.configuration.withPlantedMail())
        let greeting = connection.greeting == nil ? Array(machine.greeting.utf8) : []
        try await ProtocolLoop.serve(connection, session: session, greeting: greeting) { frame in
            switch frame {
            case .line(let line): machine.received(line)
            case .tooLong: machine.receivedOverlongLine()
            }
        }
    }
}
