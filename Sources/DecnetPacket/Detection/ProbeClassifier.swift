/// Turns inbound frames into probes. It remembers the TCP handshakes it saw begin (a bounded table), which is
/// what tells a scanner's reset or bare ACK from the packets of a real connection.
public struct ProbeClassifier: Sendable {
    /// A TCP connection as seen from its first packet.
    struct FlowKey: Hashable, Sendable {
        var source: UInt32
        var destination: UInt32
        var ports: UInt32
    }

    enum FlowState: Sendable {
        /// The client sent a SYN; no ACK yet.
        case opening
        /// The handshake completed; `data` once the client sent payload.
        case established(data: Bool)
        /// A FIN was seen: the ACKs and FINs that end the connection follow.
        case closing
    }

    private var flows: [FlowKey: FlowState] = [:]
    private var order: [FlowKey] = []
    private var next = 0
    public let flowCapacity: Int

    public init(flowCapacity: Int = 65_536) {
        self.flowCapacity = max(16, flowCapacity)
        self.flows.reserveCapacity(min(self.flowCapacity, 4096))
    }

    /// Flows remembered now.
    public var flowCount: Int { self.flows.count }

    /// What `frame` is when it reached the decky at `deckyAddress`; nil for traffic that is no probe (replies,
    /// the packets of a connection, ARP for someone else).
    public mutating func classify(_ frame: Frame, deckyAddress: UInt32) -> Probe? {
        switch frame.payload {
        case .arp(let arp):
            guard arp.isRequest, arp.targetIP == deckyAddress, arp.senderIP != deckyAddress, arp.senderIP != 0 else {
                return nil
            }
            return Probe(kind: .arpRequest, source: arp.senderIP, destination: deckyAddress)
        case .ipv4(let ip):
            guard ip.destination == deckyAddress, ip.source != deckyAddress else { return nil }
            switch ip.transport {
            case .tcp(let tcp): return self.classify(tcp: tcp, ip: ip)
            case .udp(let udp): return Self.classify(udp: udp, ip: ip)
            case .icmp(let icmp): return Self.classify(icmp: icmp, ip: ip)
            case .other, .truncated: return nil
            }
        }
    }

    private mutating func classify(tcp: TCPSegment, ip: IPv4Packet) -> Probe? {
        let key = FlowKey(
            source: ip.source,
            destination: ip.destination,
            ports: UInt32(tcp.sourcePort) << 16 | UInt32(tcp.destinationPort)
        )
        func probe(_ kind: Probe.Kind, _ traits: Probe.Traits = [], syn: SYNShape? = nil) -> Probe {
            Probe(
                kind: kind,
                source: ip.source,
                sourcePort: tcp.sourcePort,
                destination: ip.destination,
                port: tcp.destinationPort,
                traits: traits,
                ttl: ip.ttl,
                syn: syn
            )
        }
        if let marker = Self.nmapOSProbe(tcp) { return probe(.osProbe, marker) }
        let flags = tcp.flags.classic
        switch flags {
        case [.syn]:
            self.remember(key, .opening)
            let shape = SYNShape(ip: ip, tcp: tcp)
            return probe(.tcpSYN, Self.traits(of: shape), syn: shape)
        case [.syn, .ack]:
            // The answer to a connection the decky opened (FTP active mode): its packets are not probes.
            self.remember(key, .established(data: false))
            return nil
        case []:
            return probe(.tcpNull, Self.rawProbeTraits(ip: ip, tcp: tcp))
        case [.fin]:
            return probe(.tcpFIN, Self.rawProbeTraits(ip: ip, tcp: tcp))
        case [.fin, .psh, .urg]:
            return probe(.tcpXmas, Self.rawProbeTraits(ip: ip, tcp: tcp))
        default:
            break
        }
        if flags.contains(.syn) { return probe(.tcpOddFlags, Self.rawProbeTraits(ip: ip, tcp: tcp)) }
        let state = self.flows[key]
        if flags.contains(.rst) {
            guard let state else { return nil }
            self.forget(key)
            switch state {
            case .opening, .established(data: false): return probe(.tcpScanReset)
            case .established(data: true), .closing: return nil
            }
        }
        if flags.contains(.fin) {
            guard state != nil else {
                return flags == [.fin, .ack] ? probe(.tcpMaimon, Self.rawProbeTraits(ip: ip, tcp: tcp)) : nil
            }
            self.flows[key] = .closing
            return nil
        }
        // ACK, with or without data.
        switch state {
        case nil:
            return tcp.payloadLength == 0 && flags == [.ack]
                ? probe(.tcpACK, Self.rawProbeTraits(ip: ip, tcp: tcp)) : nil
        case .opening:
            if tcp.payloadLength == 0 {
                self.flows[key] = .established(data: false)
                return probe(.tcpHandshakeACK)
            }
            self.flows[key] = .established(data: true)
            return VersionProbes.matches(tcp.payloadPrefix) ? probe(.versionProbe, .nmapVersion) : nil
        case .established(data: false):
            guard tcp.payloadLength > 0 else { return nil }
            self.flows[key] = .established(data: true)
            return VersionProbes.matches(tcp.payloadPrefix) ? probe(.versionProbe, .nmapVersion) : nil
        case .closing:
            return nil
        case .established(data: true):
            // A later probe on the same connection (nmap sends its probes one per connection; this is rare).
            return tcp.payloadLength > 0 && VersionProbes.matches(tcp.payloadPrefix)
                ? probe(.versionProbe, .nmapVersion) : nil
        }
    }

    private static func classify(udp: UDPDatagram, ip: IPv4Packet) -> Probe? {
        var traits: Probe.Traits = []
        if udp.payloadLength == 0 { traits.insert(.hping) }
        if udp.payloadLength == 300, udp.payloadPrefix.allSatisfy({ $0 == 0x43 }), ip.identification == 0x1042 {
            traits.insert(.nmapOS)
        }
        return Probe(
            kind: traits.contains(.nmapOS) ? .osProbe : .udp,
            source: ip.source,
            sourcePort: udp.sourcePort,
            destination: ip.destination,
            port: udp.destinationPort,
            traits: traits,
            ttl: ip.ttl
        )
    }

    private static func classify(icmp: ICMPMessage, ip: IPv4Packet) -> Probe? {
        let kind: Probe.Kind
        var traits: Probe.Traits = []
        switch icmp.type {
        case 8:
            // nmap's IE probes: code 9, seq 295, DF; then TOS 4, seq 296, 150 bytes.
            if (icmp.code == 9 && icmp.sequence == 295) || (ip.tos == 4 && icmp.sequence == 296) {
                return Probe(kind: .osProbe, source: ip.source, destination: ip.destination, traits: .nmapOS)
            }
            kind = .icmpEcho
        case 13: kind = .icmpTimestamp
        case 17: kind = .icmpAddressMask
        default: return nil
        }
        if icmp.payloadLength == 0 { traits.insert(.hping) }
        return Probe(kind: kind, source: ip.source, destination: ip.destination, traits: traits, ttl: ip.ttl)
    }

    /// nmap's OS-detection TCP probes: every SEQ and T2–T7 probe carries TSval 0xFFFFFFFF; the ECN probe is a
    /// SYN with ECE, CWR and the reserved bit, window 3 and urgent pointer 0xF7F5.
    static func nmapOSProbe(_ tcp: TCPSegment) -> Probe.Traits? {
        if let timestamp = tcp.timestamp, timestamp.value == 0xFFFF_FFFF, timestamp.echo == 0 { return .nmapOS }
        if tcp.flags.isSuperset(of: [.syn, .ece, .cwr]), tcp.window == 3, tcp.urgentPointer == 0xF7F5 {
            return .nmapOS
        }
        return nil
    }

    /// Traits of a SYN's builder.
    static func traits(of syn: SYNShape) -> Probe.Traits {
        var traits: Probe.Traits = []
        let kinds = syn.optionKinds
        if [1024, 2048, 3072, 4096].contains(syn.window), kinds == [2], syn.mss == 1460, !syn.dontFragment {
            traits.insert(.nmapRaw)
        }
        if syn.window == 1024, kinds.isEmpty, syn.ttl > 128 { traits.insert(.masscan) }
        if syn.identification == 54321, syn.window == 65535, kinds.isEmpty { traits.insert(.zmap) }
        if syn.window == 512, kinds.isEmpty { traits.insert(.hping) }
        if kinds.contains(2), kinds.contains(4) || kinds.contains(8), kinds.count >= 4 { traits.insert(.osStack) }
        return traits
    }

    /// Traits of a raw non-SYN probe (nmap's NULL/FIN/Xmas/ACK/Maimon: window 1024, no options).
    static func rawProbeTraits(ip: IPv4Packet, tcp: TCPSegment) -> Probe.Traits {
        var traits: Probe.Traits = []
        if [1024, 2048, 3072, 4096].contains(tcp.window), tcp.options.isEmpty { traits.insert(.nmapRaw) }
        if tcp.window == 512, tcp.options.isEmpty { traits.insert(.hping) }
        return traits
    }

    private mutating func remember(_ key: FlowKey, _ state: FlowState) {
        if self.flows.updateValue(state, forKey: key) != nil { return }
        if self.order.count < self.flowCapacity {
            self.order.append(key)
            return
        }
        // Full: the oldest entry makes room (its connection is long past its handshake, or a flood's).
        let evicted = self.order[self.next]
        self.flows[evicted] = nil
        self.order[self.next] = key
        self.next = (self.next + 1) % self.flowCapacity
    }

    private mutating func forget(_ key: FlowKey) {
        // The slot in `order` stays until it is reused; a missing key there is harmless.
        self.flows[key] = nil
    }
}

/// The first bytes of nmap's most-sent service probes (facts of what it puts on the wire for -sV).
enum VersionProbes {
    static let prefixes: [[UInt8]] = [
        Array("GET / HTTP/1.0\r\n\r\n".utf8),
        Array("OPTIONS / HTTP/1.0\r\n\r\n".utf8),
        Array("OPTIONS / RTSP/1.0\r\n\r\n".utf8),
        Array("HELP\r\n".utf8),
        // SSLSessionReq: an SSLv3 ClientHello of 0x53 bytes.
        [0x16, 0x03, 0x00, 0x00, 0x53, 0x01, 0x00, 0x00, 0x4F, 0x03, 0x00],
        // RPCCheck: a Sun RPC call record of 0x28 bytes.
        [0x80, 0x00, 0x00, 0x28, 0x72, 0xFE, 0x1D, 0x13],
    ]
    /// GenericLines: exactly an empty line pair.
    static let genericLines: [UInt8] = Array("\r\n\r\n".utf8)

    static func matches(_ payload: [UInt8]) -> Bool {
        if payload == Self.genericLines { return true }
        return Self.prefixes.contains { prefix in
            payload.count >= prefix.count && payload.prefix(prefix.count).elementsEqual(prefix)
        }
    }
}
