import DecnetCore
import NIOCore

/// A TCP protocol emulator as the runtime runs it: codecs on the channel, then one async loop per connection.
///
/// `configure` runs on the channel's event loop before the channel is wrapped; it adds the protocol's decoder
/// (always as `ByteToMessageHandler(decoder, maximumBufferSize:)`) and encoder. `handle` serves the
/// connection; the runtime owns its lifetime (it closes the channel when `handle` returns or throws, and turns
/// a decoder's buffer-limit error into a `client.malformed` event), so hostile input can end a connection but
/// never the listener.
public protocol TCPHoneypot: Sendable {
    associatedtype Inbound: Sendable
    associatedtype Outbound: Sendable

    /// Adds this protocol's handlers. `port` is the port the listener was configured with (0 when the system
    /// picked one): some services speak differently per port (TLS on 443).
    func configure(_ channel: any Channel, port: Int) throws

    /// Serves one connection: read requests from `connection.inbound`, write replies to `connection.outbound`.
    func handle(_ connection: Connection<Inbound, Outbound>, session: SessionEvents) async throws

    /// True when `handle` reads before it writes anything (the client speaks first, as in HTTP or Redis): the
    /// runtime then starts the connection's task only at its first decoded message (or its end). A connection
    /// that never completes a request, as a slow-loris flood's do by the thousand, then holds no task at all;
    /// its `connection.open` is raised at once either way. False (the default) starts it on connect.
    static var waitsForClient: Bool { get }

    /// What the service says first, on connect, when it can be said without the connection's task (a banner,
    /// a handshake packet): the runtime writes it when the connection becomes active and then starts the task
    /// at the client's first message, as for `waitsForClient`; `handle` finds it in `connection.greeting` and
    /// does not send it again. `state` is whatever `handle` needs of it (MySQL's salt). nil (the default): the
    /// task starts on connect and sends its own greeting.
    func greeting(session: SessionEvents) -> Greeting<Outbound>?
}

/// A greeting the runtime sent on the service's behalf (`TCPHoneypot.greeting(session:)`).
public struct Greeting<Message: Sendable>: Sendable {
    public var message: Message
    public var state: (any Sendable)?
    /// How long the client has to answer it: a connection still silent then is closed by the runtime, as the real
    /// server closes it (sshd's LoginGraceTime); nil leaves it to the listener's idle timeout.
    public var answerWithin: TimeAmount?

    public init(_ message: Message, state: (any Sendable)? = nil, answerWithin: TimeAmount? = nil) {
        self.message = message
        self.state = state
        self.answerWithin = answerWithin
    }
}

extension TCPHoneypot {
    public static var waitsForClient: Bool { false }

    public func greeting(session: SessionEvents) -> Greeting<Outbound>? { nil }
}

/// One accepted connection as a service sees it.
public struct Connection<Inbound: Sendable, Outbound: Sendable>: Sendable {
    public let inbound: ConnectionInbound<Inbound>
    public let outbound: ConnectionOutbound<Outbound>
    /// The underlying channel (addresses, TLS handlers, an abrupt close).
    public let channel: any Channel
    /// The greeting the runtime already sent (`TCPHoneypot.greeting(session:)`), if any.
    public let greeting: Greeting<Outbound>?

    public init(
        inbound: ConnectionInbound<Inbound>,
        outbound: ConnectionOutbound<Outbound>,
        channel: any Channel,
        greeting: Greeting<Outbound>? = nil
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.channel = channel
        self.greeting = greeting
    }
}

/// Builds a service instance for one decky from its context (persona included).
public protocol HoneypotService: TCPHoneypot {
    /// The slug this emulator implements.
    static var kind: ServiceKind { get }

    /// Reads the persona; a value it cannot use is a `ConfigurationError` naming the key.
    init(context: ServiceContext) throws
}
