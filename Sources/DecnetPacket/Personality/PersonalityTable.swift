import DecnetCore

/// What a decky's packets must show, per OS personality, beyond what the kernel can be told: the traits
/// `nmap -O` and p0f read on SYN-ACKs, RSTs and ICMP. These are our own values, observed from each OS's
/// behaviour (docs/os-personalities.md says where each comes from); nmap's database is never read.
public struct PacketShape: Sendable, Equatable {
    /// How the options of a SYN-ACK are laid out. Only the order and the padding change: the kernel's own
    /// options, values and length are kept, so the connection the kernel runs is the one the peer sees.
    public enum OptionLayout: Sendable, Equatable {
        /// Linux: MSS, SACK-permitted, timestamps, NOP, window scale.
        case kernel
        /// Windows (and the printer stack): MSS, NOP, window scale, SACK-permitted, timestamps; NOP NOP
        /// before a lone SACK-permitted or timestamps.
        case windows
        /// FreeBSD: as Windows, but a lone SACK-permitted is padded with EOL EOL after it.
        case freebsd
    }

    /// How IP IDs go on the packets the layer shapes.
    public enum IPID: Sendable, Equatable {
        /// What the kernel wrote.
        case kernel
        /// One counter per decky, +1 per packet, shared by TCP and ICMP (Windows, printers).
        case incremental
        /// Random.
        case random
        /// One counter per decky advancing by a random 1,001–1,500 each packet (BSD and IOS ICMP).
        case randomIncrements
    }

    public var layout: OptionLayout
    /// The SYN-ACK's window (nil: the kernel's).
    public var synAckWindow: UInt16?
    /// The SYN-ACK's MSS (nil: the kernel's); only ever lowered.
    public var synAckMSS: UInt16?
    public var tcpID: IPID
    public var icmpID: IPID
    /// SYN-ACKs leave without DF.
    public var clearSynAckDontFragment: Bool
    /// RSTs leave without DF (Linux's reset socket always sets it).
    public var clearResetDontFragment: Bool
    /// A RST without ACK carries a nonzero acknowledgment number (Windows), where Linux sends 0.
    public var bareResetAcknowledges: Bool
    /// Echo replies carry code 0 whatever the request's code was (Linux echoes the code back).
    public var echoCodeZero: Bool
    /// Echo replies carry DF exactly when the request did (Linux never sets it on them).
    public var echoMirrorsDontFragment: Bool
    /// How much of the offending datagram an ICMP error quotes, IP header included (nil: the kernel's, all of
    /// it up to 576 bytes).
    public var errorQuote: Int?
    /// The quoted UDP header's checksum reads 0.
    public var errorQuoteZeroUDPChecksum: Bool

    /// Whether the layer must see incoming echo requests (to mirror their DF).
    public var watchesEchoRequests: Bool { self.echoMirrorsDontFragment }
    /// Whether ICMP errors are shaped.
    public var shapesErrors: Bool {
        self.errorQuote != nil || self.errorQuoteZeroUDPChecksum || self.icmpID != .kernel
    }
}

/// The shapes, one per personality.
public enum PersonalityTable {
    public static func shape(_ personality: OSPersonality) -> PacketShape {
        switch personality {
        case .linux:
            PacketShape(
                layout: .kernel,
                synAckWindow: nil,
                synAckMSS: nil,
                tcpID: .kernel,
                icmpID: .kernel,
                clearSynAckDontFragment: false,
                clearResetDontFragment: false,
                bareResetAcknowledges: false,
                echoCodeZero: false,
                echoMirrorsDontFragment: false,
                errorQuote: nil,
                errorQuoteZeroUDPChecksum: false
            )
        case .windows, .windowsServer:
            // Windows 10 and Server 2016+: 8,192 on every SYN-ACK, one IP ID counter for everything, echo
            // replies with code 0, RSTs that acknowledge.
            PacketShape(
                layout: .windows,
                synAckWindow: 8192,
                synAckMSS: nil,
                tcpID: .incremental,
                icmpID: .incremental,
                clearSynAckDontFragment: false,
                clearResetDontFragment: false,
                bareResetAcknowledges: true,
                echoCodeZero: true,
                echoMirrorsDontFragment: false,
                errorQuote: nil,
                errorQuoteZeroUDPChecksum: false
            )
        case .freebsd:
            // FreeBSD: 65,535, zero IP IDs on TCP (as Linux), random-increment IDs on ICMP, echo DF mirrored.
            PacketShape(
                layout: .freebsd,
                synAckWindow: 65535,
                synAckMSS: nil,
                tcpID: .kernel,
                icmpID: .randomIncrements,
                clearSynAckDontFragment: false,
                clearResetDontFragment: false,
                bareResetAcknowledges: false,
                echoCodeZero: false,
                echoMirrorsDontFragment: true,
                errorQuote: nil,
                errorQuoteZeroUDPChecksum: false
            )
        case .embedded:
            // A network printer: two segments of window, one shared IP ID counter, RSTs without DF, short
            // ICMP error quotes with the UDP checksum zeroed.
            PacketShape(
                layout: .windows,
                synAckWindow: 2920,
                synAckMSS: nil,
                tcpID: .incremental,
                icmpID: .incremental,
                clearSynAckDontFragment: false,
                clearResetDontFragment: true,
                bareResetAcknowledges: false,
                echoCodeZero: false,
                echoMirrorsDontFragment: true,
                errorQuote: 84,
                errorQuoteZeroUDPChecksum: true
            )
        case .cisco:
            // IOS: MSS 536 and a 4,128 window on SYN-ACKs, no DF, random TCP IP IDs, ICMP errors quoting the
            // IP header and 8 bytes.
            PacketShape(
                layout: .kernel,
                synAckWindow: 4128,
                synAckMSS: 536,
                tcpID: .random,
                icmpID: .randomIncrements,
                clearSynAckDontFragment: true,
                clearResetDontFragment: true,
                bareResetAcknowledges: false,
                echoCodeZero: false,
                echoMirrorsDontFragment: true,
                errorQuote: 28,
                errorQuoteZeroUDPChecksum: false
            )
        }
    }
}
