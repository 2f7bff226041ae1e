@testable import DecnetPacket

/// Builds the bytes of Ethernet frames for tests, field by field, as the tools in the lab put them on the wire.
struct FrameBuilder {
    var sourceMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0xFE]
    var destinationMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x0B]
    var source: UInt32 = 0x0A63_00FE  // 10.99.0.254
    var destination: UInt32 = 0x0A63_000B  // 10.99.0.11
    var ttl: UInt8 = 64
    var identification: UInt16 = 0
    var dontFragment = false
    var tos: UInt8 = 0

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func be32(_ value: UInt32) -> [UInt8] { be16(UInt16(value >> 16)) + be16(UInt16(value & 0xFFFF)) }

    func ethernet(type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        self.destinationMAC + self.sourceMAC + Self.be16(type) + payload
    }

    func ipv4(protocol number: UInt8, _ body: [UInt8]) -> [UInt8] {
        let total = UInt16(20 + body.count)
        let flags: UInt16 = self.dontFragment ? 0x4000 : 0
        let header: [UInt8] =
            [0x45, self.tos] + Self.be16(total) + Self.be16(self.identification) + Self.be16(flags)
            + [self.ttl, number, 0, 0] + Self.be32(self.source) + Self.be32(self.destination)
        return self.ethernet(type: 0x0800, header + body)
    }

    /// Option bytes for the usual kinds.
    enum Option {
        case mss(UInt16), ws(UInt8), sok, ts(UInt32, UInt32), nop, eol
        var bytes: [UInt8] {
            switch self {
            case .mss(let value): [2, 4] + FrameBuilder.be16(value)
            case .ws(let value): [3, 3, value]
            case .sok: [4, 2]
            case .ts(let value, let echo): [8, 10] + FrameBuilder.be32(value) + FrameBuilder.be32(echo)
            case .nop: [1]
            case .eol: [0]
            }
        }
    }

    func tcp(
        sourcePort: UInt16 = 40000,
        port: UInt16,
        sequence: UInt32 = 1000,
        acknowledgement: UInt32 = 0,
        flags: TCPFlags,
        window: UInt16,
        urgent: UInt16 = 0,
        options: [Option] = [],
        payload: [UInt8] = []
    ) -> [UInt8] {
        var optionBytes = options.flatMap(\.bytes)
        while optionBytes.count % 4 != 0 { optionBytes.append(0) }
        let offset = UInt16((20 + optionBytes.count) / 4) << 12
        let header =
            Self.be16(sourcePort) + Self.be16(port) + Self.be32(sequence) + Self.be32(acknowledgement)
            + Self.be16(offset | flags.rawValue) + Self.be16(window) + [0, 0] + Self.be16(urgent)
        return self.ipv4(protocol: 6, header + optionBytes + payload)
    }

    func udp(sourcePort: UInt16 = 40000, port: UInt16, payload: [UInt8] = []) -> [UInt8] {
        self.ipv4(
            protocol: 17,
            Self.be16(sourcePort) + Self.be16(port) + Self.be16(UInt16(8 + payload.count)) + [0, 0] + payload
        )
    }

    func icmp(type: UInt8, code: UInt8 = 0, identifier: UInt16 = 1, sequence: UInt16 = 1, payload: Int = 56) -> [UInt8]
    {
        self.ipv4(
            protocol: 1,
            [type, code, 0, 0] + Self.be16(identifier) + Self.be16(sequence) + [UInt8](repeating: 0, count: payload)
        )
    }

    func arpRequest(for target: UInt32, padded: Bool = false) -> [UInt8] {
        let body: [UInt8] =
            [0, 1, 8, 0, 6, 4, 0, 1] + self.sourceMAC + Self.be32(self.source) + [0, 0, 0, 0, 0, 0]
            + Self.be32(target)
        var frame = [UInt8](repeating: 0xFF, count: 6) + self.sourceMAC + [0x08, 0x06] + body
        if padded { frame += [UInt8](repeating: 0, count: 60 - frame.count) }
        return frame
    }

    // The SYNs of the lab's tools, as captured there.

    /// Debian 12's Linux connect() SYN.
    func linuxSYN(port: UInt16, sourcePort: UInt16 = 35982) -> [UInt8] {
        var copy = self
        copy.dontFragment = true
        copy.identification = 23505
        return copy.tcp(
            sourcePort: sourcePort,
            port: port,
            flags: .syn,
            window: 64240,
            options: [.mss(1460), .sok, .ts(3_684_627_336, 0), .nop, .ws(10)]
        )
    }

    func nmapSYN(port: UInt16) -> [UInt8] {
        var copy = self
        copy.ttl = UInt8.random(in: 37...59)
        copy.identification = UInt16.random(in: 1...65535)
        return copy.tcp(
            sourcePort: 50885,
            port: port,
            sequence: 1_669_268_205,
            flags: .syn,
            window: 1024,
            options: [.mss(1460)]
        )
    }

    func masscanSYN(port: UInt16) -> [UInt8] {
        var copy = self
        copy.ttl = 254
        copy.identification = UInt16.random(in: 1...65535)
        return copy.tcp(
            sourcePort: 50811,
            port: port,
            sequence: UInt32.random(in: 1...UInt32.max),
            flags: .syn,
            window: 1024
        )
    }

    func zmapSYN(port: UInt16) -> [UInt8] {
        var copy = self
        copy.ttl = 254
        copy.identification = 54321
        return copy.tcp(sourcePort: 53556, port: port, flags: .syn, window: 65535)
    }

    func hpingSYN(port: UInt16, sourcePort: UInt16) -> [UInt8] {
        var copy = self
        copy.identification = UInt16.random(in: 1...65535)
        return copy.tcp(sourcePort: sourcePort, port: port, flags: .syn, window: 512)
    }
}
