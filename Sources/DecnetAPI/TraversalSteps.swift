import DecnetCore
import DecnetStore
import Foundation

/// An attacker's movement, collapsed for reading. The store keeps the traversal path chronological, hop by hop
/// (the seed's semantics); an nmap -sV over five deckies alone is hundreds of hops. Here every scan is one step
/// ("scan of 5 deckies"), covering the packet layer's reports and the connections made while it ran; consecutive
/// events on one decky are one step; and a run of back-and-forth among a few deckies is folded into one.
struct TraversalStep: Codable, Equatable, Sendable {
    enum Kind: String, Codable, Sendable {
        /// A scan (the packet layer's `scan.*` events, and what the source did on the deckies while it ran).
        case scan
        /// Time on one decky.
        case visit
        /// Back and forth among a few deckies, folded.
        case repeated
    }

    var kind: Kind
    /// A line for people: `scan of 5 deckies (tcp_syn, nmap)`, `web-01 (12 events)`, `web-01 ⇄ db-01 (9 moves)`.
    var label: String
    var deckies: [String]
    var events: Int
    var first: Date
    var last: Date
    var scanID: String? = nil
    var scanTypes: [String]? = nil
    var tool: String? = nil
    /// Moves folded into a `repeated` step.
    var moves: Int? = nil

    enum CodingKeys: String, CodingKey {
        case kind, label, deckies, events, first, last, tool, moves
        case scanID = "scan_id"
        case scanTypes = "scan_types"
    }

    /// At most this many decky names are kept per step (the count is in `label`).
    static let deckyLimit = 64

    /// The steps of `events` (any order; they are sorted by time here).
    static func steps(_ events: [HoneypotEvent]) -> [TraversalStep] {
        let ordered = events.sorted { $0.time < $1.time }
        // Each scan's span and what it touched, from its reports.
        struct Scan {
            var first: Date
            var last: Date
            var deckies: [String] = []
            var types: [String] = []
            var tool: String?
        }
        var scans: [String: Scan] = [:]
        for event in ordered where event.id.rawValue.hasPrefix("scan.") {
            guard let id = event[field: "scan_id"] else { continue }
            let first = event[field: "first_seen"].flatMap(RFC5424Parser.time) ?? event.time
            var scan = scans[id] ?? Scan(first: first, last: event.time)
            scan.first = min(scan.first, first)
            scan.last = max(scan.last, event.time)
            let named = (event[field: "deckies"] ?? "").split(separator: ",").map(String.init) + [event.decky]
            for decky in named where !scan.deckies.contains(decky) { scan.deckies.append(decky) }
            for type in (event[field: "scan_types"] ?? "").split(separator: ",").map(String.init)
            where !scan.types.contains(type) {
                scan.types.append(type)
            }
            if let tool = event[field: "tool"] { scan.tool = tool }
            scans[id] = scan
        }
        func scanCovering(_ event: HoneypotEvent) -> String? {
            if let id = event[field: "scan_id"], event.id.rawValue.hasPrefix("scan.") { return id }
            // Connections a scanner makes while its scan runs (nmap -sV's probes) belong to the scan.
            return scans.first {
                $0.value.first.addingTimeInterval(-1) <= event.time && event.time <= $0.value.last.addingTimeInterval(1)
            }?.key
        }

        var steps: [TraversalStep] = []
        for event in ordered {
            if let id = scanCovering(event), let scan = scans[id] {
                if let index = steps.lastIndex(where: { $0.scanID == id }), index == steps.count - 1 {
                    steps[index].events += 1
                    steps[index].last = max(steps[index].last, event.time)
                    if !steps[index].deckies.contains(event.decky), steps[index].deckies.count < Self.deckyLimit {
                        steps[index].deckies.append(event.decky)
                    }
                    continue
                }
                steps.append(
                    TraversalStep(
                        kind: .scan,
                        label: "",
                        deckies: Array(scan.deckies.prefix(Self.deckyLimit)),
                        events: 1,
                        first: event.time,
                        last: event.time,
                        scanID: id,
                        scanTypes: scan.types,
                        tool: scan.tool
                    )
                )
                continue
            }
            if var last = steps.last, last.kind == .visit, last.deckies == [event.decky] {
                last.events += 1
                last.last = event.time
                steps[steps.count - 1] = last
                continue
            }
            steps.append(
                TraversalStep(
                    kind: .visit,
                    label: "",
                    deckies: [event.decky],
                    events: 1,
                    first: event.time,
                    last: event.time
                )
            )
        }
        return Self.foldRepeats(steps).map(\.labelled)
    }

    /// Back and forth among two or three deckies (A B A B …, A B C A B C …) for at least two rounds becomes one
    /// step; other visits stay as they are.
    static func foldRepeats(_ steps: [TraversalStep]) -> [TraversalStep] {
        func decky(_ index: Int) -> String? { steps[index].kind == .visit ? steps[index].deckies[0] : nil }
        var out: [TraversalStep] = []
        var index = 0
        while index < steps.count {
            var folded = false
            for period in [2, 3] where decky(index) != nil {
                var end = index + 1
                while end < steps.count, let current = decky(end),
                    end - index < period || current == decky(end - period)
                {
                    end += 1
                }
                let run = steps[index..<end]
                let names = run.reduce(into: [String]()) { names, step in
                    if !names.contains(step.deckies[0]) { names.append(step.deckies[0]) }
                }
                guard run.count >= 2 * period, names.count == period else { continue }
                out.append(
                    TraversalStep(
                        kind: .repeated,
                        label: "",
                        deckies: names,
                        events: run.reduce(0) { $0 + $1.events },
                        first: run.first!.first,
                        last: run.last!.last,
                        moves: run.count
                    )
                )
                index = end
                folded = true
                break
            }
            if !folded {
                out.append(steps[index])
                index += 1
            }
        }
        return out
    }

    var labelled: TraversalStep {
        var step = self
        let events = self.events == 1 ? "1 event" : "\(self.events) events"
        switch self.kind {
        case .scan:
            let count = self.deckies.count
            let detail = ((self.scanTypes ?? []) + (self.tool.map { [$0] } ?? [])).joined(separator: ", ")
            step.label = "scan of \(count) \(count == 1 ? "decky" : "deckies")" + (detail.isEmpty ? "" : " (\(detail))")
        case .visit:
            step.label = "\(self.deckies[0]) (\(events))"
        case .repeated:
            step.label = "\(self.deckies.joined(separator: " ⇄ ")) (\(self.moves ?? 0) moves, \(events))"
        }
        return step
    }
}

extension TraversalStep {
    /// At most this many of an attacker's latest events are read to make its steps.
    static let eventLimit = 5_000

    /// The latest `eventLimit` events of the attacker at `ip` (what its steps and its profile are read from).
    static func events(_ store: any EventStore, ip: String) async throws -> [HoneypotEvent] {
        var events: [HoneypotEvent] = []
        while events.count < Self.eventLimit {
            let page = try await store.logs(LogQuery(attackerIP: ip, limit: 1_000, offset: events.count))
            events += page
            if page.count < 1_000 { break }
        }
        return events
    }
}
