/// What one inbound packet to a decky is, seen as a probe: the kind of touch it is and the traits of the tool
/// that built it. Made by `ProbeClassifier`; fed to `ScanDetector`.
public struct Probe: Sendable, Equatable {
    public var kind: Kind
    /// The attacker's address (IPv4, host order) and port (0 for ARP and ICMP).
    public var source: UInt32
    public var sourcePort: UInt16
    /// The decky's address and port (0 for ARP and ICMP).
    public var destination: UInt32
    public var port: UInt16
    public var traits: Traits
    /// The IP TTL it arrived with (nmap draws a new one for every raw packet; stacks and other tools do not).
    public var ttl: UInt8
    /// The TCP SYN, kept for the attacker's fingerprint (only on `.tcpSYN`).
    public var syn: SYNShape?

    public enum Kind: String, Sendable, CaseIterable {
        /// A SYN (a half-open or a connect scan's first packet, or a client's).
        case tcpSYN
        /// The client's ACK that completes a handshake we saw begin.
        case tcpHandshakeACK
        /// The client reset a handshake it began without completing it (a half-open scan), or reset a
        /// connection straight after completing it (a connect scan).
        case tcpScanReset
        case tcpNull
        case tcpFIN
        case tcpXmas
        /// An ACK outside any connection (ACK or window scan).
        case tcpACK
        /// FIN+ACK outside any connection (Maimon scan).
        case tcpMaimon
        /// A flag combination no TCP stack sends (SYN+FIN, SYN+RST …).
        case tcpOddFlags
        case udp
        case icmpEcho
        case icmpTimestamp
        case icmpAddressMask
        case arpRequest
        /// One of nmap's OS-detection probes (its SEQ/ECN/T2–T7/U1/IE packets).
        case osProbe
        /// The first data of a connection is a service-version probe (nmap -sV, banner grabbers).
        case versionProbe
    }

    /// Traits of the packet's builder.
    public struct Traits: OptionSet, Sendable, Hashable {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// nmap's raw SYN (and its ACK/FIN/NULL/Xmas probes): window 1024–4096, at most the MSS 1460 option.
        public static let nmapRaw = Traits(rawValue: 1 << 0)
        /// masscan: window 1024, no options, initial TTL 255.
        public static let masscan = Traits(rawValue: 1 << 1)
        /// zmap: IP ID 54321, window 65535, no options.
        public static let zmap = Traits(rawValue: 1 << 2)
        /// hping3's defaults: window 512, no options (TCP); an empty payload (UDP).
        public static let hping = Traits(rawValue: 1 << 3)
        /// Built by an operating system's own stack (a connect() SYN: MSS plus SACK or timestamps).
        public static let osStack = Traits(rawValue: 1 << 4)
        /// nmap's OS-detection markers (TSval 0xFFFFFFFF and its probe windows, ICMP code 9 seq 295, 300 'C's).
        public static let nmapOS = Traits(rawValue: 1 << 5)
        /// The payload is one of nmap's service probes.
        public static let nmapVersion = Traits(rawValue: 1 << 7)
    }

    public init(
        kind: Kind,
        source: UInt32,
        sourcePort: UInt16 = 0,
        destination: UInt32,
        port: UInt16 = 0,
        traits: Traits = [],
        ttl: UInt8 = 0,
        syn: SYNShape? = nil
    ) {
        self.ttl = ttl
        self.kind = kind
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.port = port
        self.traits = traits
        self.syn = syn
    }
}

/// The fields of a SYN that fingerprint its sender's stack (p0f's and JA4T's inputs).
public struct SYNShape: Sendable, Equatable, Hashable {
    public var ttl: UInt8
    public var dontFragment: Bool
    public var identification: UInt16
    public var window: UInt16
    /// Option kinds in order (EOL and NOP included).
    public var optionKinds: [UInt8]
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var timestampValue: UInt32?
    public var ecn: Bool
    public var acknowledgementNonZero: Bool
    public var headerOptions: Bool
    public var payloadLength: Int

    public init(ip: IPv4Packet, tcp: TCPSegment) {
        self.ttl = ip.ttl
        self.dontFragment = ip.dontFragment
        self.identification = ip.identification
        self.window = tcp.window
        self.optionKinds = tcp.options.map(\.kind)
        self.mss = tcp.mss
        self.windowScale = tcp.windowScale
        self.timestampValue = tcp.timestamp?.value
        self.ecn = tcp.flags.contains(.ece) || tcp.flags.contains(.cwr)
        self.acknowledgementNonZero = tcp.acknowledgement != 0
        self.headerOptions = ip.headerOptions
        self.payloadLength = tcp.payloadLength
    }
}
