/// How deckies attach to the LAN.
public enum NetworkDriver: String, Sendable, Codable, CaseIterable {
    /// Each decky has its own MAC (the default).
    case macvlan
    /// IPvlan L2: deckies share the parent's MAC, for Wi-Fi access points that drop unknown MACs.
    case ipvlan
}

/// A bring-your-own service from a `[custom-NAME]` section: the operator's own image and command.
public struct CustomService: Hashable, Sendable, Codable {
    /// The name deckies list in `services =` (the part after `custom-`).
    public var name: ServiceKind
    /// The container image (`binary =`).
    public var image: String
    /// The command run in it (`exec =`), if the image's own entrypoint is not wanted.
    public var exec: String?
    public var ports: [PortSpec]

    public init(name: ServiceKind, image: String, exec: String?, ports: [PortSpec]) {
        self.name = name
        self.image = image
        self.exec = exec
        self.ports = ports
    }
}

/// A `[decky.service]` section: persona settings for one service of one decky (or of every decky of an
/// `amount =` group).
public struct PersonaSection: Sendable {
    public var service: ServiceKind
    /// Where the section header is.
    public var origin: SettingOrigin
    public var key: String
    /// Settings in file order, each with its line.
    public var settings: [(name: String, value: Located<String>)]

    public init(
        service: ServiceKind,
        origin: SettingOrigin,
        key: String,
        settings: [(name: String, value: Located<String>)]
    ) {
        self.service = service
        self.origin = origin
        self.key = key
        self.settings = settings
    }
}

/// What the operator asked for one decky section (or one `amount =` group), before planning.
public struct DeckyRequest: Sendable {
    public var name: String
    /// Where the section header is.
    public var origin: SettingOrigin
    public var ip: Located<IPv4Address>?
    public var services: Located<[ServiceKind]>?
    public var archetype: Located<Archetype>?
    public var nmapOS: Located<OSFamily>?
    public var amount: Located<Int>?
    public var distro: Located<DistroProfile>?
    public var hostname: Located<String>?
    public var mac: Located<MACAddress>?
    /// `os_shaping`: whether the decky's packets are shaped to its OS personality (default on).
    public var osShaping: Located<Bool>?
    public var personas: [PersonaSection] = []
    /// Keys whose values were unreadable (already reported), so that planning does not report their absence too.
    public var invalidKeys: Set<String> = []

    public init(name: String, origin: SettingOrigin) {
        self.name = name
        self.origin = origin
    }

    /// The name of member `number` of `count`: `decky-01` … `decky-10`, three digits from 100 members on.
    public static func numberedName(_ base: String, _ number: Int, of count: Int) -> String {
        let digits = String(number)
        let width = max(2, String(count).count)
        return base + "-" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Everything the operator asked for, from a config file and/or the command line, with where each part was set.
/// `FleetPlanner` turns it into a `Fleet` or into every error it contains.
public struct FleetRequest: Sendable {
    public var net: Located<IPv4Network>?
    public var gateway: Located<IPv4Address>?
    public var interface: Located<String>?
    public var logTarget: Located<String>?
    public var ipStart: Located<IPv4Address>?
    public var deckies: [DeckyRequest] = []
    public var customServices: [Located<CustomService>] = []
    public var randomizeServices = false
    /// `--distro`: the distros to cycle through instead of all nine.
    public var distros: Located<[DistroProfile]>?
    public var randomizeDistros = false
    public var networkDriver: NetworkDriver = .macvlan
    /// Seed for every random choice; a random one is drawn (and kept in the fleet) when nil.
    public var seed: UInt64?
    /// Addresses of the subnet that belong to someone else (the lab's attacker): never given to a decky.
    public var reserved: [(address: IPv4Address, owner: String)] = []
    /// Problems already found while reading the request (syntax, unknown names); reported with the planner's.
    public var diagnostics: [Diagnostic] = []

    public init() {}
}
