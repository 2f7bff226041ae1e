/// Attackers' movement across a topology's segments.
extension MazeLayout {
    /// An attacker's way across the segments: the deckies it touched (in the order first touched, as the store
    /// keeps them), the segments those stand on in that order (each once per stay), and between two segments the
    /// routers the traffic went through (a shortest path; the attacker went through them even without touching
    /// them as honeypots).
    public struct Path: Codable, Sendable, Equatable {
        public var deckies: [String]
        public var segments: [String]
        /// `segments.count - 1` crossings, each the routers between one segment and the next.
        public var crossings: [[String]]
        /// Every node on the way, in order: `attacker`, then each router crossed and each decky touched.
        public var route: [String]

        public init(deckies: [String], segments: [String], crossings: [[String]], route: [String]) {
            self.deckies = deckies
            self.segments = segments
            self.crossings = crossings
            self.route = route
        }
    }

    /// The path of an attacker that touched `touched` (in order); nil when it touched none of this topology's
    /// deckies. An attacker is taken to start on the entry segment (where it stands), so a first touch elsewhere
    /// still shows the routers it crossed to get there.
    public func path(touching touched: [String]) -> Path? {
        let deckies = touched.filter { self.legs[$0] != nil }
        guard !deckies.isEmpty else { return nil }
        var segments = [self.attacker.segment]
        var crossings: [[String]] = []
        var route = ["attacker"]
        for decky in deckies {
            // A router touched is on the segment the attacker reached it from, if it stands there.
            let legs = self.legs[decky] ?? []
            let here = legs.contains { $0.segment == segments.last } ? segments.last! : legs.first!.segment
            if here != segments.last {
                let crossed = self.routers(from: segments.last!, to: here)
                crossings.append(crossed)
                route += crossed
                segments.append(here)
            }
            if route.last != decky { route.append(decky) }
        }
        return Path(deckies: deckies, segments: segments, crossings: crossings, route: route)
    }

    /// The routers on a shortest path of segments from `start` to `end`, in order.
    public func routers(from start: String, to end: String) -> [String] {
        var previous: [String: (segment: String, router: String)] = [:]
        var visited: Set<String> = [start]
        var queue = [start]
        while !queue.isEmpty, !visited.contains(end) {
            let segment = queue.removeFirst()
            for router in self.routers {
                let routerLegs = self.legs[router] ?? []
                guard routerLegs.contains(where: { $0.segment == segment }) else { continue }
                for leg in routerLegs where !visited.contains(leg.segment) {
                    visited.insert(leg.segment)
                    previous[leg.segment] = (segment, router)
                    queue.append(leg.segment)
                }
            }
        }
        var result: [String] = []
        var segment = end
        while let step = previous[segment] {
            result.append(step.router)
            segment = step.segment
        }
        return result.reversed()
    }
}
