import Testing

@testable import DecnetCore

/// MazeNET's wiring: which router each host goes through to each other segment, and the designs it refuses.
@Suite struct MazeLayoutTests {
    static let segments = [
        MazeLayout.Segment(name: "dmz", subnet: IPv4Network("10.80.1.0/24")!),
        MazeLayout.Segment(name: "office", subnet: IPv4Network("10.80.2.0/24")!),
        MazeLayout.Segment(name: "vault", subnet: IPv4Network("10.80.3.0/24")!),
    ]

    static func leg(_ segment: String, _ ip: String) -> MazeLayout.Leg {
        MazeLayout.Leg(segment: segment, ip: IPv4Address(ip)!)
    }

    static let routers = [
        "r1": [leg("dmz", "10.80.1.1"), leg("office", "10.80.2.1")],
        "r2": [leg("office", "10.80.2.2"), leg("vault", "10.80.3.1")],
    ]
    static let deckies = [
        "web": leg("dmz", "10.80.1.10"), "files": leg("office", "10.80.2.10"), "safe": leg("vault", "10.80.3.10"),
    ]

    static func routes(_ routes: [MazeLayout.Route]?) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (routes ?? []).map { ($0.destination.description, $0.via.description) })
    }

    @Test func aChainOfThreeSegmentsRoutesThroughTheNearestRouter() throws {
        let layout = try MazeLayout.plan(
            name: "m1",
            segments: Self.segments,
            deckies: Self.deckies,
            routers: Self.routers,
            entry: "dmz"
        )
        #expect(Self.routes(layout.routes["web"]) == ["10.80.2.0/24": "10.80.1.1", "10.80.3.0/24": "10.80.1.1"])
        #expect(Self.routes(layout.routes["files"]) == ["10.80.1.0/24": "10.80.2.1", "10.80.3.0/24": "10.80.2.2"])
        #expect(Self.routes(layout.routes["safe"]) == ["10.80.1.0/24": "10.80.3.1", "10.80.2.0/24": "10.80.3.1"])
        // Routers route only to what they are not on, through the other router.
        #expect(Self.routes(layout.routes["r1"]) == ["10.80.3.0/24": "10.80.2.2"])
        #expect(Self.routes(layout.routes["r2"]) == ["10.80.1.0/24": "10.80.2.1"])
        #expect(layout.attacker == Self.leg("dmz", "10.80.1.254"))
        #expect(Self.routes(layout.attackerRoutes) == ["10.80.2.0/24": "10.80.1.1", "10.80.3.0/24": "10.80.1.1"])
        #expect(layout.routers == ["r1", "r2"] && layout.segment(of: "files") == "office")
        #expect(layout.legs["r2"]?.map(\.segment) == ["office", "vault"])
        #expect(layout.switchNamespace("dmz") == "decnet-m1-dmz" && layout.attackerNamespace == "decnet-m1-attacker")
    }

    @Test func designsThatCannotBeWiredAreRefusedByName() {
        func problem(
            deckies: [String: MazeLayout.Leg] = Self.deckies,
            routers: [String: [MazeLayout.Leg]] = Self.routers,
            entry: String = "dmz"
        ) -> String {
            do {
                _ = try MazeLayout.plan(
                    name: "m",
                    segments: Self.segments,
                    deckies: deckies,
                    routers: routers,
                    entry: entry
                )
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(routers: ["r1": Self.routers["r1"]!]) == "segment vault: no router joins it to dmz")
        #expect(
            problem(deckies: ["web": Self.leg("dmz", "10.80.2.10")])
                == "web: 10.80.2.10 is not a host address of dmz (10.80.1.0/24)"
        )
        #expect(problem(deckies: ["web": Self.leg("lan", "10.80.1.10")]) == "web: no segment lan")
        #expect(problem(deckies: ["web": Self.leg("dmz", "10.80.1.1")]).hasSuffix("both have 10.80.1.1"))
        #expect(
            problem(deckies: ["web": Self.leg("dmz", "10.80.1.254")])
                == "web has 10.80.1.254, the last address of dmz, which the lab's attacker takes"
        )
        #expect(
            problem(routers: ["r1": [Self.leg("dmz", "10.80.1.1"), Self.leg("dmz", "10.80.1.2")]])
                == "r1: two legs on one segment"
        )
        #expect(problem(routers: ["r1": [Self.leg("dmz", "10.80.1.1")]]) == "r1: a router joins two segments or more")
        #expect(problem(entry: "lan") == "entry: no segment lan")
    }
}

extension MazeLayoutTests {
    @Test func anAttackersPathCrossesTheRoutersBetweenTheSegmentsItReached() throws {
        let layout = try MazeLayout.plan(
            name: "m1",
            segments: Self.segments,
            deckies: Self.deckies,
            routers: Self.routers,
            entry: "dmz"
        )
        let deep = try #require(layout.path(touching: ["web", "elsewhere", "files", "safe"]))
        #expect(deep.deckies == ["web", "files", "safe"])
        #expect(deep.segments == ["dmz", "office", "vault"] && deep.crossings == [["r1"], ["r2"]])
        #expect(deep.route == ["attacker", "web", "r1", "files", "r2", "safe"])
        // Straight to the vault: both routers crossed at once.
        let direct = try #require(layout.path(touching: ["safe"]))
        #expect(direct.segments == ["dmz", "vault"] && direct.crossings == [["r1", "r2"]])
        // The router's own ssh, on the attacker's segment: no crossing; and back again.
        let router = try #require(layout.path(touching: ["r1", "web"]))
        #expect(router.segments == ["dmz"] && router.crossings.isEmpty && router.route == ["attacker", "r1", "web"])
        #expect(layout.path(touching: ["files", "web"])?.segments == ["dmz", "office", "dmz"])
        #expect(layout.path(touching: ["elsewhere"]) == nil)
    }
}
