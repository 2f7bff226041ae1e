/// One captured Ethernet frame, decoded as far as the packet layer needs: ARP, or IPv4 carrying TCP, UDP or
/// ICMP. Decoding never traps on attacker bytes: every length is checked against what was captured, and a
/// frame that does not hold together decodes to `nil` (or to a shorter view: an IPv4 header whose transport
/// header was cut off keeps `transport == .truncated`).
public struct Frame: Sendable, Equatable {
    public var sourceMAC: [UInt8]
    public var destinationMAC: [UInt8]
    /// Bytes captured (tools that build frames themselves pad ARP to 60; the kernel's are 42 on a veth).
    public var length: Int
    public var payload: Payload

    public enum Payload: Sendable, Equatable {
        case arp(ARPPacket)
        case ipv4(IPv4Packet)
    }

    /// Decodes `bytes` (an Ethernet II frame, optionally with one 802.1Q tag).
    public init?(ethernet bytes: some RandomAccessCollection<UInt8>) {
        guard let frame = Array(bytes).withUnsafeBytes({ Frame(raw: $0) }) else { return nil }
        self = frame
    }

    /// Decodes a frame in place (the capture ring's bytes, valid for the call).
    public init?(raw bytes: UnsafeRawBufferPointer) {
        var reader = ByteReader(bytes)
        guard let destination = reader.bytes(6), let source = reader.bytes(6), var type = reader.u16() else {
            return nil
        }
        if type == 0x8100 {
            guard reader.skip(2), let inner = reader.u16() else { return nil }
            type = inner
        }
        self.sourceMAC = source
        self.length = bytes.count
        self.destinationMAC = destination
        switch type {
        case 0x0806:
            guard let arp = ARPPacket(&reader) else { return nil }
            self.payload = .arp(arp)
        case 0x0800:
            guard let ip = IPv4Packet(&reader) else { return nil }
            self.payload = .ipv4(ip)
        default:
            return nil
        }
    }

    public init(sourceMAC: [UInt8], destinationMAC: [UInt8], length: Int = 60, payload: Payload) {
        self.sourceMAC = sourceMAC
        self.length = length
        self.destinationMAC = destinationMAC
        self.payload = payload
    }
}

/// An Ethernet/IPv4 ARP message.
public struct ARPPacket: Sendable, Equatable {
    /// 1 request, 2 reply.
    public var operation: UInt16
    public var senderMAC: [UInt8]
    public var senderIP: UInt32
    public var targetMAC: [UInt8]
    public var targetIP: UInt32

    public var isRequest: Bool { self.operation == 1 }

    init?(_ reader: inout ByteReader) {
        guard let hardware = reader.u16(), let protocolType = reader.u16(), let hardwareLength = reader.u8(),
            let protocolLength = reader.u8(), hardware == 1, protocolType == 0x0800, hardwareLength == 6,
            protocolLength == 4, let operation = reader.u16(), let senderMAC = reader.bytes(6),
            let senderIP = reader.u32(), let targetMAC = reader.bytes(6), let targetIP = reader.u32()
        else { return nil }
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    public init(operation: UInt16, senderMAC: [UInt8], senderIP: UInt32, targetMAC: [UInt8], targetIP: UInt32) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }
}

/// An IPv4 header and what it carries.
public struct IPv4Packet: Sendable, Equatable {
    public var source: UInt32
    public var destination: UInt32
    public var ttl: UInt8
    public var identification: UInt16
    public var dontFragment: Bool
    public var tos: UInt8
    /// The header's total length field (not what was captured).
    public var totalLength: UInt16
    /// Options present (header longer than 20 bytes).
    public var headerOptions: Bool
    /// A later fragment (offset > 0): its transport header is not here.
    public var isLaterFragment: Bool
    public var transport: Transport

    public enum Transport: Sendable, Equatable {
        case tcp(TCPSegment)
        case udp(UDPDatagram)
        case icmp(ICMPMessage)
        /// Another protocol (its number).
        case other(UInt8)
        /// The transport header was cut off, or this is a later fragment.
        case truncated(UInt8)
    }

    init?(_ reader: inout ByteReader) {
        guard let versionAndLength = reader.u8(), versionAndLength >> 4 == 4 else { return nil }
        let headerLength = Int(versionAndLength & 0x0F) * 4
        guard headerLength >= 20, let tos = reader.u8(), let totalLength = reader.u16(),
            let identification = reader.u16(), let flagsAndOffset = reader.u16(), let ttl = reader.u8(),
            let protocolNumber = reader.u8(), reader.skip(2), let source = reader.u32(),
            let destination = reader.u32()
        else { return nil }
        guard reader.skip(headerLength - 20) else { return nil }
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.identification = identification
        self.dontFragment = flagsAndOffset & 0x4000 != 0
        self.tos = tos
        self.totalLength = totalLength
        self.headerOptions = headerLength > 20
        self.isLaterFragment = flagsAndOffset & 0x1FFF != 0
        // What the IP header says it carries, bounded by what was captured (snap length, or a lying length).
        let declared = max(0, Int(totalLength) - headerLength)
        var body = reader.sub(limit: min(declared, reader.remaining))
        if self.isLaterFragment {
            self.transport = .truncated(protocolNumber)
            return
        }
        switch protocolNumber {
        case 6: self.transport = TCPSegment(&body, declaredLength: declared).map { .tcp($0) } ?? .truncated(6)
        case 17: self.transport = UDPDatagram(&body).map { .udp($0) } ?? .truncated(17)
        case 1: self.transport = ICMPMessage(&body, declaredLength: declared).map { .icmp($0) } ?? .truncated(1)
        default: self.transport = .other(protocolNumber)
        }
    }

    public init(
        source: UInt32,
        destination: UInt32,
        ttl: UInt8 = 64,
        identification: UInt16 = 0,
        dontFragment: Bool = true,
        tos: UInt8 = 0,
        totalLength: UInt16 = 0,
        headerOptions: Bool = false,
        isLaterFragment: Bool = false,
        transport: Transport
    ) {
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.identification = identification
        self.dontFragment = dontFragment
        self.tos = tos
        self.totalLength = totalLength
        self.headerOptions = headerOptions
        self.isLaterFragment = isLaterFragment
        self.transport = transport
    }
}

/// A TCP header (with its options) and how much payload follows.
public struct TCPSegment: Sendable, Equatable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequence: UInt32
    public var acknowledgement: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16
    public var options: [TCPOption]
    /// The options did not parse to the end (a bad length); `options` holds those before the fault.
    public var optionsMalformed: Bool
    /// Payload length per the IP header.
    public var payloadLength: Int
    /// The first payload bytes that were captured.
    public var payloadPrefix: [UInt8]

    /// At most this many payload bytes are kept.
    public static let payloadPrefixLimit = 64

    init?(_ reader: inout ByteReader, declaredLength: Int) {
        guard let sourcePort = reader.u16(), let destinationPort = reader.u16(), let sequence = reader.u32(),
            let acknowledgement = reader.u32(), let offsetAndFlags = reader.u16(), let window = reader.u16(),
            reader.skip(2), let urgentPointer = reader.u16()
        else { return nil }
        let headerLength = Int(offsetAndFlags >> 12) * 4
        guard headerLength >= 20 else { return nil }
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequence = sequence
        self.acknowledgement = acknowledgement
        self.flags = TCPFlags(rawValue: offsetAndFlags & 0x01FF)
        self.window = window
        self.urgentPointer = urgentPointer
        var optionBytes = reader.sub(limit: min(headerLength - 20, reader.remaining))
        let parsed = TCPOption.parse(&optionBytes)
        self.options = parsed.options
        self.optionsMalformed = parsed.malformed
        _ = reader.skip(min(headerLength - 20, reader.remaining))
        self.payloadLength = max(0, declaredLength - headerLength)
        self.payloadPrefix = reader.bytes(min(Self.payloadPrefixLimit, reader.remaining, self.payloadLength)) ?? []
    }

    public init(
        sourcePort: UInt16,
        destinationPort: UInt16,
        sequence: UInt32 = 0,
        acknowledgement: UInt32 = 0,
        flags: TCPFlags,
        window: UInt16,
        urgentPointer: UInt16 = 0,
        options: [TCPOption] = [],
        payloadLength: Int = 0,
        payloadPrefix: [UInt8] = []
    ) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.sequence = sequence
        self.acknowledgement = acknowledgement
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
        self.options = options
        self.optionsMalformed = false
        self.payloadLength = payloadLength
        self.payloadPrefix = payloadPrefix
    }

    public var mss: UInt16? {
        for case .mss(let value) in self.options { return value }
        return nil
    }

    public var windowScale: UInt8? {
        for case .windowScale(let value) in self.options { return value }
        return nil
    }

    public var timestamp: (value: UInt32, echo: UInt32)? {
        for case .timestamp(let value, let echo) in self.options { return (value, echo) }
        return nil
    }
}

/// The nine TCP flag bits (NS/AE, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x001)
    public static let syn = TCPFlags(rawValue: 0x002)
    public static let rst = TCPFlags(rawValue: 0x004)
    public static let psh = TCPFlags(rawValue: 0x008)
    public static let ack = TCPFlags(rawValue: 0x010)
    public static let urg = TCPFlags(rawValue: 0x020)
    public static let ece = TCPFlags(rawValue: 0x040)
    public static let cwr = TCPFlags(rawValue: 0x080)
    /// The former NS bit (now AccECN's AE): set by nmap's ECN probe.
    public static let reserved = TCPFlags(rawValue: 0x100)

    /// The six classic flags, without ECN bits.
    public var classic: TCPFlags { self.intersection([.fin, .syn, .rst, .psh, .ack, .urg]) }
}

/// One TCP option.
public enum TCPOption: Sendable, Equatable {
    case endOfList
    case noOperation
    case mss(UInt16)
    case windowScale(UInt8)
    case sackPermitted
    case sack
    case timestamp(value: UInt32, echo: UInt32)
    case other(kind: UInt8, length: Int)

    /// The option's kind number, as JA4T and p0f list them.
    public var kind: UInt8 {
        switch self {
        case .endOfList: 0
        case .noOperation: 1
        case .mss: 2
        case .windowScale: 3
        case .sackPermitted: 4
        case .sack: 5
        case .timestamp: 8
        case .other(let kind, _): kind
        }
    }

    /// Parses an option block; stops at the first option whose length does not fit (malformed) or at EOL.
    static func parse(_ reader: inout ByteReader) -> (options: [TCPOption], malformed: Bool) {
        var options: [TCPOption] = []
        while reader.remaining > 0, options.count < 40 {
            guard let kind = reader.u8() else { break }
            switch kind {
            case 0:
                options.append(.endOfList)
                return (options, false)
            case 1:
                options.append(.noOperation)
                continue
            default:
                break
            }
            guard let length = reader.u8(), length >= 2, reader.remaining >= Int(length) - 2 else {
                return (options, true)
            }
            var body = reader.sub(limit: Int(length) - 2)
            _ = reader.skip(Int(length) - 2)
            switch (kind, length) {
            case (2, 4): options.append(.mss(body.u16() ?? 0))
            case (3, 3): options.append(.windowScale(body.u8() ?? 0))
            case (4, 2): options.append(.sackPermitted)
            case (5, _): options.append(.sack)
            case (8, 10): options.append(.timestamp(value: body.u32() ?? 0, echo: body.u32() ?? 0))
            default: options.append(.other(kind: kind, length: Int(length)))
            }
        }
        return (options, false)
    }
}

/// A UDP header and the first bytes of its payload.
public struct UDPDatagram: Sendable, Equatable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// Payload length per the UDP header.
    public var payloadLength: Int
    public var payloadPrefix: [UInt8]

    init?(_ reader: inout ByteReader) {
        guard let sourcePort = reader.u16(), let destinationPort = reader.u16(), let length = reader.u16(),
            reader.skip(2)
        else { return nil }
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.payloadLength = max(0, Int(length) - 8)
        self.payloadPrefix =
            reader.bytes(min(TCPSegment.payloadPrefixLimit, reader.remaining, self.payloadLength)) ?? []
    }

    public init(sourcePort: UInt16, destinationPort: UInt16, payloadLength: Int = 0, payloadPrefix: [UInt8] = []) {
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.payloadLength = payloadLength
        self.payloadPrefix = payloadPrefix
    }
}

/// An ICMP message header.
public struct ICMPMessage: Sendable, Equatable {
    public var type: UInt8
    public var code: UInt8
    /// Identifier and sequence of echo/timestamp/address-mask messages.
    public var identifier: UInt16
    public var sequence: UInt16
    public var payloadLength: Int

    init?(_ reader: inout ByteReader, declaredLength: Int) {
        guard let type = reader.u8(), let code = reader.u8(), reader.skip(2), let identifier = reader.u16(),
            let sequence = reader.u16()
        else { return nil }
        self.type = type
        self.code = code
        self.identifier = identifier
        self.sequence = sequence
        self.payloadLength = max(0, declaredLength - 8)
    }

    public init(type: UInt8, code: UInt8 = 0, identifier: UInt16 = 0, sequence: UInt16 = 0, payloadLength: Int = 0) {
        self.type = type
        self.code = code
        self.identifier = identifier
        self.sequence = sequence
        self.payloadLength = payloadLength
    }
}
