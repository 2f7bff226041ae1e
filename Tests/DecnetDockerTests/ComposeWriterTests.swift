import DecnetConfig
import DecnetCore
import DecnetDocker
import DecnetTesting
import Foundation
import Testing
import Yams

/// The compose file, read back with a YAML parser and checked against the seed's container model.
@Suite struct ComposeWriterTests {
    static func testFullFleet() throws -> Fleet {
        var request = FleetFileLoader.load(path: PackageLayout.root.appendingPathComponent("test-full.ini").path)
        request.seed = 11
        return try FleetPlanner().plan(request)
    }

    static func parsed(_ fleet: Fleet) throws -> [String: Any] {
        let yaml = try ComposeWriter().yaml(for: fleet)
        return try #require(try Yams.load(yaml: yaml) as? [String: Any])
    }

    @Test func everyDeckyHasABaseContainerOwningItsIdentity() async throws {
        let fleet = try Self.testFullFleet()
        let document = try Self.parsed(fleet)
        let services = try #require(document["services"] as? [String: Any])
        for decky in fleet.deckies {
            let base = try #require(services[decky.name] as? [String: Any], "\(decky.name)")
            #expect(base["command"] as? [String] == ["sleep", "infinity"])
            #expect(base["hostname"] as? String == decky.hostname)
            #expect(base["mac_address"] as? String == decky.mac.description)
            #expect(base["image"] as? String == decky.distroProfile?.image)
            let networks = try #require(base["networks"] as? [String: Any])
            let lan = try #require(networks["decnet_lan"] as? [String: Any])
            #expect(lan["ipv4_address"] as? String == decky.ip.description)
            // Every sysctl of the decky's OS personality, with its value, as strings.
            let sysctls = try #require(base["sysctls"] as? [String: String])
            #expect(sysctls == Dictionary(uniqueKeysWithValues: decky.sysctls.map { ($0.key, $0.value) }))
            #expect(sysctls["net.ipv4.ip_default_ttl"] == String(decky.osFamily.stack.ttl))
        }
    }

    @Test func servicesShareTheirBasesNetworkAndCarryThePersona() async throws {
        let fleet = try Self.testFullFleet()
        let document = try Self.parsed(fleet)
        let services = try #require(document["services"] as? [String: Any])
        var kinds: Set<ServiceKind> = []
        for decky in fleet.deckies {
            for service in decky.services {
                let name = ComposeWriter.containerName(decky, service.kind)
                let container = try #require(services[name] as? [String: Any], "\(name)")
                #expect(container["network_mode"] as? String == "service:\(decky.name)")
                #expect(container["depends_on"] as? [String] == [decky.name])
                #expect(container["networks"] == nil, "a service container must not join the LAN itself")
                #expect(container["mac_address"] == nil)
                let environment = try #require(container["environment"] as? [String: String])
                #expect(environment["DECNET_DECKY"] == decky.name)
                for (key, value) in service.persona {
                    #expect(environment["DECNET_PERSONA_" + key.uppercased()] == value, "\(name) \(key)")
                }
                if let custom = service.custom {
                    #expect(container["image"] as? String == custom.image)
                    #expect(container["command"] as? String == custom.exec)
                } else {
                    #expect(container["image"] as? String == "decnet-swift:latest")
                    #expect(container["command"] as? [String] == ["service", "run", service.kind.rawValue])
                }
                kinds.insert(service.kind)
            }
        }
        #expect(kinds.isSuperset(of: ServiceCatalogue.kinds))
        let expectedContainers = fleet.deckies.count + fleet.deckies.reduce(0) { $0 + $1.services.count }
        #expect(services.count == expectedContainers)
    }

    @Test func theNetworkIsMacvlanOnTheParentWithTheCoveringRange() async throws {
        var fleet = try Self.testFullFleet()
        var document = try Self.parsed(fleet)
        var network = try #require((document["networks"] as? [String: Any])?["decnet_lan"] as? [String: Any])
        #expect(network["driver"] as? String == "macvlan")
        #expect((network["driver_opts"] as? [String: String])?["parent"] == "eth0")
        let ipam = try #require((network["ipam"] as? [String: Any])?["config"] as? [[String: String]])
        #expect(ipam == [["subnet": "192.168.1.0/24", "gateway": "192.168.1.1", "ip_range": "192.168.1.96/27"]])

        fleet.networkDriver = .ipvlan
        document = try Self.parsed(fleet)
        network = try #require((document["networks"] as? [String: Any])?["decnet_lan"] as? [String: Any])
        #expect(network["driver"] as? String == "ipvlan")
        #expect((network["driver_opts"] as? [String: String])?["ipvlan_mode"] == "l2")
    }

    /// Debian's docker-compose (no engine needed) accepts the file and resolves the same containers.
    @Test(.enabled(if: ExternalTool.dockerCompose.isUsable, "needs docker-compose (required under CI)"))
    func dockerComposeAcceptsTheFile() async throws {
        let tool = try #require(ExternalTool.dockerCompose.path, "\(ExternalTool.dockerCompose.missingMessage)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fleet = try Self.testFullFleet()
        let file = directory.url.appendingPathComponent("docker-compose.yml")
        try ComposeWriter().yaml(for: fleet).write(to: file, atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.run(tool, ["-f", file.path, "config", "--services"], in: directory.url)
        #expect(result.status == 0, "\(result.standardError)")
        let listed = Set(result.standardOutput.split(separator: "\n").map(String.init))
        let expected = Set(
            fleet.deckies.flatMap { decky in
                [decky.name] + decky.services.map { ComposeWriter.containerName(decky, $0.kind) }
            }
        )
        #expect(listed == expected)
    }
}
