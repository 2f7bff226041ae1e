import DecnetCore
import Foundation
import Testing

@testable import DecnetAPI

/// The attacker's movement collapsed for reading: scans are one step, repeats are folded.
@Suite struct TraversalStepTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    static func event(
        _ id: EventID,
        _ decky: String,
        at seconds: Double,
        _ fields: [String: String] = [:]
    ) -> HoneypotEvent {
        HoneypotEvent(
            time: Self.start.addingTimeInterval(seconds),
            id: id,
            decky: decky,
            hostname: decky,
            service: id.rawValue.hasPrefix("scan.") ? "sniffer" : "ssh",
            session: "s",
            source: Endpoint(ip: "10.77.0.254", port: 40000),
            destination: Endpoint(ip: "10.77.0.10", port: 22),
            fields: fields.sorted { $0.key < $1.key }.map { EventField($0.key, $0.value) }
        )
    }

    /// An nmap -sV over `count` deckies: the packet layer's reports, and the connections its probes made,
    /// interleaved across the deckies as nmap does (hundreds of hops in the chronological path).
    static func versionScan(of count: Int, from offset: Double = 0) -> [HoneypotEvent] {
        let deckies = (0..<count).map { "decky-\($0)" }
        let scan: [String: String] = [
            "scan_id": "abc123abc123", "scan_types": "tcp_syn,version_probe", "tool": "nmap",
            "deckies": deckies.joined(separator: ","),
            "first_seen": RFC5424Formatter.timestamp(Self.start.addingTimeInterval(offset)),
        ]
        var events = deckies.enumerated().map { index, decky in
            Self.event(.scanDetected, decky, at: offset + 0.1 + Double(index) / 100, scan)
        }
        for probe in 0..<200 {
            events.append(Self.event(.connectionOpen, deckies[probe % count], at: offset + 1 + Double(probe) / 50))
        }
        events.append(Self.event(.scanEnded, deckies[0], at: offset + 6, scan))
        return events
    }

    @Test(arguments: [5, 50])
    func aVersionScanOverManyDeckiesIsOneStep(deckies: Int) throws {
        let events = Self.versionScan(of: deckies) + [Self.event(.loginFailed, "decky-3", at: 100)]
        let steps = TraversalStep.steps(events.shuffled())
        #expect(steps.map(\.kind) == [.scan, .visit], "\(steps.map(\.label))")
        let scan = try #require(steps.first)
        #expect(scan.deckies.count == min(deckies, TraversalStep.deckyLimit))
        #expect(scan.label == "scan of \(deckies) deckies (tcp_syn, version_probe, nmap)")
        #expect(scan.events == deckies + 201)
        #expect(steps.last?.label == "decky-3 (1 event)")
        // The drawing stays one node per step however many deckies the scan touched.
        let svg = TraversalDrawing.svg(steps: steps)
        #expect(svg.components(separatedBy: "<g class=\"node").count - 1 == 2)
        #expect(svg.components(separatedBy: "class=\"hop\"").count - 1 == 1)
    }

    @Test func visitsInTimeOrderAndRepeatsFolded() {
        var events = [
            Self.event(.connectionOpen, "web01", at: 0), Self.event(.loginFailed, "web01", at: 1),
            Self.event(.connectionOpen, "files", at: 2), Self.event(.connectionOpen, "web01", at: 3),
        ]
        #expect(TraversalStep.steps(events).map(\.label) == ["web01 (2 events)", "files (1 event)", "web01 (1 event)"])
        // Then back and forth between two deckies eight times: one folded step.
        for move in 0..<8 {
            events.append(Self.event(.connectionOpen, move % 2 == 0 ? "db01" : "cache", at: 10 + Double(move)))
        }
        let steps = TraversalStep.steps(events)
        #expect(steps.count == 4, "\(steps.map(\.label))")
        #expect(steps.last?.kind == .repeated)
        #expect(steps.last?.label == "db01 ⇄ cache (8 moves, 8 events)")
        #expect(steps.last?.moves == 8)
    }

    @Test func noEventsNoSteps() {
        #expect(TraversalStep.steps([]).isEmpty)
        #expect(TraversalDrawing.svg(steps: []).contains("No decky touched"))
    }
}
