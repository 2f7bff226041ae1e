import DecnetCore

/// Rewrites one decky's outgoing SYN-ACKs, RSTs and ICMP to its OS personality, in place, on the IPv4 packet
/// the kernel queued (NFQUEUE gives the packet from its IP header, with final checksums).
///
/// Safety rules, so that the connection the kernel runs is the one the peer sees: SYN-ACK options are only
/// reordered and re-padded (never added, removed or changed, except an MSS that only goes down), so the header
/// length never changes; sequence and acknowledgment numbers of real segments, timestamps and the window scale
/// are never touched; an option list the shaper does not know (Fast Open, MPTCP …) is left in the kernel's
/// order. Every packet it changes leaves with correct IP and TCP/ICMP checksums.
public struct PacketShaper: Sendable {
    public let personality: OSPersonality
    public let shape: PacketShape
    /// The per-decky IP ID counter (for `.incremental` and `.randomIncrements`).
    var counter: UInt16
    var generator: SeededGenerator
    /// DF of recent echo requests, by (peer, identifier, sequence), oldest first (bounded).
    var echoRequests: [EchoKey: Bool] = [:]
    var echoOrder: [EchoKey] = []
    static let echoMemory = 256

    public struct Counters: Sendable, Equatable {
        public var shaped = 0
        public var unchanged = 0
        /// SYN-ACKs whose window scale was not the personality's (the route metrics did not hold).
        public var scaleMismatches = 0
        /// SYN-ACK option lists left in the kernel's order because they carried options the shaper does not know.
        public var unknownOptions = 0
    }
    public private(set) var counters = Counters()

    struct EchoKey: Hashable, Sendable {
        var peer: UInt32
        var identifier: UInt16
        var sequence: UInt16
    }

    public init(personality: OSPersonality, seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.personality = personality
        self.shape = PersonalityTable.shape(personality)
        self.generator = SeededGenerator(seed: seed)
        self.counter = UInt16.random(in: 0x0400...0x7FFF, using: &self.generator)
    }

    // MARK: packets in

    /// Notes an incoming packet the layer watches (echo requests, for their DF).
    public mutating func observe(incoming packet: [UInt8]) {
        guard let ip = IPv4View(packet), ip.protocolNumber == 1, packet.count >= ip.headerLength + 8,
            packet[ip.headerLength] == 8
        else { return }
        let key = EchoKey(
            peer: ip.source,
            identifier: packet.uint16(at: ip.headerLength + 4),
            sequence: packet.uint16(at: ip.headerLength + 6)
        )
        if self.echoRequests.updateValue(ip.dontFragment, forKey: key) == nil {
            self.echoOrder.append(key)
            if self.echoOrder.count > Self.echoMemory {
                self.echoRequests[self.echoOrder.removeFirst()] = nil
            }
        }
    }

    // MARK: packets out

    /// Shapes an outgoing packet; returns whether it changed (then its checksums are recomputed).
    @discardableResult
    public mutating func shape(outgoing packet: inout [UInt8]) -> Bool {
        guard let ip = IPv4View(packet), !ip.isFragment else {
            self.counters.unchanged += 1
            return false
        }
        var changed = false
        switch ip.protocolNumber {
        case 6: changed = self.shapeTCP(&packet, ip)
        case 1: changed = self.shapeICMP(&packet, ip)
        default: break
        }
        if changed {
            Checksum.fixIPv4(&packet)
            self.counters.shaped += 1
        } else {
            self.counters.unchanged += 1
        }
        return changed
    }

    mutating func shapeTCP(_ packet: inout [UInt8], _ ip: IPv4View) -> Bool {
        let tcp = ip.headerLength
        guard packet.count >= tcp + 20 else { return false }
        let flags = packet[tcp + 13]
        let syn = flags & 0x02 != 0
        let ack = flags & 0x10 != 0
        let reset = flags & 0x04 != 0
        let before = packet
        if syn && ack {
            self.shapeSynAck(&packet, tcp: tcp)
            if self.shape.clearSynAckDontFragment { packet[6] &= ~0x40 }
            self.assignID(&packet, self.shape.tcpID)
        } else if reset {
            if self.shape.bareResetAcknowledges && !ack {
                let sequence = packet.uint32(at: tcp + 4)
                packet.setUInt32(sequence &+ 1 == 0 ? 1 : sequence &+ 1, at: tcp + 8)
            }
            if self.shape.clearResetDontFragment { packet[6] &= ~0x40 }
            self.assignID(&packet, self.shape.tcpID)
        } else {
            return false
        }
        guard packet != before else { return false }
        Checksum.fixTCP(&packet, ip)
        return true
    }

    mutating func shapeSynAck(_ packet: inout [UInt8], tcp: Int) {
        if let window = self.shape.synAckWindow { packet.setUInt16(window, at: tcp + 14) }
        let optionsEnd = tcp + Int(packet[tcp + 12] >> 4) * 4
        guard optionsEnd > tcp + 20, optionsEnd <= packet.count else { return }
        guard let options = TCPOptionList(packet[(tcp + 20)..<optionsEnd]) else {
            self.counters.unknownOptions += 1
            return
        }
        if let shift = options.windowScale, let expected = self.personality.windowScale, shift != expected {
            self.counters.scaleMismatches += 1
        }
        var rewritten = options
        if let mss = self.shape.synAckMSS, let kernel = options.mss, mss < kernel { rewritten.mss = mss }
        let bytes = rewritten.encoded(self.shape.layout)
        guard bytes.count == optionsEnd - tcp - 20 else { return }
        packet.replaceSubrange((tcp + 20)..<optionsEnd, with: bytes)
    }

    mutating func shapeICMP(_ packet: inout [UInt8], _ ip: IPv4View) -> Bool {
        let icmp = ip.headerLength
        guard packet.count >= icmp + 8 else { return false }
        let before = packet
        switch packet[icmp] {
        case 0:  // echo reply
            if self.shape.echoCodeZero { packet[icmp + 1] = 0 }
            if self.shape.echoMirrorsDontFragment {
                let key = EchoKey(
                    peer: ip.destination,
                    identifier: packet.uint16(at: icmp + 4),
                    sequence: packet.uint16(at: icmp + 6)
                )
                if let dontFragment = self.echoRequests[key] {
                    if dontFragment { packet[6] |= 0x40 } else { packet[6] &= ~0x40 }
                }
            }
            self.assignID(&packet, self.shape.icmpID)
        case 3:  // destination unreachable: the quote
            if let quote = self.shape.errorQuote, packet.count > icmp + 8 + quote {
                packet.removeSubrange((icmp + 8 + quote)...)
                packet.setUInt16(UInt16(packet.count), at: 2)
            }
            let quoted = icmp + 8
            if self.shape.errorQuoteZeroUDPChecksum, packet.count >= quoted + 20, packet[quoted + 9] == 17 {
                let udp = quoted + Int(packet[quoted] & 0x0F) * 4
                if packet.count >= udp + 8 { packet.setUInt16(0, at: udp + 6) }
            }
            self.assignID(&packet, self.shape.icmpID)
        default:
            return false
        }
        guard packet != before else { return false }
        Checksum.fixICMP(&packet, headerLength: icmp)
        return true
    }

    mutating func assignID(_ packet: inout [UInt8], _ policy: PacketShape.IPID) {
        switch policy {
        case .kernel:
            return
        case .incremental:
            self.counter &+= 1
            packet.setUInt16(self.counter, at: 4)
        case .random:
            packet.setUInt16(UInt16.random(in: 1...UInt16.max, using: &self.generator), at: 4)
        case .randomIncrements:
            self.counter &+= UInt16.random(in: 1001...1500, using: &self.generator)
            packet.setUInt16(self.counter, at: 4)
        }
    }
}

/// The fields of an IPv4 header the shaper reads.
struct IPv4View {
    let headerLength: Int
    let protocolNumber: UInt8
    let source: UInt32
    let destination: UInt32
    let dontFragment: Bool
    let isFragment: Bool

    init?(_ packet: [UInt8]) {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        let headerLength = Int(packet[0] & 0x0F) * 4
        let total = Int(packet.uint16(at: 2))
        guard headerLength >= 20, total == packet.count, headerLength <= total else { return nil }
        self.headerLength = headerLength
        self.protocolNumber = packet[9]
        self.source = packet.uint32(at: 12)
        self.destination = packet.uint32(at: 16)
        self.dontFragment = packet[6] & 0x40 != 0
        self.isFragment = packet.uint16(at: 6) & 0x3FFF != 0
    }
}

/// The options Linux puts on a SYN-ACK, parsed; nil when there is anything else.
struct TCPOptionList: Equatable {
    var mss: UInt16?
    var windowScale: UInt8?
    var sackPermitted = false
    /// The timestamp option's 8 value bytes, kept as they are.
    var timestamps: [UInt8]?

    init?(_ bytes: ArraySlice<UInt8>) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let kind = bytes[index]
            if kind == 0 { break }  // EOL: the rest is padding
            if kind == 1 {
                index += 1
                continue
            }
            guard index + 1 < bytes.endIndex else { return nil }
            let length = Int(bytes[index + 1])
            guard length >= 2, index + length <= bytes.endIndex else { return nil }
            switch (kind, length) {
            case (2, 4): self.mss = UInt16(bytes[index + 2]) << 8 | UInt16(bytes[index + 3])
            case (3, 3): self.windowScale = bytes[index + 2]
            case (4, 2): self.sackPermitted = true
            case (8, 10): self.timestamps = Array(bytes[(index + 2)..<(index + 10)])
            default: return nil
            }
            index += length
        }
    }

    /// The options in a layout. Linux's, Windows' and FreeBSD's layouts of the same options have the same
    /// length, so the header length never changes.
    func encoded(_ layout: PacketShape.OptionLayout) -> [UInt8] {
        var out: [UInt8] = []
        let mss: [UInt8] = self.mss.map { [2, 4, UInt8($0 >> 8), UInt8($0 & 0xFF)] } ?? []
        let scale: [UInt8] = self.windowScale.map { [1, 3, 3, $0] } ?? []
        let sack: [UInt8] = [4, 2]
        let timestamps: [UInt8] = self.timestamps.map { [8, 10] + $0 } ?? []
        switch layout {
        case .kernel:
            out += mss
            if self.sackPermitted && !timestamps.isEmpty {
                out += sack + timestamps
            } else if !timestamps.isEmpty {
                out += [1, 1] + timestamps
            } else if self.sackPermitted {
                out += [1, 1] + sack
            }
            out += scale
        case .windows, .freebsd:
            out += mss + scale
            if self.sackPermitted && !timestamps.isEmpty {
                out += sack + timestamps
            } else if !timestamps.isEmpty {
                out += [1, 1] + timestamps
            } else if self.sackPermitted {
                out += layout == .freebsd ? sack + [0, 0] : [1, 1] + sack
            }
        }
        return out
    }
}

/// Internet checksums (RFC 1071), recomputed whole: the packets shaped are a few dozen bytes.
enum Checksum {
    static func sum(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        var total = initial
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            total &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.endIndex { total &+= UInt32(bytes[index]) << 8 }
        return total
    }

    static func fold(_ value: UInt32) -> UInt16 {
        var total = value
        while total >> 16 != 0 { total = (total & 0xFFFF) &+ (total >> 16) }
        return ~UInt16(total)
    }

    static func fixIPv4(_ packet: inout [UInt8]) {
        let length = Int(packet[0] & 0x0F) * 4
        packet.setUInt16(0, at: 10)
        packet.setUInt16(self.fold(self.sum(packet[0..<length])), at: 10)
    }

    static func fixTCP(_ packet: inout [UInt8], _ ip: IPv4View) {
        let start = ip.headerLength
        packet.setUInt16(0, at: start + 16)
        let segment = packet.count - start
        var pseudo = self.sum(packet[12..<20])
        pseudo &+= 6 &+ UInt32(segment)
        packet.setUInt16(self.fold(self.sum(packet[start...], initial: pseudo)), at: start + 16)
    }

    static func fixICMP(_ packet: inout [UInt8], headerLength: Int) {
        packet.setUInt16(0, at: headerLength + 2)
        packet.setUInt16(self.fold(self.sum(packet[headerLength...])), at: headerLength + 2)
    }

    /// Whether a packet's IP and TCP/ICMP checksums verify (tests, and the layer's own check).
    static func verifies(_ packet: [UInt8]) -> Bool {
        guard let ip = IPv4View(packet) else { return false }
        guard self.fold(self.sum(packet[0..<ip.headerLength])) == 0 else { return false }
        switch ip.protocolNumber {
        case 6:
            var pseudo = self.sum(packet[12..<20])
            pseudo &+= 6 &+ UInt32(packet.count - ip.headerLength)
            return self.fold(self.sum(packet[ip.headerLength...], initial: pseudo)) == 0
        case 1:
            return self.fold(self.sum(packet[ip.headerLength...])) == 0
        default:
            return true
        }
    }
}

extension [UInt8] {
    func uint16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }

    func uint32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8
            | UInt32(self[offset + 3])
    }

    mutating func setUInt16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(value & 0xFF)
    }

    mutating func setUInt32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { self[offset + index] = UInt8((value >> (24 - 8 * UInt32(index))) & 0xFF) }
    }
}
