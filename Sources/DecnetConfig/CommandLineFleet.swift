import DecnetCore

/// The fleet-shaping flags of `decnet deploy`, as plain values (so they can be tested without a parser).
public struct DeployFlags: Sendable {
    public var deckies: Int?
    public var interface: String?
    public var subnet: String?
    public var ipStart: String?
    public var services: String?
    public var randomizeServices = false
    public var distro: String?
    public var randomizeDistros = false
    public var archetype: String?
    public var logTarget: String?
    public var ipvlan = false
    public var seed: UInt64?
    public var config: String?

    public init() {}
}

/// The host's default route, when one could be read: the seed's "auto" interface and subnet.
public struct DetectedRoute: Sendable, Equatable {
    public var interface: String
    public var gateway: IPv4Address
    public var subnet: IPv4Network?

    public init(interface: String, gateway: IPv4Address, subnet: IPv4Network?) {
        self.interface = interface
        self.gateway = gateway
        self.subnet = subnet
    }
}

/// Builds the `FleetRequest` for `decnet deploy` from its flags and, with `--config`, the fleet file.
///
/// Flags override the file's `[general]` (`--subnet`, `--interface`, `--log-target`); `--services`,
/// `--archetype` and `--randomize-services` also give services to file deckies that name none.
public enum CommandLineFleet {
    public static let maximumDeckies = 4096

    public static func request(flags: DeployFlags, detected: DetectedRoute?) -> FleetRequest {
        var request: FleetRequest
        var diagnostics: [Diagnostic] = []
        func fail(_ key: String, _ message: String) { diagnostics.append(Diagnostic(.commandLine, key: key, message)) }

        let services: Located<[ServiceKind]>? = flags.services.map { text in
            let kinds = text.split(separator: ",").map { ServiceKind($0.trimmingWhitespace().lowercased()) }
                .filter { !$0.rawValue.isEmpty }
            return Located(kinds, at: .commandLine, key: "--services")
        }
        var archetype: Located<Archetype>?
        if let slug = flags.archetype {
            if let found = ArchetypeCatalogue.archetype(for: slug.lowercased()) {
                archetype = Located(found, at: .commandLine, key: "--archetype")
            } else {
                fail(
                    "--archetype",
                    "unknown archetype '\(slug)'; expected one of "
                        + ArchetypeCatalogue.all.map(\.slug).joined(separator: ", ")
                )
            }
        }

        if let path = flags.config {
            request = FleetFileLoader.load(path: path)
            if flags.deckies != nil {
                fail("--deckies", "cannot be combined with --config; expected amount = N in a section of \(path)")
            }
            for index in request.deckies.indices
            where request.deckies[index].services == nil && request.deckies[index].archetype == nil {
                request.deckies[index].services = services
                request.deckies[index].archetype = archetype
            }
        } else {
            request = FleetRequest()
            let chosen = services != nil || archetype != nil || flags.randomizeServices
            if !chosen && flags.archetype == nil {
                fail(
                    "--services",
                    "no services chosen; expected --services ssh,http, --archetype SLUG or --randomize-services"
                )
            }
            if let count = flags.deckies {
                if (1...maximumDeckies).contains(count) {
                    for number in 1...count where chosen {
                        var decky = DeckyRequest(
                            name: DeckyRequest.numberedName("decky", number, of: count),
                            origin: .commandLine
                        )
                        decky.services = services
                        decky.archetype = archetype
                        request.deckies.append(decky)
                    }
                } else {
                    fail("--deckies", "\(count) is out of range; expected a whole number from 1 to \(maximumDeckies)")
                }
            } else {
                fail("--deckies", "missing; expected the number of deckies (e.g. --deckies 5) or --config FILE")
            }
        }

        if let text = flags.subnet {
            if let net = IPv4Network(text) {
                request.net = Located(net, at: .commandLine, key: "--subnet")
                if let gateway = request.gateway, !net.contains(gateway.value) { request.gateway = nil }
            } else {
                fail("--subnet", "'\(text)' is not a subnet; expected a CIDR with host bits zero, e.g. 192.168.1.0/24")
            }
        }
        if let name = flags.interface {
            if InputSyntax.isInterfaceName(name) {
                request.interface = Located(name, at: .commandLine, key: "--interface")
            } else {
                fail("--interface", "'\(name)' is not an interface name; expected e.g. eth0")
            }
        }
        if flags.config == nil, request.net == nil, flags.subnet == nil {
            if let detected, let subnet = detected.subnet {
                request.net = Located(subnet, at: .commandLine, key: "--subnet (auto: \(detected.interface))")
                request.gateway = Located(detected.gateway, at: .commandLine, key: "--subnet (auto: gateway)")
                if request.interface == nil {
                    request.interface = Located(detected.interface, at: .commandLine, key: "--interface (auto)")
                }
            } else {
                fail(
                    "--subnet",
                    "no default route to take the subnet from; expected --subnet CIDR, e.g. --subnet 192.168.1.0/24"
                )
            }
        } else if let net = request.net?.value, let detected, detected.subnet == net {
            if request.gateway == nil {
                request.gateway = Located(detected.gateway, at: .commandLine, key: "--subnet (auto: gateway)")
            }
        }
        if request.interface == nil, let detected {
            // The seed's "auto-detected if absent": the NIC of the host's default route.
            request.interface = Located(detected.interface, at: .commandLine, key: "--interface (auto)")
        }
        if let text = flags.ipStart {
            if let address = IPv4Address(text) {
                request.ipStart = Located(address, at: .commandLine, key: "--ip-start")
            } else {
                fail("--ip-start", "'\(text)' is not an IPv4 address; expected e.g. 192.168.1.110")
            }
        }
        if let target = flags.logTarget {
            if let problem = InputSyntax.logTargetProblem(target) {
                fail("--log-target", problem)
            } else {
                request.logTarget = Located(target, at: .commandLine, key: "--log-target")
            }
        }
        if let text = flags.distro {
            var profiles: [DistroProfile] = []
            for slug in text.split(separator: ",").map({ $0.trimmingWhitespace().lowercased() }) where !slug.isEmpty {
                if let profile = DistroCatalogue.profile(for: slug) {
                    profiles.append(profile)
                } else {
                    fail(
                        "--distro",
                        "unknown distro '\(slug)'; expected one of "
                            + DistroCatalogue.all.map(\.slug).joined(separator: ", ")
                    )
                }
            }
            request.distros = Located(profiles, at: .commandLine, key: "--distro")
        }
        request.randomizeServices = request.randomizeServices || flags.randomizeServices
        request.randomizeDistros = flags.randomizeDistros
        request.networkDriver = flags.ipvlan ? .ipvlan : .macvlan
        request.seed = flags.seed
        request.diagnostics += diagnostics
        return request
    }
}
