import DecnetConfig
import DecnetCore
import Foundation
import Testing

/// Topology files: a fleet file's syntax with segments, each decky's segment and each router's legs; every
/// problem named by file, line and key.
@Suite struct TopologyFileLoaderTests {
    static let maze = """
        [topology]
        entry = dmz

        [subnet:dmz]
        net = 10.80.1.0/24

        [subnet:office]
        net = 10.80.2.0/24

        [gw]
        router = dmz:10.80.1.1, office:10.80.2.1
        services = ssh

        [web]
        subnet = dmz
        ip = 10.80.1.10
        services = http

        [web.http]
        server_header = nginx

        [files]
        subnet = office
        ip = 10.80.2.10
        archetype = file-server
        """

    @Test func aTopologyIsAFleetOnSegmentsJoinedByRouters() throws {
        let design = TopologyFileLoader.design(from: Self.maze, path: "maze.ini")
        #expect(design.request.diagnostics.isEmpty, "\(design.request.diagnostics)")
        #expect(design.segments.map(\.name) == ["dmz", "office"] && design.entry == "dmz")
        #expect(design.routers["gw"]?.map(\.ip.description) == ["10.80.1.1", "10.80.2.1"])
        #expect(design.deckies["web"]?.segment == "dmz" && design.deckies["files"]?.ip.description == "10.80.2.10")
        #expect(design.request.net?.value.description == "10.80.0.0/22")
        let fleet = try FleetPlanner().plan(design.request)
        let byName = Dictionary(uniqueKeysWithValues: fleet.deckies.map { ($0.name, $0) })
        #expect(byName["gw"]?.ip.description == "10.80.1.1", "a router is known by its first leg")
        #expect(byName["web"]?.services.map(\.kind) == ["http"])
        #expect(byName["web"]?.services.first?.persona["server_header"] == "nginx")
        #expect(byName["files"]?.services.map(\.kind).contains("smb") == true)
    }

    /// Found by the topology fuzz target (Fuzz/crashes/topology/): a file with CR line ends had lines the INI
    /// parser counts and the rewrite did not, and the rewrite indexed past its end.
    @Test func crLineEndsAreNumberedAsTheParserNumbersThem() {
        let text = Self.maze.replacingOccurrences(of: "\n", with: "\r")
        let design = TopologyFileLoader.design(from: text, path: "cr.ini")
        #expect(design.request.diagnostics.isEmpty, "\(design.request.diagnostics)")
        #expect(design.routers["gw"]?.count == 2 && design.deckies["files"]?.segment == "office")
        let mixed = "[subnet:dmz]\r\nnet = 10.80.1.0/24\r[web]\nsubnet = dmz\r\nip = 10.80.1.10\rservices = http\n"
        #expect(TopologyFileLoader.design(from: mixed, path: "mixed.ini").request.diagnostics.isEmpty)
    }

    @Test func problemsNameTheirLineAndKey() {
        func problems(_ text: String) -> [String] {
            TopologyFileLoader.design(from: text, path: "bad.ini").request.diagnostics.map(\.description)
        }
        let base = "[subnet:dmz]\nnet = 10.80.1.0/24\n"
        #expect(
            problems(base + "[web]\nip = 10.80.1.10\nservices = http\n").contains {
                $0.hasPrefix("bad.ini:3: [web]:") && $0.contains("needs subnet = SEGMENT")
            }
        )
        #expect(
            problems(base + "[web]\nsubnet = lan\nip = 10.80.1.10\nservices = http\n").contains {
                $0.hasPrefix("bad.ini:4: [web] subnet:") && $0.contains("no segment lan")
            }
        )
        #expect(
            problems(base + "[web]\nsubnet = dmz\nservices = http\n").contains { $0.hasPrefix("bad.ini:3: [web] ip:") }
        )
        #expect(
            problems(base + "[web]\nsubnet = dmz\namount = 3\nservices = http\n").contains {
                $0.hasPrefix("bad.ini:5: [web] amount:")
            }
        )
        #expect(
            problems(base + "[gw]\nrouter = dmz:10.80.1.1, lan:10.80.9.1\n").contains {
                $0.hasPrefix("bad.ini:4: [gw] router:") && $0.contains("'lan:10.80.9.1'")
            }
        )
        #expect(problems(base + "[general]\nnet = 10.0.0.0/8\n").contains { $0.hasPrefix("bad.ini:3: [general]:") })
        #expect(
            problems("[subnet:dmz]\nnet = 10.80.1.0/24\n[subnet:lan]\nnet = 10.80.1.128/25\n").contains {
                $0.hasPrefix("bad.ini:4: [subnet:lan] net:") && $0.contains("overlaps segment dmz")
            }
        )
        #expect(problems("[topology]\nentry = lan\n" + base).contains { $0.hasPrefix("bad.ini:2: [topology] entry:") })
        // The fleet file's own checks (the planner's) still name the topology file's lines.
        let design = TopologyFileLoader.design(
            from: base + "[web]\nsubnet = dmz\nip = 10.80.1.10\nservices = htp\n",
            path: "bad.ini"
        )
        #expect(throws: ConfigurationError.self) { try FleetPlanner().plan(design.request) }
        do {
            _ = try FleetPlanner().plan(design.request)
        } catch {
            #expect(
                error.diagnostics.map(\.description).contains { $0.hasPrefix("bad.ini:6: [web] services:") },
                "\(error)"
            )
        }
    }
}
