/// One service as a decky runs it: ports and the persona it presents.
public struct ServiceInstance: Hashable, Sendable, Codable {
    public var kind: ServiceKind
    public var ports: [PortSpec]
    /// Effective persona: the distro's and archetype's defaults overlaid with the operator's settings.
    public var persona: [String: String]
    /// The `[custom-NAME]` service this is, when it is not built in.
    public var custom: CustomService?

    public init(kind: ServiceKind, ports: [PortSpec], persona: [String: String], custom: CustomService? = nil) {
        self.kind = kind
        self.ports = ports
        self.persona = persona
        self.custom = custom
    }
}

/// A fully resolved decky: everything needed to bring it up, with nothing left to chance.
public struct Decky: Hashable, Sendable, Codable, Identifiable {
    public var name: String
    public var ip: IPv4Address
    public var mac: MACAddress
    public var hostname: String
    /// Distro slug (see `DistroCatalogue`).
    public var distro: String
    public var osFamily: OSFamily
    public var archetype: String?
    public var services: [ServiceInstance]
    /// `os_shaping`: false keeps the kernel's own packets (the OS personality's sysctls still apply); nil is on.
    public var osShaping: Bool?

    public var id: String { self.name }

    public init(
        name: String,
        ip: IPv4Address,
        mac: MACAddress,
        hostname: String,
        distro: String,
        osFamily: OSFamily,
        archetype: String?,
        services: [ServiceInstance],
        osShaping: Bool? = nil
    ) {
        self.name = name
        self.ip = ip
        self.mac = mac
        self.hostname = hostname
        self.distro = distro
        self.osFamily = osFamily
        self.archetype = archetype
        self.services = services
        self.osShaping = osShaping
    }

    public var distroProfile: DistroProfile? { DistroCatalogue.profile(for: self.distro) }

    /// The sysctls of the decky's OS personality (its family's, narrowed), in order.
    public var sysctls: [(key: String, value: String)] { self.personality.sysctls }
}

/// A planned fleet: the LAN it lives on and its deckies.
public struct Fleet: Hashable, Sendable, Codable {
    public var subnet: IPv4Network
    public var gateway: IPv4Address
    /// Host NIC the deckies hang off (macvlan/ipvlan parent), when known.
    public var interface: String?
    /// The smallest block covering every decky address (the seed's `ips_to_range()`).
    public var ipRange: IPv4Network
    public var networkDriver: NetworkDriver
    /// `ip:port` of the RFC 5424 syslog target.
    public var logTarget: String?
    public var deckies: [Decky]
    public var customServices: [CustomService]
    /// The seed every random choice came from: planning the same request with it gives the same fleet.
    public var seed: UInt64

    public init(
        subnet: IPv4Network,
        gateway: IPv4Address,
        interface: String?,
        ipRange: IPv4Network,
        networkDriver: NetworkDriver,
        logTarget: String?,
        deckies: [Decky],
        customServices: [CustomService],
        seed: UInt64
    ) {
        self.subnet = subnet
        self.gateway = gateway
        self.interface = interface
        self.ipRange = ipRange
        self.networkDriver = networkDriver
        self.logTarget = logTarget
        self.deckies = deckies
        self.customServices = customServices
        self.seed = seed
    }
}
