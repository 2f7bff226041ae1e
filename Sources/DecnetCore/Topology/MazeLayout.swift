/// A MazeNET topology as the wire needs it: segments (subnets, each a switch of its own), the segment and
/// address of every decky, the router deckies' legs, and every route, computed once by `MazeLayout.plan` and kept
/// in the fleet's state so a restarted engine rebuilds exactly the same network.
///
/// Routers are deckies with one interface per segment they join (`eth0`, `eth1`, … in the order of their legs)
/// and IPv4 forwarding on. Nothing else joins two segments: a segment's switch has no address and forwards
/// nothing, so a host reaches another segment only through a router.
public struct MazeLayout: Codable, Sendable, Equatable {
    public struct Segment: Codable, Sendable, Equatable {
        public var name: String
        public var subnet: IPv4Network

        public init(name: String, subnet: IPv4Network) {
            self.name = name
            self.subnet = subnet
        }
    }

    /// One interface: its segment and address.
    public struct Leg: Codable, Sendable, Equatable {
        public var segment: String
        public var ip: IPv4Address

        public init(segment: String, ip: IPv4Address) {
            self.segment = segment
            self.ip = ip
        }
    }

    /// A route to another segment's subnet through a router's address on the host's own segment.
    public struct Route: Codable, Sendable, Equatable {
        public var destination: IPv4Network
        public var via: IPv4Address

        public init(destination: IPv4Network, via: IPv4Address) {
            self.destination = destination
            self.via = via
        }
    }

    /// Names the namespaces of this maze's switches and attacker (`decnet-<name>-<segment>`).
    public var name: String
    public var segments: [Segment]
    /// Every decky's interfaces, its first the one it is known by (`eth0`).
    public var legs: [String: [Leg]]
    /// The deckies that route.
    public var routers: [String]
    /// Every decky's routes to the segments it is not on.
    public var routes: [String: [Route]]
    /// The lab's attacker: where it stands and its routes.
    public var attacker: Leg
    public var attackerRoutes: [Route]

    public func segment(named name: String) -> Segment? { self.segments.first { $0.name == name } }

    /// What the topology holds, for people: `3 segment(s), 2 router(s), 5 decky(s)`.
    public var summary: String {
        "\(self.segments.count) segment(s), \(self.routers.count) router(s), \(self.legs.count) decky(s)"
    }

    /// The switch namespace of a segment.
    public func switchNamespace(_ segment: String) -> String { "decnet-\(self.name)-\(segment)" }

    /// The attacker's namespace (named as a lab's, so `decnet lab exec --lab-name <maze>` runs there).
    public var attackerNamespace: String { "decnet-\(self.name)-attacker" }

    /// The segment a decky is on (its first leg's).
    public func segment(of decky: String) -> String? { self.legs[decky]?.first?.segment }

    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The wiring of a design: each decky on its segment, each router's legs, and the routes between segments
    /// (the first router on a shortest path of segments). The attacker stands on `entry` at that segment's last
    /// usable address. Fails naming what cannot be wired: a segment no router joins to the others, a decky or leg
    /// outside its segment, two legs of one router on one segment.
    public static func plan(
        name: String,
        segments: [Segment],
        deckies: [String: Leg],
        routers: [String: [Leg]],
        entry: String
    ) throws -> MazeLayout {
        let bySegment = Dictionary(segments.map { ($0.name, $0) }) { first, _ in first }
        func check(_ leg: Leg, of owner: String) throws {
            guard let segment = bySegment[leg.segment] else {
                throw Problem(description: "\(owner): no segment \(leg.segment)")
            }
            guard segment.subnet.isUsableHost(leg.ip) else {
                throw Problem(
                    description: "\(owner): \(leg.ip) is not a host address of \(leg.segment) (\(segment.subnet))"
                )
            }
        }
        guard let entrySegment = bySegment[entry] else { throw Problem(description: "entry: no segment \(entry)") }
        var legs: [String: [Leg]] = [:]
        for (decky, leg) in deckies {
            try check(leg, of: decky)
            legs[decky] = [leg]
        }
        for (router, routerLegs) in routers {
            guard routerLegs.count >= 2 else {
                throw Problem(description: "\(router): a router joins two segments or more")
            }
            guard Set(routerLegs.map(\.segment)).count == routerLegs.count else {
                throw Problem(description: "\(router): two legs on one segment")
            }
            for leg in routerLegs { try check(leg, of: router) }
            legs[router] = routerLegs
        }
        // Every address once.
        var owners: [IPv4Address: String] = [:]
        for (owner, ownLegs) in legs.sorted(by: { $0.key < $1.key }) {
            for leg in ownLegs {
                if let other = owners[leg.ip] {
                    throw Problem(description: "\(owner) and \(other) both have \(leg.ip)")
                }
                owners[leg.ip] = owner
            }
        }
        let attacker = Leg(segment: entry, ip: entrySegment.subnet.usableRange.upperBound)
        if let owner = owners[attacker.ip] {
            throw Problem(
                description: "\(owner) has \(attacker.ip), the last address of \(entry), which the lab's attacker takes"
            )
        }

        // Segments joined by routers: for each segment, the routers on it and the segments each leads to.
        let sortedRouters = routers.keys.sorted()
        func firstHops(from start: String) -> [String: IPv4Address] {
            // Breadth first over segments; each reached segment remembers the router address on `start` that
            // began its path.
            var hop: [String: IPv4Address] = [:]
            var visited: Set<String> = [start]
            var queue: [(segment: String, via: IPv4Address?)] = [(start, nil)]
            while !queue.isEmpty {
                let (segment, via) = queue.removeFirst()
                for router in sortedRouters {
                    let routerLegs = routers[router] ?? []
                    guard let here = routerLegs.first(where: { $0.segment == segment }) else { continue }
                    for leg in routerLegs where !visited.contains(leg.segment) {
                        visited.insert(leg.segment)
                        let first = via ?? here.ip
                        hop[leg.segment] = first
                        queue.append((leg.segment, first))
                    }
                }
            }
            return hop
        }
        var hopsBySegment: [String: [String: IPv4Address]] = [:]
        for segment in segments { hopsBySegment[segment.name] = firstHops(from: segment.name) }
        for segment in segments where segment.name != entry && hopsBySegment[entry]?[segment.name] == nil {
            throw Problem(description: "segment \(segment.name): no router joins it to \(entry)")
        }
        func routesFrom(_ ownLegs: [Leg]) -> [Route] {
            let attached = Set(ownLegs.map(\.segment))
            var result: [Route] = []
            for segment in segments where !attached.contains(segment.name) {
                // Through the first leg that has a path there (a router's own legs each see their neighbours).
                for leg in ownLegs {
                    if let via = hopsBySegment[leg.segment]?[segment.name], !ownLegs.contains(where: { $0.ip == via }) {
                        result.append(Route(destination: segment.subnet, via: via))
                        break
                    }
                }
            }
            return result
        }
        var routes: [String: [Route]] = [:]
        for (decky, ownLegs) in legs { routes[decky] = routesFrom(ownLegs) }
        return MazeLayout(
            name: name,
            segments: segments,
            legs: legs,
            routers: sortedRouters,
            routes: routes,
            attacker: attacker,
            attackerRoutes: routesFrom([attacker])
        )
    }
}
