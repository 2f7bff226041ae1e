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

                let torn = try await harness.decnet(["topology", "teardown", "--id", id])
                #expect(torn.status == 0, "\(torn.standardOutput)\(torn.standardError)")
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

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
