import DecnetCore
import Foundation
import Testing

@Suite struct FleetPlannerTests {
    static let net = IPv4Network("10.20.0.0/24")!

    /// A request on 10.20.0.0/24 with `count` deckies from the command line.
    static func request(count: Int, services: [ServiceKind]? = ["ssh"], seed: UInt64 = 1) -> FleetRequest {
        var request = FleetRequest()
        request.net = Located(net, at: .commandLine, key: "--subnet")
        request.seed = seed
        for number in 1...count {
            var decky = DeckyRequest(name: DeckyRequest.numberedName("decky", number, of: count), origin: .commandLine)
            decky.services = services.map { Located($0, at: .commandLine, key: "--services") }
            request.deckies.append(decky)
        }
        return request
    }

    static func errors(_ request: FleetRequest) -> [Diagnostic] {
        do {
            _ = try FleetPlanner().plan(request)
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func sameSeedSameFleet() throws {
        var request = Self.request(count: 20, services: nil, seed: 99)
        request.randomizeServices = true
        let first = try FleetPlanner().plan(request)
        let second = try FleetPlanner().plan(request)
        #expect(first == second)
        request.seed = 100
        #expect(try FleetPlanner().plan(request) != first)
    }

    @Test func addressesStartAtDot100AndSkipTakenOnes() throws {
        var request = Self.request(count: 4)
        request.deckies[2].ip = Located(IPv4Address("10.20.0.101")!, at: .commandLine, key: "ip")
        let fleet = try FleetPlanner().plan(request)
        #expect(fleet.gateway.description == "10.20.0.1")
        #expect(fleet.deckies.map(\.ip.description) == ["10.20.0.100", "10.20.0.102", "10.20.0.101", "10.20.0.103"])
        #expect(fleet.ipRange.description == "10.20.0.100/30")
    }

    @Test func ipStartAndWrapAroundSkipTheGateway() throws {
        var request = Self.request(count: 3)
        request.net = Located(IPv4Network("10.30.0.0/29")!, at: .commandLine, key: "--subnet")
        request.ipStart = Located(IPv4Address("10.30.0.5")!, at: .commandLine, key: "--ip-start")
        let fleet = try FleetPlanner().plan(request)
        // .5, .6, then wrap past the broadcast (.7), the network (.0) and the gateway (.1).
        #expect(fleet.deckies.map(\.ip.description) == ["10.30.0.5", "10.30.0.6", "10.30.0.2"])
    }

    @Test func reservedAddressesAreNeverGivenToADecky() throws {
        var request = Self.request(count: 3)
        request.net = Located(IPv4Network("10.20.0.0/29")!, at: .commandLine, key: "--subnet")
        // .1 is the gateway, .6 the lab's attacker: five usable hosts, three deckies.
        request.reserved = [(IPv4Address(Self.net.network.value + 6), "the lab's attacker")]
        request.ipStart = Located(IPv4Address(Self.net.network.value + 5), at: .commandLine, key: "--ip-start")
        let fleet = try FleetPlanner().plan(request)
        #expect(fleet.deckies.map(\.ip.description) == ["10.20.0.5", "10.20.0.2", "10.20.0.3"])

        var full = Self.request(count: 5)
        full.net = request.net
        full.reserved = request.reserved
        #expect(Self.errors(full).contains { $0.message.contains("no free address for 1 more") })
    }

    @Test func aFullSubnetIsAnError() {
        var request = Self.request(count: 6)
        request.net = Located(IPv4Network("10.30.0.0/29")!, at: .file(path: "f.ini", line: 2), key: "[general] net")
        let errors = Self.errors(request)
        #expect(errors.count == 1)
        #expect(
            errors.first?.description.hasPrefix(
                "f.ini:2: [general] net: net 10.30.0.0/29 has no free address for 1 more"
            ) == true
        )
    }

    @Test func randomServicesNeverClashOnAPort() throws {
        var request = Self.request(count: 300, services: nil, seed: 5)
        request.net = Located(IPv4Network("10.20.0.0/22")!, at: .commandLine, key: "--subnet")
        request.randomizeServices = true
        let fleet = try FleetPlanner().plan(request)
        for decky in fleet.deckies {
            let ports = decky.services.flatMap(\.ports)
            #expect(Set(ports).count == ports.count, "\(decky.name): \(decky.services.map(\.kind))")
            #expect((1...FleetPlanner.maximumRandomServices).contains(decky.services.count))
        }
        #expect(Set(fleet.deckies.map(\.mac)).count == 300)
        #expect(Set(fleet.deckies.map { $0.hostname.lowercased() }).count == 300)
    }

    @Test func osFamilyPriority() throws {
        var request = Self.request(count: 4)
        request.deckies[0].services = Located(["rdp"], at: .commandLine, key: "s")
        request.deckies[1].services = Located(["rdp"], at: .commandLine, key: "s")
        request.deckies[1].nmapOS = Located(.bsd, at: .commandLine, key: "nmap_os")
        request.deckies[2].services = nil
        request.deckies[2].archetype = Located(
            ArchetypeCatalogue.archetype(for: "printer")!,
            at: .commandLine,
            key: "a"
        )
        let fleet = try FleetPlanner().plan(request)
        #expect(fleet.deckies.map(\.osFamily) == [.windows, .bsd, .embedded, .linux])
        #expect(fleet.deckies[2].services.map(\.kind) == ["snmp", "ftp"])
    }

    @Test func linuxDeckiesCycleThroughEveryDistro() throws {
        let fleet = try FleetPlanner().plan(Self.request(count: 18))
        #expect(fleet.deckies.map(\.distro) == (DistroCatalogue.all + DistroCatalogue.all).map(\.slug))
    }

    @Test func personaDefaultsFollowTheDistroAndExplicitKeysWin() throws {
        var request = Self.request(count: 2, services: ["ssh", "http"])
        request.deckies[1].distro = Located(DistroCatalogue.profile(for: "ubuntu22")!, at: .commandLine, key: "distro")
        request.deckies[1].personas = [
            PersonaSection(
                service: "http",
                origin: .file(path: "f.ini", line: 9),
                key: "[decky-02.http]",
                settings: [("server_header", Located("Apache/2.4.41", at: .file(path: "f.ini", line: 10), key: "k"))]
            )
        ]
        let fleet = try FleetPlanner().plan(request)
        #expect(fleet.deckies[0].services[0].persona["ssh_version"] == "OpenSSH_9.2p1 Debian-2+deb12u10")
        #expect(fleet.deckies[1].services[0].persona["ssh_version"] == "OpenSSH_8.9p1 Ubuntu-3ubuntu0.6")
        #expect(fleet.deckies[1].services[1].persona["server_header"] == "Apache/2.4.41")
    }

    @Test func conpotYieldsItsSNMPAndWebPortsToDedicatedServices() throws {
        var request = Self.request(count: 2, services: ["conpot", "snmp"])
        request.deckies[1].services = Located(["conpot"], at: .commandLine, key: "s")
        let fleet = try FleetPlanner().plan(request)
        // snmp takes 161/udp; with no http on the decky, conpot keeps its web HMI on 80 (and S7comm on 102).
        #expect(fleet.deckies[0].services[0].ports == [PortSpec(502), PortSpec(80), PortSpec(102)])
        #expect(fleet.deckies[0].services[1].ports == [PortSpec(161, .udp)])
        #expect(
            fleet.deckies[1].services[0].ports == [PortSpec(502), PortSpec(161, .udp), PortSpec(80), PortSpec(102)]
        )
    }

    @Test func amountGroupsExpandWithNumberedNames() throws {
        var request = FleetRequest()
        request.net = Located(Self.net, at: .commandLine, key: "--subnet")
        var group = DeckyRequest(name: "corp", origin: .file(path: "f.ini", line: 3))
        group.archetype = Located(ArchetypeCatalogue.archetype(for: "windows-workstation")!, at: .commandLine, key: "a")
        group.amount = Located(12, at: .file(path: "f.ini", line: 5), key: "[corp] amount")
        request.deckies = [group]
        let fleet = try FleetPlanner().plan(request)
        #expect(fleet.deckies.map(\.name) == (1...12).map { String(format: "corp-%02d", $0) })
        #expect(fleet.deckies.allSatisfy { $0.hostname.hasPrefix("DESKTOP-") && $0.osFamily == .windows })
    }

    @Test func crossSettingProblemsAreAllReported() {
        var request = Self.request(count: 3)
        let origin = SettingOrigin.file(path: "f.ini", line: 4)
        request.gateway = Located(IPv4Address("10.99.0.1")!, at: origin, key: "[general] gw")
        request.deckies[0].ip = Located(
            IPv4Address("10.20.0.50")!,
            at: .file(path: "f.ini", line: 7),
            key: "[decky-01] ip"
        )
        request.deckies[1].ip = Located(
            IPv4Address("10.20.0.50")!,
            at: .file(path: "f.ini", line: 11),
            key: "[decky-02] ip"
        )
        request.deckies[2].services = Located(
            ["ssh", "nope"],
            at: .file(path: "f.ini", line: 15),
            key: "[decky-03] services"
        )
        let messages = Self.errors(request).map(\.description)
        #expect(messages.count == 3)
        #expect(
            messages.contains {
                $0.hasPrefix("f.ini:4: [general] gw: 10.99.0.1 is not a host address of net 10.20.0.0/24")
            }
        )
        #expect(
            messages.contains {
                $0.hasPrefix("f.ini:11: [decky-02] ip: 10.20.0.50 is already used by decky-01 (f.ini:7)")
            }
        )
        #expect(messages.contains { $0.hasPrefix("f.ini:15: [decky-03] services: unknown service 'nope'") })
    }
}
