import Testing

@testable import DecnetPacket

/// Decoding captured frames, including every way an attacker can make one lie.
@Suite struct FrameDecodingTests {
    let build = FrameBuilder()

    @Test func aLinuxSYNDecodesToEveryField() throws {
        let frame = try #require(Frame(ethernet: self.build.linuxSYN(port: 22)))
        guard case .ipv4(let ip) = frame.payload, case .tcp(let tcp) = ip.transport else {
            Issue.record("not TCP: \(frame)")
            return
        }
        #expect(ip.source == 0x0A63_00FE && ip.destination == 0x0A63_000B)
        #expect(ip.ttl == 64 && ip.dontFragment && ip.identification == 23505)
        #expect(tcp.destinationPort == 22 && tcp.sourcePort == 35982)
        #expect(tcp.flags == .syn && tcp.window == 64240)
        #expect(tcp.options.map(\.kind) == [2, 4, 8, 1, 3])
        #expect(tcp.mss == 1460 && tcp.windowScale == 10)
        #expect(tcp.timestamp?.value == 3_684_627_336)
        #expect(!tcp.optionsMalformed && tcp.payloadLength == 0)
    }

    @Test func arpAndVLANTaggedFramesDecode() throws {
        let arp = try #require(Frame(ethernet: self.build.arpRequest(for: 0x0A63_000C)))
        guard case .arp(let request) = arp.payload else {
            Issue.record("not ARP")
            return
        }
        #expect(request.isRequest && request.targetIP == 0x0A63_000C && request.senderIP == 0x0A63_00FE)
        var tagged = self.build.udp(port: 161, payload: [1, 2, 3])
        tagged.insert(contentsOf: [0x81, 0x00, 0x00, 0x07], at: 12)
        let frame = try #require(Frame(ethernet: tagged))
        guard case .ipv4(let ip) = frame.payload, case .udp(let udp) = ip.transport else {
            Issue.record("not UDP")
            return
        }
        #expect(udp.destinationPort == 161 && udp.payloadPrefix == [1, 2, 3])
    }

    /// Every prefix of every valid frame decodes or is refused; none traps.
    @Test func everyTruncationOfEveryFrameIsSafe() {
        let frames = [
            self.build.linuxSYN(port: 22), self.build.nmapSYN(port: 80), self.build.udp(port: 53, payload: [9, 9]),
            self.build.icmp(type: 8), self.build.arpRequest(for: 1),
            self.build.tcp(port: 80, flags: [.ack, .psh], window: 500, payload: Array("GET / HTTP/1.0\r\n\r\n".utf8)),
        ]
        for frame in frames {
            for length in 0...frame.count {
                _ = Frame(ethernet: frame.prefix(length))
            }
        }
    }

    /// Lengths that lie: IHL under 5 or past the frame, a TCP data offset under 5 or past the frame, a total
    /// length shorter than the headers, options whose length byte is 0, 1 or runs past the header.
    @Test func lyingLengthsAreRefusedOrBounded() throws {
        var frame = self.build.linuxSYN(port: 22)
        frame[14] = 0x44  // IHL 4
        #expect(Frame(ethernet: frame) == nil)
        frame[14] = 0x4F  // IHL 15: 60 bytes of header, more than is there past the fixed part
        _ = Frame(ethernet: frame)

        for offset: UInt8 in [0x00, 0x40, 0xF0] {
            var bad = self.build.linuxSYN(port: 22)
            bad[14 + 20 + 12] = offset
            let decoded = Frame(ethernet: bad)
            if case .ipv4(let ip) = decoded?.payload, case .tcp(let tcp) = ip.transport {
                #expect(offset == 0xF0, "a data offset under 5 must not decode as TCP")
                #expect(tcp.payloadLength == 0)
            }
        }

        var short = self.build.linuxSYN(port: 22)
        short[16] = 0
        short[17] = 10  // total length 10, under the IP header itself
        if case .ipv4(let ip) = Frame(ethernet: short)?.payload {
            #expect(ip.transport == .truncated(6))
        }

        for lengthByte: UInt8 in [0, 1, 40, 255] {
            // A Linux SYN with its MSS option's length byte replaced.
            var bad = self.build.linuxSYN(port: 22)
            bad[14 + 20 + 20 + 1] = lengthByte
            let frame = try #require(Frame(ethernet: bad))
            guard case .ipv4(let ip) = frame.payload, case .tcp(let tcp) = ip.transport else {
                Issue.record("option length \(lengthByte) lost the TCP header")
                continue
            }
            #expect(tcp.optionsMalformed, "length byte \(lengthByte)")
        }
    }

    /// Random bytes, and random bytes behind valid headers, from a fixed seed: nothing traps. A failure names the
    /// seed and iteration, which replay it.
    @Test func randomBytesNeverTrap() {
        var generator = SplitMix(seed: 0xDEC0_4E71)
        let headers = [self.build.linuxSYN(port: 22).prefix(34), self.build.udp(port: 1).prefix(34)]
        for iteration in 0..<20_000 {
            let length = Int(generator.next() % 120)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if iteration % 2 == 0 { bytes = Array(headers[iteration % 4 / 2]) + bytes }
            var classifier = ProbeClassifier(flowCapacity: 16)
            if let frame = Frame(ethernet: bytes) {
                _ = classifier.classify(frame, deckyAddress: 0x0A63_000B)
            }
        }
    }

    /// Inputs that once broke a decoder elsewhere or could: kept so they are replayed on every run.
    @Test(arguments: [
        "",
        "ffffffffffff",
        "ffffffffffff0200000000fe0806",
        "ffffffffffff0200000000fe08060001080006040001",
        "020000000b0200000000fe0800",
        "020000000b0200000000fe08004f",
        "020000000b0200000000fe08004500ffff0000000040060000",
        "020000000b0200000000fe0800450000280000000040060000"
            + "0a6300fe0a63000b",
        "020000000b0200000000fe0800450000300000000040060000"
            + "0a6300fe0a63000b9c400016000003e800000000f0020200000000000204",
        "020000000b0200000000fe080045000030000000004006000"
            + "00a6300fe0a63000b9c400016000003e800000000b00202000000000008",
        "020000000b0200000000fe0800450000200000200040110000"
            + "0a6300fe0a63000b",
        "020000000b0200000000fe08104500001c0000000040010000"
            + "0a6300fe0a63000b0800",
    ])
    func replayedHostileFrames(hex: String) {
        let bytes = Self.bytes(hex)
        var classifier = ProbeClassifier(flowCapacity: 16)
        if let frame = Frame(ethernet: bytes) {
            _ = classifier.classify(frame, deckyAddress: 0x0A63_000B)
        }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = hex.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            out.append(UInt8(String([high, low]), radix: 16) ?? 0)
        }
        return out
    }
}

/// A small seeded generator, so random tests replay.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
