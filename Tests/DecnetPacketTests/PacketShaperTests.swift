import DecnetCore
import Testing

@testable import DecnetPacket

/// The shaper against the packets Linux sends: the SYN-ACK it gives each of nmap's OS-detection probes (the
/// probe's offered options decide which options it carries), its RSTs, echo replies and port-unreachables.
@Suite struct PacketShaperTests {
    /// A decky's packets as the Linux kernel builds them: decky 10.99.0.11 answering 10.99.0.254.
    static var decky: FrameBuilder {
        var builder = FrameBuilder()
        builder.source = 0x0A63_000B
        builder.destination = 0x0A63_00FE
        builder.dontFragment = true
        return builder
    }

    /// Linux's SYN-ACK carrying the options a probe allowed, in the kernel's order (MSS; SACK + TS, or NOP NOP
    /// and the one of them; NOP WS), as an IP packet with valid checksums.
    static func kernelSynAck(sack: Bool, timestamps: Bool, scale: UInt8?, mss: UInt16 = 1460) -> [UInt8] {
        var options: [FrameBuilder.Option] = [.mss(mss)]
        if sack && timestamps {
            options += [.sok, .ts(0x1234_5678, 0xFFFF_FFFF)]
        } else if timestamps {
            options += [.nop, .nop, .ts(0x1234_5678, 0xFFFF_FFFF)]
        } else if sack {
            options += [.nop, .nop, .sok]
        }
        if let scale { options += [.nop, .ws(scale)] }
        let frame = Self.decky.tcp(
            sourcePort: 22,
            port: 41_000,
            sequence: 0xA1B2_C3D4,
            acknowledgement: 0x0102_0304,
            flags: [.syn, .ack],
            window: 65_160,
            options: options
        )
        return Self.valid(Array(frame.dropFirst(14)))
    }

    static func valid(_ packet: [UInt8]) -> [UInt8] {
        var copy = packet
        if let ip = IPv4View(copy) {
            Checksum.fixIPv4(&copy)
            if ip.protocolNumber == 6 { Checksum.fixTCP(&copy, ip) }
            if ip.protocolNumber == 1 { Checksum.fixICMP(&copy, headerLength: ip.headerLength) }
        }
        return copy
    }

    /// The options in nmap's notation (M5B4 = MSS 1460, N = NOP, W8 = scale 8, S = SACK permitted, T11 =
    /// timestamps with both values nonzero, L = end of list).
    static func notation(_ packet: [UInt8]) -> String {
        let tcp = Int(packet[0] & 0x0F) * 4
        let end = tcp + Int(packet[tcp + 12] >> 4) * 4
        var text = ""
        var index = tcp + 20
        while index < end {
            switch packet[index] {
            case 0:
                text += "L"
                index += 1
            case 1:
                text += "N"
                index += 1
            case 2:
                text += "M" + String(packet.uint16(at: index + 2), radix: 16, uppercase: true)
                index += 4
            case 3:
                text += "W" + String(packet[index + 2], radix: 16, uppercase: true)
                index += 3
            case 4:
                text += "S"
                index += 2
            case 8:
                let value = packet.uint32(at: index + 2)
                let echo = packet.uint32(at: index + 6)
                text += "T" + (value == 0 ? "0" : "1") + (echo == 0 ? "0" : "1")
                index += 10
            default:
                return text + "?"
            }
        }
        return text
    }

    /// The SYN-ACKs of nmap's probes: all options (O1, O2, O5), no SACK (O3), no WS (O6), and the ECN probe's
    /// (no timestamps).
    static func probes(scale: UInt8?) -> [(name: String, packet: [UInt8])] {
        [
            ("O1", Self.kernelSynAck(sack: true, timestamps: true, scale: scale)),
            ("O3", Self.kernelSynAck(sack: false, timestamps: true, scale: scale)),
            ("O6", Self.kernelSynAck(sack: true, timestamps: true, scale: nil)),
            ("ECN", Self.kernelSynAck(sack: true, timestamps: false, scale: scale)),
        ]
    }

    @Test(arguments: [
        (OSPersonality.windows, UInt8(8), ["M5B4NW8ST11", "M5B4NW8NNT11", "M5B4ST11", "M5B4NW8NNS"], UInt16(8192)),
        (.windowsServer, 8, ["M5B4NW8ST11", "M5B4NW8NNT11", "M5B4ST11", "M5B4NW8NNS"], 8192),
        (.freebsd, 6, ["M5B4NW6ST11", "M5B4NW6NNT11", "M5B4ST11", "M5B4NW6SLL"], 65535),
        (.linux, 7, ["M5B4ST11NW7", "M5B4NNT11NW7", "M5B4ST11", "M5B4NNSNW7"], 65160),
    ])
    func synAckOptionsAreReorderedAndNothingElseChanges(
        personality: OSPersonality,
        scale: UInt8,
        expected: [String],
        window: UInt16
    ) {
        var shaper = PacketShaper(personality: personality, seed: 7)
        for (index, probe) in Self.probes(scale: scale).enumerated() {
            var packet = probe.packet
            shaper.shape(outgoing: &packet)
            #expect(Self.notation(packet) == expected[index], "\(personality) \(probe.name)")
            #expect(packet.count == probe.packet.count, "the length never changes")
            #expect(packet.uint16(at: 20 + 14) == window, "\(personality) \(probe.name) window")
            // Sequence and acknowledgment numbers are the kernel's.
            #expect(packet[24..<32] == probe.packet[24..<32])
            #expect(Checksum.verifies(packet), "\(personality) \(probe.name)")
            // The timestamp values are kept byte for byte.
            let before = TCPOptionList(probe.packet, from: 40, to: 20 + Int(probe.packet[32] >> 4) * 4)
            let after = TCPOptionList(packet, from: 40, to: 20 + Int(packet[32] >> 4) * 4)
            #expect(before == after, "the same options, values and all")
        }
        #expect(shaper.counters.scaleMismatches == 0)
    }

    @Test func aPrinterWithoutSACKAndARouterWithOnlyAnMSS() {
        var printer = PacketShaper(personality: .embedded, seed: 1)
        var packet = Self.kernelSynAck(sack: false, timestamps: true, scale: 0)
        printer.shape(outgoing: &packet)
        #expect(Self.notation(packet) == "M5B4NW0NNT11")
        #expect(packet.uint16(at: 34) == 2920)
        #expect(packet[6] & 0x40 != 0, "a printer's SYN-ACK keeps DF")

        var router = PacketShaper(personality: .cisco, seed: 1)
        packet = Self.kernelSynAck(sack: false, timestamps: false, scale: nil)
        router.shape(outgoing: &packet)
        #expect(Self.notation(packet) == "M218", "IOS offers 536")
        #expect(packet.uint16(at: 34) == 4128)
        #expect(packet[6] & 0x40 == 0, "no DF")
        #expect(Checksum.verifies(packet))
        // The MSS only ever goes down.
        packet = Self.kernelSynAck(sack: false, timestamps: false, scale: nil, mss: 512)
        router.shape(outgoing: &packet)
        #expect(Self.notation(packet) == "M200")
    }

    @Test func aScaleTheRoutesDidNotPinIsCountedAndLeftAlone() {
        var shaper = PacketShaper(personality: .freebsd, seed: 1)
        var packet = Self.kernelSynAck(sack: true, timestamps: true, scale: 7)
        shaper.shape(outgoing: &packet)
        #expect(Self.notation(packet) == "M5B4NW7ST11")
        #expect(shaper.counters.scaleMismatches == 1)
    }

    @Test func optionsTheShaperDoesNotKnowKeepTheKernelsOrder() {
        var shaper = PacketShaper(personality: .windows, seed: 1)
        // A Fast Open cookie (kind 34) after the usual options.
        let frame = Self.decky.tcp(
            sourcePort: 80,
            port: 41_000,
            flags: [.syn, .ack],
            window: 65_160,
            options: [.mss(1460), .sok, .ts(5, 6), .nop, .ws(8)]
        )
        var packet = Array(frame.dropFirst(14))
        let end = 20 + Int(packet[32] >> 4) * 4
        packet.replaceSubrange((end - 4)..<end, with: [34, 4, 0xAB, 0xCD])
        packet = Self.valid(packet)
        let original = packet
        shaper.shape(outgoing: &packet)
        #expect(packet[40..<end] == original[40..<end])
        #expect(packet.uint16(at: 34) == 8192, "the window is still Windows'")
        #expect(shaper.counters.unknownOptions == 1)
        #expect(Checksum.verifies(packet))
    }

    @Test func windowsIPIDsCountUpByOneAcrossTCPAndICMP() {
        var shaper = PacketShaper(personality: .windows, seed: 3)
        var ids: [UInt16] = []
        for _ in 0..<3 {
            var packet = Self.kernelSynAck(sack: true, timestamps: true, scale: 8)
            shaper.shape(outgoing: &packet)
            ids.append(packet.uint16(at: 4))
        }
        var echo = Self.valid(Array(Self.decky.icmp(type: 0, code: 9, payload: 120).dropFirst(14)))
        shaper.shape(outgoing: &echo)
        ids.append(echo.uint16(at: 4))
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $1 == $0 &+ 1 }, "\(ids)")
        #expect(echo[21] == 0, "code 0, whatever the request's")
        #expect(Checksum.verifies(echo))
    }

    @Test func randomIncrementsAreNmapsRI() {
        var shaper = PacketShaper(personality: .freebsd, seed: 11)
        var ids: [UInt16] = []
        for sequence in 1...6 {
            var echo = Self.valid(Array(Self.decky.icmp(type: 0, sequence: UInt16(sequence)).dropFirst(14)))
            shaper.shape(outgoing: &echo)
            ids.append(echo.uint16(at: 4))
        }
        let steps = zip(ids, ids.dropFirst()).map { $1 &- $0 }
        #expect(steps.allSatisfy { (1001...1500).contains($0) }, "\(steps)")
        #expect(!steps.allSatisfy { $0 % 256 == 0 })
    }

    @Test func echoRepliesMirrorTheRequestsDontFragment() {
        var shaper = PacketShaper(personality: .cisco, seed: 5)
        var attacker = FrameBuilder()
        attacker.source = 0x0A63_00FE
        attacker.destination = 0x0A63_000B
        for (sequence, dontFragment) in [(UInt16(295), true), (296, false)] {
            attacker.dontFragment = dontFragment
            shaper.observe(incoming: Array(attacker.icmp(type: 8, identifier: 77, sequence: sequence).dropFirst(14)))
            var reply = Self.decky
            reply.dontFragment = false  // Linux's echo replies never carry DF
            var packet = Self.valid(Array(reply.icmp(type: 0, identifier: 77, sequence: sequence).dropFirst(14)))
            shaper.shape(outgoing: &packet)
            #expect((packet[6] & 0x40 != 0) == dontFragment, "request \(sequence)")
            #expect(Checksum.verifies(packet))
        }
    }

    @Test func resetsAcknowledgeOnWindowsAndLoseDFOnAPrinter() {
        // A RST answering a bare ACK (nmap's T4/T6): Linux acknowledges 0.
        let frame = Self.decky.tcp(sourcePort: 22, port: 41_000, sequence: 0x5555, flags: .rst, window: 0)
        var windows = PacketShaper(personality: .windows, seed: 1)
        var packet = Self.valid(Array(frame.dropFirst(14)))
        windows.shape(outgoing: &packet)
        #expect(packet.uint32(at: 28) != 0)
        #expect(packet[6] & 0x40 != 0)
        #expect(Checksum.verifies(packet))

        var printer = PacketShaper(personality: .embedded, seed: 1)
        packet = Self.valid(Array(frame.dropFirst(14)))
        printer.shape(outgoing: &packet)
        #expect(packet.uint32(at: 28) == 0)
        #expect(packet[6] & 0x40 == 0)
        #expect(Checksum.verifies(packet))
    }

    @Test(arguments: [(OSPersonality.embedded, 112), (.cisco, 56), (.windows, 356)])
    func portUnreachablesQuoteAsTheOSDoes(personality: OSPersonality, length: Int) {
        // nmap's U1: 300 bytes of 'C' to a closed UDP port; Linux quotes all 328 bytes.
        var attacker = FrameBuilder()
        attacker.source = 0x0A63_00FE
        attacker.destination = 0x0A63_000B
        let probe = Self.valid(
            Array(attacker.udp(port: 40_125, payload: [UInt8](repeating: 0x43, count: 300)).dropFirst(14))
        )
        var quoted = probe
        quoted.setUInt16(0xBEEF, at: 26)  // the probe's UDP checksum
        let error = Self.decky.ipv4(protocol: 1, [3, 3, 0, 0, 0, 0, 0, 0] + quoted)
        var packet = Self.valid(Array(error.dropFirst(14)))
        var shaper = PacketShaper(personality: personality, seed: 1)
        shaper.shape(outgoing: &packet)
        #expect(packet.count == length)
        #expect(Int(packet.uint16(at: 2)) == length)
        #expect(Checksum.verifies(packet))
        // The quoted UDP header's checksum: zeroed by a printer, kept by the others.
        #expect(packet.uint16(at: 28 + 26) == (personality == .embedded ? 0 : 0xBEEF))
    }

    /// Hostile or odd packets (truncated, wrong lengths, options running off the end, random bytes) never crash
    /// the shaper and are never "shaped" into something invalid.
    @Test func hostileBytesNeverCrash() {
        var generator = SeededGenerator(seed: 0xDEC0_DE)
        var shapers = OSPersonality.allCases.map { PacketShaper(personality: $0, seed: 2) }
        var seeds = Self.probes(scale: 8).map(\.packet)
        seeds.append(Self.valid(Array(Self.decky.icmp(type: 0).dropFirst(14))))
        for round in 0..<20_000 {
            var packet: [UInt8]
            if round % 4 == 0 {
                packet = (0..<Int.random(in: 0...80, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                if packet.count > 0 { packet[0] = 0x45 }
            } else {
                packet = seeds[round % seeds.count]
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    packet[Int.random(in: 0..<packet.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
                if round % 3 == 0 { packet.removeLast(Int.random(in: 0..<packet.count, using: &generator)) }
            }
            for index in shapers.indices {
                var copy = packet
                shapers[index].observe(incoming: copy)
                if shapers[index].shape(outgoing: &copy) {
                    #expect(IPv4View(copy) != nil)
                }
            }
        }
    }

    @Test func rulesQueueOnlyWhatTheShapeChanges() {
        let windows = PersonalityLayer.rules(for: PersonalityTable.shape(.windows))
        #expect(windows.contains("-A OUTPUT -o eth0 -p tcp --tcp-flags SYN,ACK SYN,ACK -j DECNET-SHAPE"))
        #expect(
            windows.contains(
                "-A DECNET-SHAPE -m limit --limit 10000/sec --limit-burst 4000 -j NFQUEUE --queue-num 0 --queue-bypass"
            )
        )
        #expect(!windows.contains("PREROUTING"), "Windows needs nothing from incoming packets")
        #expect(windows.contains("destination-unreachable"), "its port-unreachables take the shared IP ID")
        let cisco = PersonalityLayer.rules(for: PersonalityTable.shape(.cisco))
        #expect(cisco.contains("-A PREROUTING -i eth0 -p icmp --icmp-type echo-request -j DECNET-SHAPE"))
        #expect(cisco.contains("destination-unreachable"))
        #expect(cisco.hasPrefix("*raw\n") && cisco.hasSuffix("COMMIT\n"))
    }
}
