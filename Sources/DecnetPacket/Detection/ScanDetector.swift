/// Aggregates probes per source into scans. A source becomes a scanner when what it touched crosses a
/// threshold (ports, deckies, a packet no TCP stack sends, nmap's OS or version probes, a flood rate); from then
/// on its scan is reported per decky it reaches, on each new type, every `progressInterval` and once at its end
/// (`idleTimeout` after its last packet). A 65,535-port scan is a handful of reports, not 65,535.
///
/// Pure and clock-free: times are passed in (seconds). Memory is bounded: at most `maximumSources` sources are
/// followed (the least recently seen makes room) and a source's ports are a bitmap per decky.
public struct ScanDetector: Sendable {
    public struct Settings: Sendable {
        /// Distinct TCP (decky, port) targets that make a port scan.
        public var portThreshold = 5
        /// Distinct UDP (decky, port) targets that make a UDP scan.
        public var udpPortThreshold = 3
        /// Distinct deckies touched the same way (ARP, echo, TCP) that make a sweep.
        public var sweepThreshold = 3
        /// Out-of-connection ACKs (and FIN+ACKs) that make an ACK (Maimon) scan.
        public var ackThreshold = 3
        /// Packets in one second from one source that make a flood.
        public var floodRate = 1000
        /// A scan ends this long after its last packet.
        public var idleTimeout = 10.0
        /// How often a scan that goes on is reported.
        public var progressInterval = 10.0
        public var maximumSources = 4096
        /// Sources that are never scanners: the gateway, the deckies themselves, operator hosts.
        public var ignored: Set<UInt32> = []

        public init() {}
    }

    /// At most this many decky names are listed in a report (the count is always exact).
    public static let deckyListLimit = 64
    /// At most this many ports are listed as a sample.
    public static let portSampleLimit = 20

    public var settings: Settings
    private var sources: [UInt32: SourceState] = [:]
    private var scanCounter: UInt64
    private let scanSalt: UInt64

    public init(settings: Settings = Settings(), seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.settings = settings
        self.scanSalt = seed
        self.scanCounter = 0
    }

    /// Sources followed right now.
    public var sourceCount: Int { self.sources.count }

    /// Scans going on right now.
    public var activeScanCount: Int { self.sources.values.reduce(0) { $0 + ($1.scan == nil ? 0 : 1) } }

    /// Feeds one probe that reached decky `decky` (an index the caller keeps stable) called `name`.
    public mutating func observe(_ probe: Probe, decky: Int, name: String, at time: Double) -> [DetectorOutput] {
        guard !self.settings.ignored.contains(probe.source) else { return [] }
        if self.sources[probe.source] == nil {
            if self.sources.count >= self.settings.maximumSources { self.evictOldest() }
            self.sources[probe.source] = SourceState(time: time, sourcePort: probe.sourcePort)
        }
        var outputs: [DetectorOutput] = []
        let settings = self.settings
        let firstOfShape = self.sources[probe.source]!.absorb(
            probe,
            decky: decky,
            name: name,
            at: time,
            settings: settings
        )
        if let shape = firstOfShape {
            outputs.append(
                .fingerprint(
                    FingerprintReport(
                        source: probe.source,
                        sourcePort: probe.sourcePort,
                        decky: name,
                        deckyAddress: probe.destination,
                        port: probe.port,
                        fingerprint: TCPFingerprint(shape, traits: probe.traits)
                    )
                )
            )
        }
        let mask = self.sources[probe.source]!.scanTypes(settings)
        guard !mask.isEmpty else { return outputs }
        // Most packets of a scan change nothing that is reported: only the tool check below may apply.
        if let scan = self.sources[probe.source]!.scan, scan.mask == mask,
            self.sources[probe.source]!.touches[decky]!.reported,
            !(self.sources[probe.source]!.packets % 16 == 0 || self.sources[probe.source]!.packets < 64)
        {
            return outputs
        }
        let types = mask.types
        var state = self.sources[probe.source]!
        if state.scan == nil {
            self.scanCounter += 1
            state.scan = ActiveScan(
                id: Self.scanID(self.scanSalt, self.scanCounter),
                types: types,
                mask: mask,
                lastReport: time,
                tool: state.tool?.name
            )
            // Recognised now: every decky it touched so far hears of it.
            for index in state.touchOrder {
                state.touches[index]!.reported = true
                outputs.append(.scan(state.report(.detected, type: types.max()!, decky: index, source: probe.source)))
            }
        } else {
            let fresh = types.subtracting(state.scan!.types)
            if !fresh.isEmpty {
                state.scan!.types.formUnion(fresh)
                state.scan!.mask = mask
                state.scan!.tool = state.tool?.name
                state.touches[decky]!.reported = true
                outputs.append(.scan(state.report(.detected, type: fresh.max()!, decky: decky, source: probe.source)))
            } else if state.touches[decky]!.reported == false {
                state.touches[decky]!.reported = true
                outputs.append(
                    .scan(state.report(.detected, type: state.primaryType, decky: decky, source: probe.source))
                )
            } else if state.packets % 16 == 0 || state.packets < 64, let tool = state.tool?.name,
                tool != state.scan!.tool
            {
                // The packets now show the tool (or a different one): said at once, not at the next progress.
                state.scan!.tool = tool
                state.scan!.lastReport = time
                state.scan!.reportedPackets = state.packets
                outputs.append(
                    .scan(state.report(.progress, type: state.primaryType, decky: decky, source: probe.source))
                )
            }
        }
        self.sources[probe.source] = state
        return outputs
    }

    /// Reports scans that went on (`progress`) or went quiet (`ended`) by `time`, and forgets idle sources.
    public mutating func tick(at time: Double) -> [DetectorOutput] {
        var outputs: [DetectorOutput] = []
        var idle: [UInt32] = []
        for (source, state) in self.sources {
            if time - state.last >= self.settings.idleTimeout {
                idle.append(source)
                if state.scan != nil, let first = state.touchOrder.first {
                    outputs.append(.scan(state.report(.ended, type: state.primaryType, decky: first, source: source)))
                }
                continue
            }
            guard var scan = state.scan, time - scan.lastReport >= self.settings.progressInterval,
                state.packets > scan.reportedPackets, let first = state.touchOrder.first
            else { continue }
            scan.lastReport = time
            scan.reportedPackets = state.packets
            self.sources[source]!.scan = scan
            outputs.append(.scan(state.report(.progress, type: state.primaryType, decky: first, source: source)))
        }
        for source in idle { self.sources[source] = nil }
        return outputs
    }

    /// Ends every scan now (the layer is stopping).
    public mutating func finish() -> [DetectorOutput] {
        let outputs = self.sources.compactMap { source, state -> DetectorOutput? in
            guard state.scan != nil, let first = state.touchOrder.first else { return nil }
            return .scan(state.report(.ended, type: state.primaryType, decky: first, source: source))
        }
        self.sources = [:]
        return outputs
    }

    /// Makes room: the quarter of sources seen least recently go (one sort per many arrivals, so a flood of
    /// spoofed sources costs a few comparisons per packet, not a scan of every source). Scans going on are
    /// kept unless they too are among the oldest.
    private mutating func evictOldest() {
        let victims = self.sources.sorted { lhs, rhs in
            (lhs.value.scan == nil ? 0 : 1, lhs.value.last) < (rhs.value.scan == nil ? 0 : 1, rhs.value.last)
        }.prefix(max(1, self.sources.count / 4))
        for (source, _) in victims { self.sources[source] = nil }
    }

    static func scanID(_ salt: UInt64, _ counter: UInt64) -> String {
        // splitmix64 of salt+counter: unique per detector, unguessable across runs.
        var z = salt &+ counter &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let hex = String(z & 0xFFFF_FFFF_FFFF, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex
    }
}

struct ActiveScan: Sendable {
    var id: String
    var types: Set<ScanType>
    /// `types` as bits, to compare with each packet's cheaply.
    var mask: ScanTypeSet
    var lastReport: Double
    var reportedPackets = 0
    /// The tool named in the last report.
    var tool: String?
}

/// What one decky saw of one source.
struct DeckyTouch: Sendable {
    var name: String
    var address: UInt32
    var firstPort: UInt16
    var tcpPorts = PortSet()
    var udpPorts = PortSet()
    var arp = false
    var echo = false
    var reported = false
}

/// A set of ports: a short list, then a 65,536-bit map.
struct PortSet: Sendable {
    private var small: [UInt16] = []
    private var bits: [UInt64]? = nil
    private(set) var count = 0

    /// Inserts; true when new.
    mutating func insert(_ port: UInt16) -> Bool {
        if var bits = self.bits {
            let word = Int(port >> 6)
            let mask = UInt64(1) << UInt64(port & 63)
            guard bits[word] & mask == 0 else { return false }
            self.bits = nil
            bits[word] |= mask
            self.bits = bits
            self.count += 1
            return true
        }
        guard !self.small.contains(port) else { return false }
        self.count += 1
        if self.small.count < 32 {
            self.small.append(port)
            return true
        }
        var bits = [UInt64](repeating: 0, count: 1024)
        for value in self.small + [port] { bits[Int(value >> 6)] |= UInt64(1) << UInt64(value & 63) }
        self.small = []
        self.bits = bits
        return true
    }

    /// The lowest `limit` ports.
    func lowest(_ limit: Int) -> [UInt16] {
        guard let bits = self.bits else { return Array(self.small.sorted().prefix(limit)) }
        var out: [UInt16] = []
        for (index, word) in bits.enumerated() where word != 0 {
            for bit in 0..<64 where word & (UInt64(1) << UInt64(bit)) != 0 {
                out.append(UInt16(index * 64 + bit))
                if out.count == limit { return out }
            }
        }
        return out
    }
}

/// Everything followed about one source.
struct SourceState: Sendable {
    var first: Double
    var last: Double
    var firstSourcePort: UInt16
    var packets = 0
    var touches: [Int: DeckyTouch] = [:]
    var touchOrder: [Int] = []
    var kinds = [Int](repeating: 0, count: SourceState.kindOrder.count)
    /// SYNs by builder trait.
    var synTraits: [UInt16: Int] = [:]
    var syns = 0
    var rawProbes = 0
    var rawNmap = 0
    var rawHping = 0
    /// TTLs seen on crafted probes (SYN, UDP, flag probes), up to 8 distinct.
    var ttls: Set<UInt8> = []
    var sequentialBase = 0
    var tcpTargets = 0
    var udpTargets = 0
    var tcpDeckies = 0
    var udpDeckies = 0
    var arpDeckies = 0
    var echoDeckies = 0
    var udpEmpty = 0
    var sequentialPorts = 0
    var lastSourcePort: UInt16
    var second = -1
    var secondPackets = 0
    var secondTargets = 0
    var peakRate = 0
    var secondKinds = [Int](repeating: 0, count: 3)
    var floodKinds: ScanTypeSet = []
    var fingerprints: Set<TCPFingerprint.Key> = []
    var scan: ActiveScan?

    init(time: Double, sourcePort: UInt16) {
        self.first = time
        self.last = time
        self.firstSourcePort = sourcePort
        self.lastSourcePort = sourcePort
    }

    func count(_ kind: Probe.Kind) -> Int { self.kinds[Self.index(kind)] }

    /// The kinds in a fixed order, made once (`allCases` builds a new array at every use).
    static let kindOrder = Probe.Kind.allCases
    static let kindIndex: [Probe.Kind: Int] = Dictionary(
        uniqueKeysWithValues: SourceState.kindOrder.enumerated().map { ($1, $0) }
    )

    static func index(_ kind: Probe.Kind) -> Int { Self.kindIndex[kind]! }

    /// Adds a probe; returns the SYN to fingerprint when it is the first of its shape.
    mutating func absorb(
        _ probe: Probe,
        decky: Int,
        name: String,
        at time: Double,
        settings: ScanDetector.Settings
    ) -> SYNShape? {
        self.last = max(self.last, time)
        self.packets += 1
        self.kinds[Self.index(probe.kind)] += 1
        if self.touches[decky] == nil {
            self.touches[decky] = DeckyTouch(name: name, address: probe.destination, firstPort: probe.port)
            self.touchOrder.append(decky)
        } else if self.touches[decky]!.firstPort == 0 {
            self.touches[decky]!.firstPort = probe.port
        }
        // ARP and ICMP carry no port: the first port the source used stands for it.
        if self.firstSourcePort == 0 { self.firstSourcePort = probe.sourcePort }
        // Rate, per whole second.
        let second = Int(time)
        if second != self.second {
            self.second = second
            self.secondPackets = 0
            self.secondTargets = 0
            self.secondKinds = [0, 0, 0]
        }
        let targetsBefore = self.tcpTargets + self.udpTargets
        self.secondPackets += 1
        self.peakRate = max(self.peakRate, self.secondPackets)
        switch probe.kind {
        case .tcpSYN, .udp, .tcpNull, .tcpFIN, .tcpXmas, .tcpACK, .tcpMaimon, .tcpOddFlags:
            if self.ttls.count < 8 { self.ttls.insert(probe.ttl) }
            // hping3 counts its source port up by one per packet.
            self.sequentialBase += 1
            if probe.sourcePort == self.lastSourcePort &+ 1 { self.sequentialPorts += 1 }
            self.lastSourcePort = probe.sourcePort
        default:
            break
        }
        var fingerprint: SYNShape?
        switch probe.kind {
        case .tcpSYN:
            self.syns += 1
            self.secondKinds[0] += 1
            for trait in [Probe.Traits.nmapRaw, .masscan, .zmap, .hping, .osStack] where probe.traits.contains(trait) {
                self.synTraits[trait.rawValue, default: 0] += 1
            }
            if let shape = probe.syn, self.fingerprints.count < 4,
                self.fingerprints.insert(TCPFingerprint.Key(shape)).inserted
            {
                fingerprint = shape
            }
            self.addTCP(decky, probe.port)
        case .tcpNull, .tcpFIN, .tcpXmas, .tcpACK, .tcpMaimon, .tcpOddFlags:
            self.rawProbes += 1
            self.secondKinds[0] += 1
            if probe.traits.contains(.nmapRaw) { self.rawNmap += 1 }
            if probe.traits.contains(.hping) { self.rawHping += 1 }
            self.addTCP(decky, probe.port)
        case .udp:
            self.secondKinds[1] += 1
            if probe.traits.contains(.hping) { self.udpEmpty += 1 }
            if self.touches[decky]!.udpPorts.count == 0 { self.udpDeckies += 1 }
            if self.touches[decky]!.udpPorts.insert(probe.port) { self.udpTargets += 1 }
        case .icmpEcho, .icmpTimestamp, .icmpAddressMask:
            self.secondKinds[2] += 1
            if probe.kind == .icmpEcho, !self.touches[decky]!.echo {
                self.touches[decky]!.echo = true
                self.echoDeckies += 1
            }
        case .arpRequest:
            if !self.touches[decky]!.arp {
                self.touches[decky]!.arp = true
                self.arpDeckies += 1
            }
        case .tcpHandshakeACK, .tcpScanReset, .osProbe, .versionProbe:
            break
        }
        self.secondTargets += self.tcpTargets + self.udpTargets - targetsBefore
        // A flood hammers few targets: a fast port scan (nmap -T5, masscan) reaches a new one with most packets.
        if self.secondPackets >= settings.floodRate, self.secondTargets * 10 < self.secondPackets {
            let (tcp, udp, icmp) = (self.secondKinds[0], self.secondKinds[1], self.secondKinds[2])
            if tcp >= udp && tcp >= icmp {
                self.floodKinds.insert(.synFlood)
            } else if udp >= icmp {
                self.floodKinds.insert(.udpFlood)
            } else {
                self.floodKinds.insert(.icmpFlood)
            }
        }
        return fingerprint
    }

    private mutating func addTCP(_ decky: Int, _ port: UInt16) {
        if self.touches[decky]!.tcpPorts.count == 0 { self.tcpDeckies += 1 }
        if self.touches[decky]!.tcpPorts.insert(port) { self.tcpTargets += 1 }
    }

    /// The scan types this source's activity amounts to (empty: not a scanner, yet).
    func scanTypes(_ settings: ScanDetector.Settings) -> ScanTypeSet {
        var types = self.floodKinds
        if self.tcpTargets >= settings.portThreshold || self.tcpDeckies >= settings.sweepThreshold,
            self.syns > 0
        {
            types.insert(self.looksLikeConnectScan ? .tcpConnect : .tcpSYN)
        }
        if self.count(.tcpNull) > 0 { types.insert(.tcpNull) }
        if self.count(.tcpFIN) > 0 { types.insert(.tcpFIN) }
        if self.count(.tcpXmas) > 0 { types.insert(.tcpXmas) }
        if self.count(.tcpOddFlags) > 0 { types.insert(.tcpOddFlags) }
        if self.count(.tcpACK) >= settings.ackThreshold { types.insert(.tcpACK) }
        if self.count(.tcpMaimon) >= settings.ackThreshold { types.insert(.tcpMaimon) }
        if self.udpTargets >= settings.udpPortThreshold || self.udpDeckies >= settings.sweepThreshold {
            types.insert(.udp)
        }
        if self.echoDeckies >= settings.sweepThreshold { types.insert(.icmpEcho) }
        if self.count(.icmpTimestamp) > 0 { types.insert(.icmpTimestamp) }
        if self.count(.icmpAddressMask) > 0 { types.insert(.icmpAddressMask) }
        if self.arpDeckies >= settings.sweepThreshold { types.insert(.arpSweep) }
        if self.count(.osProbe) > 0 { types.insert(.osDetection) }
        if self.count(.versionProbe) > 0 { types.insert(.versionProbe) }
        return types
    }

    /// Most SYNs came from an operating system's connect(), and handshakes were completed then reset.
    var looksLikeConnectScan: Bool {
        let osStack = self.synTraits[Probe.Traits.osStack.rawValue, default: 0]
        return osStack * 2 > self.syns
    }

    /// The scan's main type: a flood over a sweep over a port scan, as an analyst would name it.
    var primaryType: ScanType {
        let types = self.scan?.types ?? []
        for type in [ScanType.synFlood, .udpFlood, .icmpFlood, .osDetection, .tcpSYN, .tcpConnect, .udp, .arpSweep]
        where types.contains(type) {
            return type
        }
        return types.min() ?? .tcpSYN
    }

    /// The tool this activity points to, and why.
    var tool: (name: String, basis: String)? {
        let syns = self.syns
        func share(_ trait: Probe.Traits) -> Int { self.synTraits[trait.rawValue, default: 0] }
        if self.count(.osProbe) > 0 {
            return (
                "nmap",
                "\(self.count(.osProbe)) of nmap's OS-detection probes (TSval 0xFFFFFFFF, its probe windows, ICMP code 9 seq 295)"
            )
        }
        if syns > 0 && share(.nmapRaw) * 2 > syns {
            return (
                "nmap",
                "\(share(.nmapRaw)) of \(syns) SYNs had window 1024-4096 and only the MSS 1460 option (nmap's raw SYN)"
            )
        }
        if self.rawProbes > 0 && self.rawNmap * 2 > self.rawProbes {
            return ("nmap", "\(self.rawNmap) of \(self.rawProbes) flag probes had nmap's window 1024 and no options")
        }
        if syns > 0 && share(.masscan) * 2 > syns {
            return (
                "masscan",
                "\(share(.masscan)) of \(syns) SYNs had window 1024, no options and initial TTL 255 (masscan)"
            )
        }
        if syns > 0 && share(.zmap) * 2 > syns {
            return ("zmap", "\(share(.zmap)) of \(syns) SYNs had IP ID 54321, window 65535 and no options (zmap)")
        }
        let udp = self.count(.udp)
        let hping = share(.hping) + self.rawHping + self.udpEmpty
        if self.ttls.count >= 3 {
            return (
                "nmap",
                "its crafted packets arrived with \(self.ttls.count) different TTLs (nmap draws a new TTL for each raw packet)"
            )
        }
        if hping * 2 > syns + self.rawProbes + udp, hping > 0, self.sequentialPorts * 2 > self.sequentialBase {
            return (
                "hping3",
                "\(hping) packets with hping3's defaults (TCP window 512 without options, empty UDP) from source ports counting up by one"
            )
        }
        if self.count(.versionProbe) > 0 {
            return ("nmap", "\(self.count(.versionProbe)) connection(s) opened with nmap's service probes (-sV)")
        }
        if syns > 0 && self.looksLikeConnectScan && self.count(.tcpScanReset) > 0 {
            return (
                "connect-scan",
                "\(share(.osStack)) of \(syns) SYNs came from the operating system's connect() and \(self.count(.tcpScanReset)) connections were reset unused (nmap -sT or another connect() scanner)"
            )
        }
        return nil
    }

    func report(_ phase: ScanReport.Phase, type: ScanType, decky: Int, source: UInt32) -> ScanReport {
        let touch = self.touches[decky]!
        let tool = self.tool
        var ports = touch.tcpPorts.lowest(ScanDetector.portSampleLimit)
        if ports.count < ScanDetector.portSampleLimit {
            ports = Array(
                Set(ports + touch.udpPorts.lowest(ScanDetector.portSampleLimit)).sorted().prefix(
                    ScanDetector.portSampleLimit
                )
            )
        }
        return ScanReport(
            phase: phase,
            scanID: self.scan?.id ?? "",
            source: source,
            sourcePort: self.firstSourcePort,
            decky: touch.name,
            deckyAddress: touch.address,
            port: touch.firstPort,
            type: type,
            types: (self.scan?.types ?? [type]).sorted(),
            deckies: self.touchOrder.prefix(ScanDetector.deckyListLimit).map { self.touches[$0]!.name },
            deckyCount: self.touchOrder.count,
            deckyPortCount: touch.tcpPorts.count + touch.udpPorts.count,
            portSample: ports,
            targetCount: self.tcpTargets + self.udpTargets,
            packets: self.packets,
            peakRate: self.peakRate,
            firstSeen: self.first,
            lastSeen: self.last,
            tool: tool?.name,
            toolBasis: tool?.basis
        )
    }
}

extension TCPFingerprint {
    /// What makes two SYNs the same shape for reporting (TTL varies per packet with nmap; the layout does not).
    struct Key: Hashable, Sendable {
        var window: UInt16
        var kinds: [UInt8]
        var mss: UInt16?
        var scale: UInt8?
        var initialTTL: Int

        init(_ shape: SYNShape) {
            self.window = shape.window
            self.kinds = shape.optionKinds
            self.mss = shape.mss
            self.scale = shape.windowScale
            self.initialTTL = TCPFingerprint.initialTTL(shape.ttl)
        }
    }
}
