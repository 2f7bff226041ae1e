import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 26's MazeNET line, on this machine: a topology of three segments joined by two router deckies, created
/// and deployed with `decnet topology`, seen from the lab's attacker on the first segment. The second segment is
/// reachable only through the router: through it a login lands on a decky there with the attacker's own address;
/// with the router's forwarding off, or the attacker pretending the segment is on its wire, nothing gets there.
@Suite(.serialized) struct MazeNetLabTests {
    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func threeSegmentsAreReachedOnlyThroughTheirRouters() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let x = Int.random(in: 1...250)
            let (a, b, c) = ("10.81.\(x)", "10.82.\(x)", "10.83.\(x)")
            let maze = """
                [topology]
                entry = dmz

                [subnet:dmz]
                net = \(a).0/24

                [subnet:office]
                net = \(b).0/24

                [subnet:vault]
                net = \(c).0/24

                [\(tag)-r1]
                router = dmz:\(a).1, office:\(b).1
                services = ssh

                [\(tag)-r2]
                router = office:\(b).2, vault:\(c).1
                services = ssh

                [\(tag)-web]
                subnet = dmz
                ip = \(a).10
                services = http

                [\(tag)-files]
                subnet = office
                ip = \(b).10
                services = http

                [\(tag)-safe]
                subnet = vault
                ip = \(c).10
                services = http
                """
            let file = harness.directory.url.appendingPathComponent("maze.ini")
            try maze.write(to: file, atomically: true, encoding: .utf8)
            let created = try await harness.decnet([
                "topology", "create", "--name", "\(tag)-maze", "--config", file.path,
            ])
            try #require(created.status == 0, "\(created.standardOutput)\(created.standardError)")
            #expect(
                created.standardOutput.contains("3 segment(s), 2 router(s), 5 decky(s)"),
                "\(created.standardOutput)"
            )
            let id = try #require(
                created.standardOutput.split(separator: " ").first { TopologyStore.isID(String($0.prefix(12))) }
                    .map { String($0.prefix(12)) },
                "\(created.standardOutput)"
            )
            let network = "m" + id.prefix(7)
            // The maze's own namespaces are not named after the harness's tag: removed here whatever happens.
            func removeMaze() async {
                for name in ["attacker", "dmz", "office", "vault"] {
                    _ = try? await ProcessRunner.run("/usr/sbin/ip", ["netns", "del", "decnet-\(network)-\(name)"])
                }
            }
            do {
                let deployed = try await harness.decnet(["topology", "deploy", "--id", id])
                try #require(deployed.status == 0, "\(deployed.standardOutput)\(deployed.standardError)")
                func attacker(_ arguments: [String]) async throws -> ProcessResult {
                    try await harness.decnet(["lab", "exec", "--name", network, "--"] + arguments)
                }
                func fetch(_ ip: String, _ password: String) async throws -> String {
                    let run = try await attacker([
                        curl, "-s", "-m", "4", "-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:\(password)",
                        "http://\(ip)/",
                    ])
                    return run.standardOutput
                }
                // The attacker's way to the office is the router's address on its own segment.
                let route = try await attacker(["ip", "route", "get", "\(b).10"])
                #expect(route.standardOutput.contains("via \(a).1 dev eth0"), "\(route.standardOutput)")
                // Through r1: a login on the office's decky, from the attacker's own address (no NAT).
                #expect(try await fetch("\(b).10", "through-r1") == "200")
                let office = await harness.waitForEvent([" login.failed ", "password=\"through-r1\""])
                let event = try #require(
                    office.flatMap { try? RFC5424Parser.event(from: $0) },
                    "\(harness.eventLines().suffix(3))"
                )
                #expect(event.decky == "\(tag)-files" && event.source.ip == "\(a).254")
                // Through r1 and r2: the vault.
                #expect(try await fetch("\(c).10", "through-r2") == "200")
                #expect(
                    await harness.waitForEvent([" login.failed ", "password=\"through-r2\"", "\(tag)-safe"]) != nil
                )
                // The router is a decky too: its ssh answers on the attacker's segment.
                let banner = try await attacker(["/bin/bash", "-c", "exec 3<>/dev/tcp/\(a).1/22; head -c 8 <&3"])
                #expect(banner.standardOutput.hasPrefix("SSH-2.0-"), "\(banner.standardOutput)\(banner.standardError)")

                // Only through the router: with r1 not forwarding, the office and the vault are out of reach …
                let r1 = "decnet-\(tag)-r1"
                _ = try await ProcessRunner.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", r1, "sysctl", "-qw", "net.ipv4.ip_forward=0"]
                )
                let forwarding = try await ProcessRunner.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", r1, "cat", "/proc/sys/net/ipv4/ip_forward"]
                )
                #expect(forwarding.standardOutput.hasPrefix("0"), "the write was refused: \(forwarding.standardOutput)")
                #expect(try await fetch("\(b).10", "blocked") == "000")
                #expect(try await fetch("\(c).10", "blocked") == "000")
                // … and the office's segment is no wire of the attacker's: taken for on-link, it does not answer.
                _ = try await attacker(["ip", "route", "replace", "\(b).0/24", "dev", "eth0"])
                #expect(try await fetch("\(b).10", "on-link") == "000")
                _ = try await attacker(["ip", "route", "replace", "\(b).0/24", "via", "\(a).1"])
                _ = try await ProcessRunner.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", r1, "sysctl", "-qw", "net.ipv4.ip_forward=1"]
                )
                #expect(try await fetch("\(b).10", "restored") == "200")
                #expect(
                    !harness.eventLines().contains {
                        $0.contains("password=\"blocked\"") || $0.contains("password=\"on-link\"")
                    }
                )

                // The topology's record: deployed, with its mutations.
                let listed = try await harness.decnet(["topology", "list", "--json"])
                let records = try JSONDecoder.iso8601.decode(
                    [TopologyRecord].self,
                    from: Data(listed.standardOutput.utf8)
                )
                let record = try #require(records.first { $0.id == id })
                #expect(record.status == "deployed")
                #expect(record.mutations.map { "\($0.operation):\($0.state)" } == ["create:done", "deploy:done"])

                // The store and the dashboard: the attacker's way across the segments in the API and on the canvas.
                let stored = try await harness.decnet(["workers", "start", "--once"])
                try #require(stored.status == 0, "\(stored.standardError)")
                try await Self.checkTheCanvas(harness, id: id, attacker: "\(a).254", tag: tag)

                // Teardown through the API: a mutation answered at once (202) and followed to its end.
                let torn = try await Self.tearDownThroughTheAPI(harness, id: id)
                #expect(torn == "done", "the teardown mutation ended \(torn)")
                let left = try await ProcessRunner.run("/usr/sbin/ip", ["netns", "list"]).standardOutput
                #expect(!left.contains(network) && !left.contains(tag), "\(left)")
            } catch {
                await removeMaze()
                throw error
            }
            await removeMaze()
        }
    }
}

extension MazeNetLabTests {
    static var webEnvironment: [String: String] {
        ["DECNET_JWT_SECRET": APIDaemonTests.secret, "DECNET_ADMIN_PASSWORD": "first-login-pw"]
    }

    /// `decnet web` beside the fleet: the topology in the API (nodes running, the attacker's path through both
    /// routers), then its canvas in headless Chromium (the path drawn, a node dragged and kept).
    static func checkTheCanvas(_ harness: NativeFleetHarness, id: String, attacker: String, tag: String) async throws {
        let python = try #require(ExternalTool.python3.path)
        var web = harness
        web.extraEnvironment = Self.webEnvironment
        defer { APIDaemonTests.kill(["web"], in: harness.directory.path) }
        let port = LoopbackPort.unused()
        let started = try await web.decnet(["web", "start", "--port", String(port)])
        try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        let base = "http://127.0.0.1:\(port)"
        let shots = PackageLayout.root.appendingPathComponent(".build/dashboard-screenshots").path
        let browser = try await ProcessRunner.run(
            python,
            [
                PackageLayout.root.appendingPathComponent("Tests/DecnetCLITests/Scripts/topology_canvas.py").path,
                base, "first-login-pw", "second-login-pw", id, attacker, "\(tag)-web", shots,
            ]
        )
        let seen = APIDaemonTests.json(browser.standardOutput.split(separator: "\n").last.map(String.init) ?? "")
        #expect(browser.status == 0, "\(browser.standardOutput)\(browser.standardError.suffix(3000))")
        let deckies = ["r1", "r2", "web", "files", "safe"].map { "\(tag)-\($0)" }
        let nodes = (deckies + ["attacker", "segment:dmz", "segment:office", "segment:vault"]).sorted()
        #expect((seen["nodes"] as? [String]) == nodes, "\(seen)")
        let running = Dictionary(uniqueKeysWithValues: deckies.map { ($0, "running") })
        #expect((seen["states"] as? [String: String]) == running, "\(seen)")
        let route = (seen["route"] as? String) ?? ""
        #expect(route.hasPrefix("attacker \(tag)-r1 \(tag)-files \(tag)-r2 \(tag)-safe"), "\(route)")
        #expect((seen["points"] as? Int) == route.split(separator: " ").count)
        #expect((seen["path_row"] as? String)?.contains("dmz → office → vault") == true, "\(seen)")
        #expect(seen["mutation"] as? String == "deploy:done")
        let moved = (seen["moved_to"] as? String) ?? ""
        #expect(!moved.isEmpty && moved != seen["moved_from"] as? String, "\(seen)")
        #expect(seen["after_reload"] as? String == moved, "\(seen)")

        // The same through the API: the path's segments and crossings, the dragged node's kept position.
        let bearer = try await Self.token(base)
        let detail = try await APIDaemonTests.curl([
            "-H", "Authorization: Bearer \(bearer)", "\(base)/api/v1/topology/\(id)",
        ])
        let topology = APIDaemonTests.json(detail.body)
        let paths = try #require(topology["paths"] as? [[String: Any]], "\(detail.body.prefix(500))")
        let path = try #require(paths.first { $0["attacker_ip"] as? String == attacker })
        #expect((path["segments"] as? [String])?.prefix(3) == ["dmz", "office", "vault"])
        #expect((path["crossings"] as? [[String]])?.prefix(2) == [["\(tag)-r1"], ["\(tag)-r2"]])
        let positions = topology["positions"] as? [String: Any]
        #expect(positions?["\(tag)-web"] != nil, "\(String(describing: positions))")
    }

    /// An admin's token (the password the browser set).
    static func token(_ base: String) async throws -> String {
        let login = try await APIDaemonTests.curl([
            "-X", "POST", "\(base)/api/v1/auth/login", "-H", "Content-Type: application/json",
            "-d", #"{"username":"admin","password":"second-login-pw"}"#,
        ])
        return try #require(APIDaemonTests.json(login.body)["access_token"] as? String, "\(login.body)")
    }

    /// `POST /topology/{id}/teardown` on `decnet api`: answered 202 at once with a pending mutation, which
    /// `mutations/latest` then follows; returns the state it ended in.
    static func tearDownThroughTheAPI(_ harness: NativeFleetHarness, id: String) async throws -> String {
        var api = harness
        api.extraEnvironment = Self.webEnvironment
        defer { APIDaemonTests.kill(["api"], in: harness.directory.path) }
        let port = LoopbackPort.unused()
        let started = try await api.decnet(["api", "start", "--port", String(port)])
        try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        let base = "http://127.0.0.1:\(port)"
        let bearer = try await Self.token(base)
        let posted = try await APIDaemonTests.curl([
            "-X", "POST", "-H", "Authorization: Bearer \(bearer)", "\(base)/api/v1/topology/\(id)/teardown",
        ])
        #expect(posted.status == 202, "\(posted.body)")
        #expect(APIDaemonTests.json(posted.body)["state"] as? String == "pending", "\(posted.body)")
        var state = "pending"
        for _ in 0..<120 where state == "pending" || state == "running" {
            try await Task.sleep(for: .milliseconds(250))
            let latest = try await APIDaemonTests.curl([
                "-H", "Authorization: Bearer \(bearer)", "\(base)/api/v1/topology/\(id)/mutations/latest",
            ])
            let mutation = APIDaemonTests.json(latest.body)
            if mutation["operation"] as? String == "teardown" { state = mutation["state"] as? String ?? state }
        }
        return state
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
