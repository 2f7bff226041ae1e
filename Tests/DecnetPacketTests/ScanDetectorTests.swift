import DecnetCore
import Testing

@testable import DecnetPacket

/// Frames as the lab's tools send them, through the classifier and the detector, as the packet layer runs them.
struct Harness {
    var classifier = ProbeClassifier()
    var detector: ScanDetector
    var outputs: [DetectorOutput] = []
    /// Deckies 10.99.0.11 … 10.99.0.20 by index.
    static func address(_ decky: Int) -> UInt32 { 0x0A63_000B + UInt32(decky) }

    init(_ settings: ScanDetector.Settings = ScanDetector.Settings()) {
        self.detector = ScanDetector(settings: settings, seed: 7)
    }

    mutating func feed(_ bytes: [UInt8], decky: Int = 0, at time: Double) {
        guard let frame = Frame(ethernet: bytes),
            let probe = self.classifier.classify(frame, deckyAddress: Self.address(decky))
        else { return }
        self.outputs += self.detector.observe(probe, decky: decky, name: "decky-\(decky)", at: time)
    }

    mutating func tick(at time: Double) { self.outputs += self.detector.tick(at: time) }

    var scans: [ScanReport] {
        self.outputs.compactMap { if case .scan(let report) = $0 { report } else { nil } }
    }

    var fingerprints: [FingerprintReport] {
        self.outputs.compactMap { if case .fingerprint(let report) = $0 { report } else { nil } }
    }

    func detected(_ type: ScanType) -> [ScanReport] { self.scans.filter { $0.phase == .detected && $0.type == type } }
}

@Suite struct ScanDetectorTests {
    func builder(to decky: Int = 0) -> FrameBuilder {
        var build = FrameBuilder()
        build.destination = Harness.address(decky)
        return build
    }

    @Test func aThousandPortSYNScanIsAFewEventsNamingNmap() throws {
        var harness = Harness()
        harness.feed(self.builder().arpRequest(for: Harness.address(0)), at: 100)
        for port in 1...1000 {
            harness.feed(self.builder().nmapSYN(port: UInt16(port)), at: 100 + Double(port) / 10000)
        }
        harness.tick(at: 120)
        let scans = harness.scans
        #expect(scans.count <= 3, "\(scans.map(\.phase))")
        let detected = try #require(scans.first { $0.phase == .detected })
        #expect(detected.type == .tcpSYN && detected.tool == "nmap")
        #expect(detected.source == 0x0A63_00FE && detected.decky == "decky-0")
        #expect(detected.deckyPortCount == 5, "detected at the fifth port")
        let ended = try #require(scans.last { $0.phase == .ended })
        #expect(ended.deckyPortCount == 1000 && ended.packets == 1001 && ended.scanID == detected.scanID)
        #expect(ended.portSample == Array(1...20))
        #expect(!scans.contains { $0.types.contains(.synFlood) }, "a fast port scan is no flood")
        #expect(detected.sourcePort == 50885 && detected.port == 1)
        // The SYN's shape is reported once, as nmap's JA4T.
        #expect(harness.fingerprints.count == 1)
        #expect(harness.fingerprints.first?.fingerprint.ja4t == "1024_2_1460_00")
        #expect(harness.fingerprints.first?.fingerprint.tool == "nmap")
    }

    @Test func anARPSweepIsReportedOnEveryDeckyItReaches() {
        var harness = Harness()
        for decky in 0..<5 {
            harness.feed(
                self.builder(to: decky).arpRequest(for: Harness.address(decky)),
                decky: decky,
                at: 10 + Double(decky) / 100
            )
        }
        let sweeps =
            harness.detected(.arpSweep)
            + harness.scans.filter { $0.phase == .detected && $0.types.contains(.arpSweep) && $0.type != .arpSweep }
        #expect(Set(sweeps.map(\.decky)) == Set((0..<5).map { "decky-\($0)" }))
        #expect(harness.scans.allSatisfy { $0.source == 0x0A63_00FE })
        #expect(Set(harness.scans.map(\.scanID)).count == 1)
    }

    @Test func aNormalLoginIsNoScanButItsStackIsFingerprinted() throws {
        var harness = Harness()
        let build = self.builder()
        harness.feed(build.arpRequest(for: Harness.address(0)), at: 1)
        harness.feed(build.linuxSYN(port: 22), at: 1.001)
        harness.feed(
            build.tcp(sourcePort: 35982, port: 22, sequence: 1001, acknowledgement: 5, flags: .ack, window: 502),
            at: 1.002
        )
        harness.feed(
            build.tcp(
                sourcePort: 35982,
                port: 22,
                sequence: 1001,
                acknowledgement: 5,
                flags: [.ack, .psh],
                window: 502,
                payload: Array("SSH-2.0-OpenSSH_9.2p1\r\n".utf8)
            ),
            at: 1.003
        )
        harness.feed(
            build.tcp(
                sourcePort: 35982,
                port: 22,
                sequence: 1030,
                acknowledgement: 50,
                flags: [.fin, .ack],
                window: 502
            ),
            at: 5
        )
        harness.tick(at: 30)
        #expect(harness.scans.isEmpty)
        let fingerprint = try #require(harness.fingerprints.first?.fingerprint)
        #expect(fingerprint.osFamily == "Linux" && fingerprint.tool == nil)
        #expect(fingerprint.ja4t == "64240_2-4-8-1-3_1460_10")
        #expect(fingerprint.signature == "4:64+0:0:1460:mss*44,10:mss,sok,ts,nop,ws:df,id+:0")
    }

    @Test func aConnectScanIsToldFromAHalfOpenOne() throws {
        var harness = Harness()
        let build = self.builder()
        for (index, port) in [21, 22, 23, 25, 80, 443].enumerated() {
            let sourcePort = UInt16(41000 + index)
            harness.feed(build.linuxSYN(port: UInt16(port), sourcePort: sourcePort), at: 1)
            if port == 22 {
                harness.feed(
                    build.tcp(
                        sourcePort: sourcePort,
                        port: 22,
                        sequence: 1001,
                        acknowledgement: 9,
                        flags: .ack,
                        window: 502
                    ),
                    at: 1
                )
                harness.feed(
                    build.tcp(
                        sourcePort: sourcePort,
                        port: 22,
                        sequence: 1001,
                        acknowledgement: 9,
                        flags: [.rst, .ack],
                        window: 502
                    ),
                    at: 1
                )
            }
        }
        let detected = try #require(harness.scans.first)
        #expect(detected.type == .tcpConnect)
        #expect(detected.tool == "connect-scan")
    }

    @Test(arguments: [("masscan", 0), ("zmap", 1)])
    func rawScannersAreNamedFromTheirSYNs(tool: String, which: Int) throws {
        var harness = Harness()
        for decky in 0..<5 {
            let build = self.builder(to: decky)
            harness.feed(which == 0 ? build.masscanSYN(port: 22) : build.zmapSYN(port: 22), decky: decky, at: 1)
        }
        let detected = try #require(harness.scans.first)
        #expect(detected.type == .tcpSYN && detected.tool == tool)
        #expect(harness.scans.filter { $0.phase == .detected }.count == 5)
        #expect(harness.fingerprints.first?.fingerprint.ja4t == (which == 0 ? "1024_00_00_00" : "65535_00_00_00"))
    }

    @Test func anHpingSYNFloodIsAFloodByHping() throws {
        var harness = Harness()
        for index in 0..<3000 {
            harness.feed(
                self.builder().hpingSYN(port: 80, sourcePort: UInt16(2000 + index)),
                at: 50 + Double(index) / 3000
            )
        }
        let flood = try #require(harness.detected(.synFlood).first)
        #expect(flood.tool == "hping3")
        #expect(flood.peakRate >= 1000)
        #expect(harness.scans.count <= 2)
    }

    @Test func stealthFlagProbesAreScansFromTheFirstPacket() {
        for (flags, type) in [
            (TCPFlags(), ScanType.tcpNull), ([.fin], .tcpFIN), ([.fin, .psh, .urg], .tcpXmas),
            ([.syn, .fin], .tcpOddFlags),
        ] {
            var harness = Harness()
            harness.feed(self.builder().tcp(port: 22, flags: flags, window: 1024), at: 1)
            #expect(harness.scans.first?.type == type, "\(type)")
            #expect(harness.scans.first?.tool == "nmap")
        }
    }

    @Test func ackAndMaimonScansNeedSeveralOutOfConnectionPackets() {
        var harness = Harness()
        let build = self.builder()
        harness.feed(build.tcp(port: 22, acknowledgement: 77, flags: .ack, window: 1024), at: 1)
        #expect(harness.scans.isEmpty, "one stray ACK is no scan")
        harness.feed(build.tcp(port: 23, acknowledgement: 77, flags: .ack, window: 1024), at: 1)
        harness.feed(build.tcp(port: 24, acknowledgement: 77, flags: .ack, window: 1024), at: 1)
        #expect(harness.scans.first?.type == .tcpACK)
        var maimon = Harness()
        for port: UInt16 in 1...3 {
            maimon.feed(build.tcp(port: port, acknowledgement: 9, flags: [.fin, .ack], window: 1024), at: 1)
        }
        #expect(maimon.scans.first?.type == .tcpMaimon)
    }

    @Test func nmapOSDetectionProbesAreRecognised() {
        var harness = Harness()
        let build = self.builder()
        harness.feed(
            build.tcp(
                sourcePort: 43946,
                port: 22,
                flags: .syn,
                window: 31337,
                options: [.ws(10), .nop, .mss(265), .ts(0xFFFF_FFFF, 0), .sok]
            ),
            at: 1
        )
        #expect(harness.scans.first?.type == .osDetection && harness.scans.first?.tool == "nmap")
        var icmp = Harness()
        icmp.feed(build.icmp(type: 8, code: 9, identifier: 10069, sequence: 295, payload: 120), at: 1)
        #expect(icmp.scans.first?.type == .osDetection)
    }

    @Test func udpAndICMPProbes() {
        var udp = Harness()
        for port: UInt16 in [53, 161, 123] { udp.feed(self.builder().udp(port: port, payload: [1]), at: 1) }
        #expect(udp.scans.first?.type == .udp)

        var stamp = Harness()
        stamp.feed(self.builder().icmp(type: 13, payload: 12), at: 1)
        #expect(stamp.scans.first?.type == .icmpTimestamp)

        var ping = Harness()
        ping.feed(self.builder().icmp(type: 8), at: 1)
        ping.feed(self.builder().icmp(type: 8, sequence: 2), at: 2)
        #expect(ping.scans.isEmpty, "pinging one decky is no sweep")
        for decky in 1..<3 { ping.feed(self.builder(to: decky).icmp(type: 8), decky: decky, at: 3) }
        #expect(ping.scans.first?.type == .icmpEcho)

        var flood = Harness()
        for index in 0..<1500 {
            flood.feed(self.builder().udp(sourcePort: UInt16(3000 + index), port: 53), at: 9 + Double(index) / 2000)
        }
        #expect(flood.detected(.udpFlood).first?.tool == "hping3")
    }

    @Test func nmapsUDPScanIsNamedByItsRandomTTLs() {
        var harness = Harness()
        for (index, port) in [53, 161, 123, 137, 500, 1900].enumerated() {
            var build = self.builder()
            build.ttl = UInt8(40 + index * 3)
            harness.feed(build.udp(sourcePort: 43247, port: UInt16(port)), at: 1)
        }
        // Named from the third packet on, which is also when three ports make it a UDP scan.
        #expect(harness.scans.first?.type == .udp && harness.scans.first?.tool == "nmap")
    }

    /// The client closes first: FIN, the server's FIN, the client's last ACK. None of it is a probe.
    /// A scan recognised before its packets show the tool says so in a progress report as soon as they do.
    @Test func theToolIsReportedAsSoonAsThePacketsShowIt() {
        var harness = Harness()
        for (index, port) in [53, 161, 123, 137, 500].enumerated() {
            var build = self.builder()
            build.ttl = index < 3 ? 64 : UInt8(40 + index)
            harness.feed(build.udp(sourcePort: 43247, port: UInt16(port)), at: 1)
        }
        #expect(harness.scans.first?.phase == .detected && harness.scans.first?.tool == nil)
        #expect(harness.scans.last?.phase == .progress && harness.scans.last?.tool == "nmap")
    }

    @Test func aConnectionsClosingPacketsAreNoACKScan() {
        var harness = Harness()
        let build = self.builder()
        for connection in 0..<5 {
            let port = UInt16(45000 + connection)
            harness.feed(build.linuxSYN(port: 6379, sourcePort: port), at: 1)
            harness.feed(
                build.tcp(sourcePort: port, port: 6379, sequence: 1001, acknowledgement: 2, flags: .ack, window: 502),
                at: 1
            )
            harness.feed(
                build.tcp(
                    sourcePort: port,
                    port: 6379,
                    sequence: 1001,
                    acknowledgement: 2,
                    flags: [.ack, .psh],
                    window: 502,
                    payload: Array("PING\r\n".utf8)
                ),
                at: 1
            )
            harness.feed(
                build.tcp(
                    sourcePort: port,
                    port: 6379,
                    sequence: 1007,
                    acknowledgement: 9,
                    flags: [.fin, .ack],
                    window: 502
                ),
                at: 1
            )
            harness.feed(
                build.tcp(sourcePort: port, port: 6379, sequence: 1008, acknowledgement: 10, flags: .ack, window: 502),
                at: 1
            )
        }
        #expect(harness.scans.isEmpty, "\(harness.scans.map(\.type))")
    }

    @Test func aVersionProbeIsRecognised() {
        var harness = Harness()
        let build = self.builder()
        harness.feed(build.linuxSYN(port: 80, sourcePort: 5000), at: 1)
        harness.feed(
            build.tcp(sourcePort: 5000, port: 80, sequence: 1001, acknowledgement: 2, flags: .ack, window: 502),
            at: 1
        )
        harness.feed(
            build.tcp(
                sourcePort: 5000,
                port: 80,
                sequence: 1001,
                acknowledgement: 2,
                flags: [.ack, .psh],
                window: 502,
                payload: Array("GET / HTTP/1.0\r\n\r\n".utf8)
            ),
            at: 1
        )
        #expect(harness.scans.first?.type == .versionProbe)
    }

    @Test func theGatewayAndIgnoredSourcesAreNeverScanners() {
        var settings = ScanDetector.Settings()
        settings.ignored = [0x0A63_0001]
        var harness = Harness(settings)
        for decky in 0..<5 {
            var build = self.builder(to: decky)
            build.source = 0x0A63_0001
            harness.feed(build.arpRequest(for: Harness.address(decky)), decky: decky, at: 1)
        }
        #expect(harness.outputs.isEmpty)
        // A decky's own address as a source (a hairpin) is no scanner either: the classifier drops it.
        var own = Harness()
        var build = self.builder()
        build.source = Harness.address(0)
        own.feed(build.tcp(port: 1, flags: [], window: 1024), at: 1)
        #expect(own.outputs.isEmpty)
    }

    @Test func memoryIsBoundedUnderSpoofedSources() {
        var settings = ScanDetector.Settings()
        settings.maximumSources = 100
        var harness = Harness(settings)
        for index in 0..<5000 {
            var build = self.builder()
            build.source = 0xC000_0000 + UInt32(index)
            harness.feed(build.hpingSYN(port: 80, sourcePort: 1000), at: 1 + Double(index) / 10_000)
        }
        #expect(harness.detector.sourceCount <= 100)
        #expect(harness.classifier.flowCount <= 65_536)
    }

    @Test func aLongScanReportsProgressThenEnds() {
        var harness = Harness()
        for second in 0..<30 {
            for port in 0..<10 {
                harness.feed(
                    self.builder().nmapSYN(port: UInt16(second * 10 + port + 1)),
                    at: Double(second) + Double(port) / 10
                )
            }
            harness.tick(at: Double(second) + 0.99)
        }
        harness.tick(at: 60)
        let phases = harness.scans.map(\.phase)
        #expect(phases.first == .detected && phases.last == .ended)
        #expect(phases.filter { $0 == .progress }.count == 2, "\(phases)")
        #expect(harness.scans.last?.deckyPortCount == 300)
    }
}
