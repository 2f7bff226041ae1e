/// The OS a decky's TCP/IP stack imitates (`nmap_os`). Each family is a set of per-namespace sysctls.
public enum OSFamily: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case linux
    case windows
    case bsd
    case embedded
    case cisco

    public var description: String { self.rawValue }

    /// The TCP/IP parameters that make `ping`, `nmap -O` and p0f see this family.
    public struct StackProfile: Hashable, Sendable {
        /// `net.ipv4.ip_default_ttl`: 64 Unix-like, 128 Windows, 255 network gear and embedded stacks.
        public let ttl: Int
        /// `net.ipv4.tcp_syn_retries`.
        public let synRetries: Int
        /// `net.ipv4.tcp_window_scaling`.
        public let windowScaling: Bool
        /// `net.ipv4.tcp_timestamps`: Windows and small embedded stacks send none by default.
        public let timestamps: Bool
        /// `net.ipv4.tcp_sack`.
        public let selectiveAck: Bool
        /// `net.ipv4.tcp_syncookies`: the SYN-flood response pattern.
        public let synCookies: Bool
        /// `net.ipv4.tcp_ecn`: 2 answers ECN when asked (Linux), 0 never.
        public let ecn: Int
        /// `net.ipv4.tcp_rmem` (min default max), or nil to keep the kernel's.
        public let receiveBuffer: String?
        /// The seed's "Notes" column.
        public let notes: String
        /// `net.ipv4.ip_no_pmtu_disc`: 1 sends SYN-ACKs and data without DF, as IOS does.
        public var noPathMTUDiscovery = false
    }

    public var stack: StackProfile {
        switch self {
        case .linux:
            StackProfile(
                ttl: 64,
                synRetries: 6,
                windowScaling: true,
                timestamps: true,
                selectiveAck: true,
                synCookies: true,
                ecn: 2,
                receiveBuffer: nil,
                notes: "Default"
            )
        case .windows:
            StackProfile(
                ttl: 128,
                synRetries: 2,
                windowScaling: true,
                // Windows 10 and Server 2016+ answer a SYN that offers timestamps with timestamps.
                timestamps: true,
                selectiveAck: true,
                synCookies: true,
                ecn: 0,
                receiveBuffer: "4096 131072 8388608",
                notes: "+ 8 MB recv buffer"
            )
        case .bsd:
            StackProfile(
                ttl: 64,
                synRetries: 6,
                windowScaling: true,
                timestamps: true,
                selectiveAck: true,
                synCookies: true,
                ecn: 2,
                receiveBuffer: nil,
                notes: "FreeBSD / macOS-style"
            )
        case .embedded:
            StackProfile(
                ttl: 255,
                synRetries: 3,
                // A printer's or camera's stack: timestamps and window scaling (shift 0) on, no SACK.
                windowScaling: true,
                timestamps: true,
                selectiveAck: false,
                synCookies: false,
                ecn: 0,
                receiveBuffer: nil,
                notes: "Printers, IoT, PLCs"
            )
        case .cisco:
            StackProfile(
                ttl: 255,
                synRetries: 2,
                windowScaling: false,
                timestamps: false,
                selectiveAck: false,
                synCookies: false,
                ecn: 0,
                receiveBuffer: nil,
                notes: "Network devices",
                noPathMTUDiscovery: true
            )
        }
    }

    /// The sysctls to set in the decky's network namespace (or its base container), in a stable order.
    /// Every key is namespaced (`net.ipv4.*`), so setting it never touches the host's own stack.
    public var sysctls: [(key: String, value: String)] {
        let stack = self.stack
        var result: [(key: String, value: String)] = [
            ("net.ipv4.ip_default_ttl", String(stack.ttl)),
            ("net.ipv4.tcp_syn_retries", String(stack.synRetries)),
            ("net.ipv4.tcp_window_scaling", stack.windowScaling ? "1" : "0"),
            ("net.ipv4.tcp_timestamps", stack.timestamps ? "1" : "0"),
            ("net.ipv4.tcp_sack", stack.selectiveAck ? "1" : "0"),
            ("net.ipv4.tcp_syncookies", stack.synCookies ? "1" : "0"),
            ("net.ipv4.tcp_ecn", String(stack.ecn)),
        ]
        if let buffer = stack.receiveBuffer { result.append(("net.ipv4.tcp_rmem", buffer)) }
        if stack.noPathMTUDiscovery { result.append(("net.ipv4.ip_no_pmtu_disc", "1")) }
        return result
    }
}
