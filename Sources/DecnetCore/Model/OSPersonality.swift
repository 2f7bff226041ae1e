/// The operating system a decky's TCP/IP stack imitates in detail: its family (`nmap_os`), narrowed by what the
/// rest of the decky claims (a Windows decky whose SMB says "Windows Server 2019" is a server).
///
/// The kernel is told what it can be told (sysctls and route metrics, which hold for a whole connection); the
/// packet layer's shaper rewrites the rest of what `nmap -O` and p0f read on the decky's SYN-ACKs, RSTs and ICMP
/// (DecnetPacket's `PersonalityTable`). Linux needs no rewriting.
public enum OSPersonality: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Linux 5.x / 6.x.
    case linux
    /// Windows 10 / 11.
    case windows
    /// Windows Server 2016 / 2019 / 2022.
    case windowsServer = "windows-server"
    /// FreeBSD 13 / 14.
    case freebsd
    /// An embedded device: a network printer or camera.
    case embedded
    /// A Cisco IOS router.
    case cisco

    public var description: String { self.rawValue }

    public var family: OSFamily {
        switch self {
        case .linux: .linux
        case .windows, .windowsServer: .windows
        case .freebsd: .bsd
        case .embedded: .embedded
        case .cisco: .cisco
        }
    }

    /// The personality of a family when nothing else narrows it.
    public init(family: OSFamily, server: Bool = false) {
        switch family {
        case .linux: self = .linux
        case .windows: self = server ? .windowsServer : .windows
        case .bsd: self = .freebsd
        case .embedded: self = .embedded
        case .cisco: self = .cisco
        }
    }

    /// A decky's personality: a Windows decky is a server when a service's `os_version` names a server release,
    /// or, with none, when its archetype is a server's.
    public static func of(_ decky: Decky) -> OSPersonality {
        guard decky.osFamily == .windows else { return OSPersonality(family: decky.osFamily) }
        let versions = decky.services.compactMap { $0.persona["os_version"] }
        if let version = versions.first {
            return OSPersonality(family: .windows, server: version.lowercased().contains("server"))
        }
        let servers: Set<String> = ["windows-server", "domain-controller"]
        return OSPersonality(family: .windows, server: decky.archetype.map(servers.contains) ?? false)
    }

    /// Whether the packet layer rewrites this personality's packets (Linux is the kernel's own).
    public var isShaped: Bool { self != .linux }

    /// The family's sysctls with this personality's own on top.
    public var sysctls: [(key: String, value: String)] {
        var result = self.family.sysctls
        func set(_ key: String, _ value: String) {
            if let index = result.firstIndex(where: { $0.key == key }) { result[index].value = value }
        }
        if self == .windowsServer {
            // Server editions answer an ECN-setup SYN with ECE (CC=Y); clients do not.
            set("net.ipv4.tcp_ecn", "2")
        }
        if self == .windows || self == .windowsServer || self == .embedded {
            // One 1 kHz timestamp clock for every connection, as Windows and printers have; Linux (1) adds a
            // random offset per connection, which nmap reads as no clock at all, as FreeBSD's.
            set("net.ipv4.tcp_timestamps", "2")
        }
        return result
    }

    /// Route metrics set on every route in the decky's namespace (`ip route … window W initrwnd N`).
    public struct RouteMetrics: Hashable, Sendable {
        /// RTAX_WINDOW: the largest window, so the window scale Linux offers is ilog2(window) − 15.
        public var window: UInt32 = 0
        /// RTAX_INITRWND: the SYN-ACK's window, in segments.
        public var initialReceiveWindow: UInt32 = 0

        public var isEmpty: Bool { self.window == 0 && self.initialReceiveWindow == 0 }
    }

    /// What pins the window scale and the first window where sysctls cannot: FreeBSD offers shift 6 and a
    /// printer shift 0 (the host's `net.core.rmem_max` would give 7); a Linux decky's SYN-ACK offers ten
    /// segments, which p0f knows as Linux (the kernel's 65,160 it does not know).
    public var routeMetrics: RouteMetrics {
        switch self {
        case .linux: RouteMetrics(initialReceiveWindow: 10)
        case .freebsd: RouteMetrics(window: 4_194_303)
        case .embedded: RouteMetrics(window: 65_535)
        case .windows, .windowsServer, .cisco: RouteMetrics()
        }
    }

    /// The window scale the decky's SYN-ACKs offer (nil: none). The shaper checks the kernel's against it and
    /// never rewrites it.
    public var windowScale: UInt8? {
        switch self {
        case .linux: 7
        case .windows, .windowsServer: 8
        case .freebsd: 6
        case .embedded: 0
        case .cisco: nil
        }
    }
}

extension Decky {
    /// The decky's OS personality.
    public var personality: OSPersonality { OSPersonality.of(self) }

    /// Whether its packets are shaped to the personality (`os_shaping`; on unless turned off, and only where the
    /// personality is not the kernel's own).
    public var shapesPackets: Bool { (self.osShaping ?? true) && self.personality.isShaped }
}
