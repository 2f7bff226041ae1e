/// What kind of scan a source is running, as the seed's and nmap's names for them.
public enum ScanType: String, Sendable, CaseIterable, Comparable {
    case tcpSYN = "tcp_syn"
    case tcpConnect = "tcp_connect"
    case tcpNull = "tcp_null"
    case tcpFIN = "tcp_fin"
    case tcpXmas = "tcp_xmas"
    case tcpACK = "tcp_ack"
    case tcpMaimon = "tcp_maimon"
    case tcpOddFlags = "tcp_odd_flags"
    case udp = "udp"
    case icmpEcho = "icmp_echo"
    case icmpTimestamp = "icmp_timestamp"
    case icmpAddressMask = "icmp_address_mask"
    case arpSweep = "arp_sweep"
    case osDetection = "os_detection"
    case versionProbe = "version_probe"
    case synFlood = "syn_flood"
    case udpFlood = "udp_flood"
    case icmpFlood = "icmp_flood"

    public static func < (lhs: ScanType, rhs: ScanType) -> Bool { lhs.order < rhs.order }

    /// Its place in the list above (stable, and the bit it takes in a `ScanTypeSet`).
    var order: Int {
        switch self {
        case .tcpSYN: 0
        case .tcpConnect: 1
        case .tcpNull: 2
        case .tcpFIN: 3
        case .tcpXmas: 4
        case .tcpACK: 5
        case .tcpMaimon: 6
        case .tcpOddFlags: 7
        case .udp: 8
        case .icmpEcho: 9
        case .icmpTimestamp: 10
        case .icmpAddressMask: 11
        case .arpSweep: 12
        case .osDetection: 13
        case .versionProbe: 14
        case .synFlood: 15
        case .udpFlood: 16
        case .icmpFlood: 17
        }
    }
}

/// A set of scan types as bits: what the detector computes for every packet, without allocating.
struct ScanTypeSet: OptionSet, Sendable, Hashable {
    let rawValue: UInt32

    init(rawValue: UInt32) { self.rawValue = rawValue }
    init(_ type: ScanType) { self.rawValue = 1 << UInt32(type.order) }

    mutating func insert(_ type: ScanType) { self.formUnion(ScanTypeSet(type)) }
    func contains(_ type: ScanType) -> Bool { self.contains(ScanTypeSet(type)) }

    var types: Set<ScanType> { Set(ScanType.allCases.filter { self.contains($0) }) }
}

/// One report of a scan, bound to one decky: raised when a scan is first recognised (for every decky it
/// touched), when it reaches another decky or shows a new type, every so often while it goes on, and when it ends.
public struct ScanReport: Sendable, Equatable {
    public enum Phase: String, Sendable {
        case detected, progress, ended
    }

    public var phase: Phase
    /// Shared by every report of one scan (12 hex digits).
    public var scanID: String
    /// The scanner (IPv4, host order) and the source port of its first packet (0 for ARP and ICMP).
    public var source: UInt32
    public var sourcePort: UInt16
    /// The decky this report is about, its address, and the first port probed there (0 for ARP/ICMP).
    public var decky: String
    public var deckyAddress: UInt32
    public var port: UInt16
    /// The type this report announces (the newest one on `detected`), and every type seen so far.
    public var type: ScanType
    public var types: [ScanType]
    /// Deckies touched, in the order they were touched (at most `ScanDetector.deckyListLimit` names).
    public var deckies: [String]
    public var deckyCount: Int
    /// Distinct ports probed on this decky (TCP and UDP), and the lowest of them.
    public var deckyPortCount: Int
    public var portSample: [UInt16]
    /// Distinct (decky, port) targets over the whole scan.
    public var targetCount: Int
    public var packets: Int
    /// The most packets seen in one second.
    public var peakRate: Int
    public var firstSeen: Double
    public var lastSeen: Double
    public var tool: String?
    public var toolBasis: String?
}

/// The attacker's own TCP/IP stack, read from a SYN it sent.
public struct FingerprintReport: Sendable, Equatable {
    public var source: UInt32
    public var sourcePort: UInt16
    public var decky: String
    public var deckyAddress: UInt32
    public var port: UInt16
    public var fingerprint: TCPFingerprint
}

/// What the detector has to say.
public enum DetectorOutput: Sendable, Equatable {
    case scan(ScanReport)
    case fingerprint(FingerprintReport)
}
