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
        var copy = packet
        copy.withUnsafeMutableBytes { self.observe(incoming: PacketBuffer($0)) }
    }

    mutating func observe<Bytes: PacketBytes>(incoming packet: Bytes) {
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
        var length = packet.count
        let changed = packet.withUnsafeMutableBytes { bytes in
            var buffer = PacketBuffer(bytes)
            defer { length = buffer.count }
            return self.shape(outgoing: &buffer)
        }
        if length < packet.count { packet.removeLast(packet.count - length) }
        return changed
    }

    /// Shapes an outgoing packet in place (the queue's receive buffer: no copy, no allocation); an ICMP error
    /// whose quote is cut comes back shorter (`count`).
    mutating func shape<Bytes: PacketBytes>(outgoing packet: inout Bytes) -> Bool {
        guard let ip = IPv4View(packet), !ip.isFragment else {
            self.counters.unchanged += 1
            return false
        }
        var edit = Edit(bytes: packet)
        switch ip.protocolNumber {
        case 6: self.shapeTCP(&edit, ip)
        case 1: self.shapeICMP(&edit, ip)
        default: break
        }
        packet = edit.bytes
        guard edit.changed else {
            self.counters.unchanged += 1
            return false
        }
        switch ip.protocolNumber {
        case 6: Checksum.fixTCP(&packet, ip)
        default: Checksum.fixICMP(&packet, headerLength: ip.headerLength)
        }
        Checksum.fixIPv4(&packet)
        self.counters.shaped += 1
        return true
    }

    mutating func shapeTCP<Bytes: PacketBytes>(_ packet: inout Edit<Bytes>, _ ip: IPv4View) {
        let tcp = ip.headerLength
        guard packet.count >= tcp + 20 else { return }
        let flags = packet[tcp + 13]
        let syn = flags & 0x02 != 0
        let ack = flags & 0x10 != 0
        let reset = flags & 0x04 != 0
        if syn && ack {
            self.shapeSynAck(&packet, tcp: tcp)
            if self.shape.clearSynAckDontFragment { packet[6] = packet[6] & ~0x40 }
            self.assignID(&packet, self.shape.tcpID)
        } else if reset {
            if self.shape.bareResetAcknowledges && !ack {
                let sequence = packet.bytes.uint32(at: tcp + 4)
                packet.setUInt32(sequence &+ 1 == 0 ? 1 : sequence &+ 1, at: tcp + 8)
            }
            if self.shape.clearResetDontFragment { packet[6] = packet[6] & ~0x40 }
            self.assignID(&packet, self.shape.tcpID)
        }
    }

    mutating func shapeSynAck<Bytes: PacketBytes>(_ packet: inout Edit<Bytes>, tcp: Int) {
        if let window = self.shape.synAckWindow { packet.setUInt16(window, at: tcp + 14) }
        let optionsEnd = tcp + Int(packet[tcp + 12] >> 4) * 4
        guard optionsEnd > tcp + 20, optionsEnd <= packet.count else { return }
        guard let options = TCPOptionList(packet.bytes, from: tcp + 20, to: optionsEnd) else {
            self.counters.unknownOptions += 1
            return
        }
        if let shift = options.windowScale, let expected = self.personality.windowScale, shift != expected {
            self.counters.scaleMismatches += 1
        }
        var rewritten = options
        if let mss = self.shape.synAckMSS, let kernel = options.mss, mss < kernel { rewritten.mss = mss }
        guard rewritten.encodedLength == optionsEnd - tcp - 20 else { return }
        rewritten.encode(self.shape.layout, into: &packet, at: tcp + 20)
    }

    mutating func shapeICMP<Bytes: PacketBytes>(_ packet: inout Edit<Bytes>, _ ip: IPv4View) {
        let icmp = ip.headerLength
        guard packet.count >= icmp + 8 else { return }
        switch packet[icmp] {
        case 0:  // echo reply
            if self.shape.echoCodeZero { packet[icmp + 1] = 0 }
            if self.shape.echoMirrorsDontFragment {
                let key = EchoKey(
                    peer: ip.destination,
                    identifier: packet.bytes.uint16(at: icmp + 4),
                    sequence: packet.bytes.uint16(at: icmp + 6)
                )
                if let dontFragment = self.echoRequests[key] {
                    packet[6] = dontFragment ? packet[6] | 0x40 : packet[6] & ~0x40
                }
            }
            self.assignID(&packet, self.shape.icmpID)
        case 3:  // destination unreachable: the quote
            if let quote = self.shape.errorQuote, packet.count > icmp + 8 + quote {
                packet.truncate(to: icmp + 8 + quote)
                packet.setUInt16(UInt16(packet.count), at: 2)
            }
            let quoted = icmp + 8
            if self.shape.errorQuoteZeroUDPChecksum, packet.count >= quoted + 20, packet[quoted + 9] == 17 {
                let udp = quoted + Int(packet[quoted] & 0x0F) * 4
                if packet.count >= udp + 8 { packet.setUInt16(0, at: udp + 6) }
            }
            self.assignID(&packet, self.shape.icmpID)
        default:
            return
        }
    }

    mutating func assignID<Bytes: PacketBytes>(_ packet: inout Edit<Bytes>, _ policy: PacketShape.IPID) {
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

/// Bytes a packet can be shaped in: an array (tests) or the queue's receive buffer (the layer).
protocol PacketBytes {
    var count: Int { get }
    subscript(index: Int) -> UInt8 { get set }
    /// Drops everything from `length` on.
    mutating func truncate(to length: Int)
}

extension PacketBytes {
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

extension [UInt8]: PacketBytes {
    mutating func truncate(to length: Int) { self.removeLast(self.count - length) }
}

/// A packet in memory this process does not own as an array (the receive buffer libnetfilter_queue parsed).
struct PacketBuffer: PacketBytes {
    let base: UnsafeMutableRawBufferPointer
    private(set) var count: Int

    init(_ base: UnsafeMutableRawBufferPointer) {
        self.base = base
        self.count = base.count
    }

    subscript(index: Int) -> UInt8 {
        get { self.base[index] }
        nonmutating set { self.base[index] = newValue }
    }

    mutating func truncate(to length: Int) { self.count = min(self.count, length) }
}

/// Packet bytes that remember whether a write changed them (so an unchanged packet keeps its checksums and goes
/// back without a copy).
struct Edit<Bytes: PacketBytes>: PacketBytes {
    var bytes: Bytes
    private(set) var changed = false

    var count: Int { self.bytes.count }

    subscript(index: Int) -> UInt8 {
        get { self.bytes[index] }
        set {
            if self.bytes[index] != newValue {
                self.bytes[index] = newValue
                self.changed = true
            }
        }
    }

    mutating func truncate(to length: Int) {
        guard length < self.bytes.count else { return }
        self.bytes.truncate(to: length)
        self.changed = true
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

    init?<Bytes: PacketBytes>(_ packet: Bytes) {
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
    /// The timestamp option's values, kept as they are.
    var timestamps: (value: UInt32, echo: UInt32)?

    static func == (lhs: TCPOptionList, rhs: TCPOptionList) -> Bool {
        lhs.mss == rhs.mss && lhs.windowScale == rhs.windowScale && lhs.sackPermitted == rhs.sackPermitted
            && lhs.timestamps?.value == rhs.timestamps?.value && lhs.timestamps?.echo == rhs.timestamps?.echo
    }

    init?<Bytes: PacketBytes>(_ bytes: Bytes, from start: Int, to end: Int) {
        var index = start
        while index < end {
            let kind = bytes[index]
            if kind == 0 { break }  // EOL: the rest is padding
            if kind == 1 {
                index += 1
                continue
            }
            guard index + 1 < end else { return nil }
            let length = Int(bytes[index + 1])
            guard length >= 2, index + length <= end else { return nil }
            switch (kind, length) {
            case (2, 4): self.mss = bytes.uint16(at: index + 2)
            case (3, 3): self.windowScale = bytes[index + 2]
            case (4, 2): self.sackPermitted = true
            case (8, 10): self.timestamps = (bytes.uint32(at: index + 2), bytes.uint32(at: index + 6))
            default: return nil
            }
            index += length
        }
    }

    /// How many bytes the options take; the same in every layout (MSS 4; NOP + scale 4; SACK-permitted with
    /// timestamps 12, timestamps alone 12, SACK-permitted alone 4, with their padding), so the header length never
    /// changes.
    var encodedLength: Int {
        (self.mss == nil ? 0 : 4) + (self.windowScale == nil ? 0 : 4)
            + (self.timestamps != nil ? 12 : (self.sackPermitted ? 4 : 0))
    }

    /// Writes the options in a layout at `start`.
    func encode<Bytes: PacketBytes>(_ layout: PacketShape.OptionLayout, into packet: inout Bytes, at start: Int) {
        var index = start
        func put(_ first: UInt8, _ second: UInt8) {
            packet[index] = first
            packet[index + 1] = second
            index += 2
        }
        func put(_ word: UInt32) {
            put(UInt8(word >> 24), UInt8(word >> 16 & 0xFF))
            put(UInt8(word >> 8 & 0xFF), UInt8(word & 0xFF))
        }
        func mss() {
            guard let mss = self.mss else { return }
            put(2, 4)
            put(UInt8(mss >> 8), UInt8(mss & 0xFF))
        }
        func scale() {
            guard let shift = self.windowScale else { return }
            put(1, 3)
            put(3, shift)
        }
        func timestamps() {
            guard let (value, echo) = self.timestamps else { return }
            put(8, 10)
            put(value)
            put(echo)
        }
        func rest(freebsd: Bool) {
            if self.sackPermitted && self.timestamps != nil {
                put(4, 2)
                timestamps()
            } else if self.timestamps != nil {
                put(1, 1)
                timestamps()
            } else if self.sackPermitted {
                if freebsd {
                    put(4, 2)
                    put(0, 0)
                } else {
                    put(1, 1)
                    put(4, 2)
                }
            }
        }
        switch layout {
        case .kernel:
            mss()
            rest(freebsd: false)
            scale()
        case .windows, .freebsd:
            mss()
            scale()
            rest(freebsd: layout == .freebsd)
        }
    }
}

/// Internet checksums (RFC 1071), recomputed whole: the packets shaped are a few dozen bytes.
enum Checksum {
    static func sum<Bytes: PacketBytes>(_ bytes: Bytes, from start: Int, to end: Int, initial: UInt32 = 0) -> UInt32 {
        var total = initial
        var index = start
        while index + 1 < end {
            total &+= UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < end { total &+= UInt32(bytes[index]) << 8 }
        return total
    }

    static func fold(_ value: UInt32) -> UInt16 {
        var total = value
        while total >> 16 != 0 { total = (total & 0xFFFF) &+ (total >> 16) }
        return ~UInt16(total)
    }

    static func fixIPv4<Bytes: PacketBytes>(_ packet: inout Bytes) {
        let length = Int(packet[0] & 0x0F) * 4
        packet.setUInt16(0, at: 10)
        packet.setUInt16(self.fold(self.sum(packet, from: 0, to: length)), at: 10)
    }

    static func fixTCP<Bytes: PacketBytes>(_ packet: inout Bytes, _ ip: IPv4View) {
        let start = ip.headerLength
        packet.setUInt16(0, at: start + 16)
        packet.setUInt16(
            self.fold(self.sum(packet, from: start, to: packet.count, initial: self.pseudo(packet))),
            at: start + 16
        )
    }

    static func fixICMP<Bytes: PacketBytes>(_ packet: inout Bytes, headerLength: Int) {
        packet.setUInt16(0, at: headerLength + 2)
        packet.setUInt16(self.fold(self.sum(packet, from: headerLength, to: packet.count)), at: headerLength + 2)
    }

    /// The TCP pseudo-header's sum: addresses, protocol, segment length.
    static func pseudo<Bytes: PacketBytes>(_ packet: Bytes) -> UInt32 {
        let segment = packet.count - Int(packet[0] & 0x0F) * 4
        return self.sum(packet, from: 12, to: 20) &+ 6 &+ UInt32(segment)
    }

    /// Whether a packet's IP and TCP/ICMP checksums verify (tests, and the layer's own check).
    static func verifies<Bytes: PacketBytes>(_ packet: Bytes) -> Bool {
        guard let ip = IPv4View(packet) else { return false }
        guard self.fold(self.sum(packet, from: 0, to: ip.headerLength)) == 0 else { return false }
        switch ip.protocolNumber {
        case 6:
            return self.fold(self.sum(packet, from: ip.headerLength, to: packet.count, initial: self.pseudo(packet)))
                == 0
        case 1:
            return self.fold(self.sum(packet, from: ip.headerLength, to: packet.count)) == 0
        default:
            return true
        }
    }
}
