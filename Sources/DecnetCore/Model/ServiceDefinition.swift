/// What DECNET knows about one honeypot service before any decky runs it: slug, ports, role, persona keys.
public struct ServiceDefinition: Hashable, Sendable, Identifiable {
    public let kind: ServiceKind
    /// Listening ports, in the seed's order.
    public let ports: [PortSpec]
    /// The seed's "Protocol / Role" text.
    public let role: String
    /// Keys accepted in `[decky.<slug>]` persona sections.
    public let personaKeys: [PersonaKey]
    /// Ports this service serves only when no other service of the decky claims them. Conpot bundles SNMP and
    /// a web HMI, and the seed's `industrial-control` archetype pairs it with `snmp`: the dedicated service wins.
    public let sharedPorts: Set<PortSpec>
    /// Ports DECNET-Swift serves beyond the seed's (llmnr's NetBIOS name service on 137/udp, mssql's SQL Server
    /// Browser on 1434/udp): a decky gets them
    /// like the others, but `ports` stays the seed's list.
    public let extraPorts: [PortSpec]
    /// Set for products that only exist on one OS family (RDP and MSSQL are Windows): a decky running one
    /// without `nmap_os` or an archetype is fingerprinted as that family rather than as the default `linux`.
    public let impliedOSFamily: OSFamily?

    public var id: ServiceKind { self.kind }

    public init(
        _ kind: ServiceKind,
        ports: [PortSpec],
        role: String,
        personaKeys: [PersonaKey] = [],
        sharedPorts: Set<PortSpec> = [],
        extraPorts: [PortSpec] = [],
        impliedOSFamily: OSFamily? = nil
    ) {
        self.extraPorts = extraPorts
        self.sharedPorts = sharedPorts
        self.kind = kind
        self.ports = ports
        self.role = role
        self.personaKeys = personaKeys
        self.impliedOSFamily = impliedOSFamily
    }

    /// The persona key of that name, if the service accepts it.
    public func personaKey(named name: String) -> PersonaKey? {
        self.personaKeys.first { $0.name == name }
    }
}
