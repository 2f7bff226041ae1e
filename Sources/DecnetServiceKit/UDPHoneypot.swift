import DecnetCore

/// A UDP protocol emulator (tftp, snmp, llmnr/mdns, sip): one datagram in, at most one datagram out. The
/// runtime's `UDPListener` owns the socket, rate-limits each source and binds a `SessionEvents` per source flow.
public protocol UDPHoneypot: Sendable {
    /// Answers one datagram; nil sends nothing. Hostile bytes get the protocol's error reply or silence, never a
    /// throw.
    func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]?
}
