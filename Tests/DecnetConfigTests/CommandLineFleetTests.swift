import DecnetConfig
import DecnetCore
import Testing

@Suite struct CommandLineFleetTests {
    static let route = DetectedRoute(
        interface: "eth0",
        gateway: IPv4Address("172.16.5.1")!,
        subnet: IPv4Network("172.16.5.0/24")
    )

    @Test func flagsAloneUseTheDetectedRoute() throws {
        var flags = DeployFlags()
        flags.deckies = 5
        flags.randomizeServices = true
        flags.seed = 4
        let fleet = try FleetPlanner().plan(CommandLineFleet.request(flags: flags, detected: Self.route))
        #expect(fleet.deckies.map(\.name) == ["decky-01", "decky-02", "decky-03", "decky-04", "decky-05"])
        #expect(fleet.subnet.description == "172.16.5.0/24")
        #expect(fleet.gateway.description == "172.16.5.1")
        #expect(fleet.interface == "eth0")
    }

    @Test func explicitFlagsWinAndNoRouteIsAClearError() throws {
        var flags = DeployFlags()
        flags.deckies = 2
        flags.services = "ssh,http"
        flags.subnet = "10.9.0.0/24"
        flags.interface = "br-lab"
        flags.ipStart = "10.9.0.50"
        flags.distro = "kali,arch"
        flags.ipvlan = true
        let fleet = try FleetPlanner().plan(CommandLineFleet.request(flags: flags, detected: nil))
        #expect(fleet.deckies.map(\.ip.description) == ["10.9.0.50", "10.9.0.51"])
        #expect(fleet.deckies.map(\.distro) == ["kali", "arch"])
        #expect(fleet.networkDriver == .ipvlan)
        #expect(fleet.interface == "br-lab")

        flags.subnet = nil
        let request = CommandLineFleet.request(flags: flags, detected: nil)
        #expect(
            request.diagnostics.map(\.description).contains { $0.hasPrefix("command line: --subnet: no default route") }
        )
    }

    @Test func plainSyslogOnlyGoesToLoopback() {
        var flags = DeployFlags()
        flags.logTarget = "192.168.1.200:5140"
        let refused = CommandLineFleet.request(flags: flags, detected: nil).diagnostics.map(\.description)
        #expect(
            refused.contains {
                $0.hasPrefix("command line: --log-target: '192.168.1.200:5140' is not on loopback")
                    && $0.contains("decnet forwarder start --target 192.168.1.200:6514")
            },
            "\(refused)"
        )
        flags.logTarget = "127.0.0.1:5140"
        let accepted = CommandLineFleet.request(flags: flags, detected: nil)
        #expect(accepted.logTarget?.value == "127.0.0.1:5140")
        #expect(!accepted.diagnostics.map(\.description).contains { $0.contains("--log-target") })
    }

    @Test func flagProblemsAreAllReported() {
        var flags = DeployFlags()
        flags.services = nil
        flags.archetype = "mainframe"
        flags.subnet = "10.0.0.1/8"
        flags.distro = "gentoo"
        flags.logTarget = "syslog"
        let request = CommandLineFleet.request(flags: flags, detected: nil)
        let text = request.diagnostics.map(\.description)
        #expect(text.contains { $0.hasPrefix("command line: --archetype: unknown archetype 'mainframe'") })
        #expect(text.contains { $0.hasPrefix("command line: --deckies: missing") })
        #expect(text.contains { $0.hasPrefix("command line: --subnet: '10.0.0.1/8' is not a subnet") })
        #expect(text.contains { $0.hasPrefix("command line: --distro: unknown distro 'gentoo'") })
        #expect(text.contains { $0.hasPrefix("command line: --log-target: 'syslog' is not ip:port") })
    }

    @Test func deckiesCannotBeCombinedWithAConfigFile() {
        var flags = DeployFlags()
        flags.config = "/nonexistent.ini"
        flags.deckies = 3
        let text = CommandLineFleet.request(flags: flags, detected: nil).diagnostics.map(\.description)
        #expect(text.contains { $0.hasPrefix("command line: --deckies: cannot be combined with --config") })
    }
}
