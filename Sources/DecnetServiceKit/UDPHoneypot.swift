import DecnetCore

/// A UDP protocol emulator (tftp, snmp, llmnr/mdns, sip): one datagram in, at most one datagram out. The
/// runtime's `UDPListener` owns the socket, rate-limits each source and binds a `SessionEvents` per source flow.
public protocol UDPHoneypot: Sendable {
    /// Answers one datagram; nil sends nothing. Hostile bytes get the protocol's error reply or silence, never a
    /// throw.
    func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]?

    /// How often the service sends datagrams of its own (LLMNR's bait queries), with ± 10 % jitter; nil never.
    var tickInterval: Duration? { get }

    /// The datagrams the socket on `port` sends now: bytes, destination address and port.
    func tick(port: Int) -> [(datagram: [UInt8], host: String, port: Int)]

    /// Where the reply to `datagram` goes when not back to its source (mDNS answers a multicast querier on the
    /// group); nil for the source.
    func replyDestination(for datagram: [UInt8], session: SessionEvents) -> (host: String, port: Int)?

    /// How long the reply to `datagram` waits, nil for none: a server that forks per request (tftpd) answers a
    /// new request a moment later, and clients (nmap's tftp-enum) count on it.
    func replyDelay(for datagram: [UInt8]) -> Duration?

    /// How many times its request a reply may be (nil: the listener's bound, 8). A protocol whose one-byte
    /// question gets a whole record (the SQL Server Browser) says so; the per-source rate still bounds what a
    /// spoofed source can reflect.
    var amplificationAllowance: Int? { get }
}

extension UDPHoneypot {
    public var amplificationAllowance: Int? { nil }
    public var tickInterval: Duration? { nil }
    public func tick(port: Int) -> [(datagram: [UInt8], host: String, port: Int)] { [] }
    public func replyDestination(for datagram: [UInt8], session: SessionEvents) -> (host: String, port: Int)? { nil }
    public func replyDelay(for datagram: [UInt8]) -> Duration? { nil }
}

/// A UDP emulator as the registry lists it: built for one decky from its context, like `HoneypotService`.
public protocol DatagramService: UDPHoneypot {
    /// The slug this emulator implements.
    static var kind: ServiceKind { get }

    /// Reads the persona; a value it cannot use is a `ConfigurationError` naming the key.
    init(context: ServiceContext) throws

    /// IPv4 multicast groups the socket on `port` joins on the decky's interface (224.0.0.252 for LLMNR on 5355).
    static func multicastGroups(port: Int) -> [String]
}

extension DatagramService {
    public static func multicastGroups(port: Int) -> [String] { [] }
}
