/// Turns a `FleetRequest` into a `Fleet`: expands `amount =` groups, resolves services, OS families and distros,
/// allocates IPs, MACs and hostnames, and checks everything that spans several settings (clashing IPs, ports,
/// personas for services a decky does not run). All problems are collected and thrown together.
public struct FleetPlanner: Sendable {
    /// How many services `--randomize-services` gives a decky at most.
    public static let maximumRandomServices = 3

    public init() {}

    public func plan(_ request: FleetRequest) throws(ConfigurationError) -> Fleet {
        var run = PlanRun(request: request)
        let fleet = run.plan()
        var seen: Set<Diagnostic> = []
        // Members of one `amount =` group share their sections, so the same problem may be found once per member.
        let diagnostics = (request.diagnostics + run.diagnostics).filter { seen.insert($0).inserted }
        guard diagnostics.isEmpty, let fleet else { throw ConfigurationError(diagnostics) }
        return fleet
    }
}

/// The state of one planning pass: the random source, what is taken so far, and the problems found.
private struct PlanRun {
    let request: FleetRequest
    let seed: UInt64
    var generator: SeededGenerator
    var diagnostics: [Diagnostic] = []
    var customByName: [ServiceKind: CustomService] = [:]
    var distroCursor: [String: Int] = [:]
    var hostnames = HostnameGenerator()
    var macs: Set<MACAddress> = []

    init(request: FleetRequest) {
        self.request = request
        self.seed = request.seed ?? UInt64.random(in: 0...UInt64.max)
        self.generator = SeededGenerator(seed: self.seed)
    }

    /// One decky to be: a request, or one member of an `amount =` group.
    struct Member {
        var name: String
        var request: DeckyRequest
    }

    mutating func plan() -> Fleet? {
        let subnet = self.checkSubnet()
        let gateway = self.checkGateway(subnet: subnet)
        self.collectCustomServices()
        let members = self.expandMembers()

        var partial: [(Member, [ServiceInstance], OSFamily, DistroProfile, [ServiceKind: [String: String]])] = []
        for member in members {
            let services = self.resolveServices(member)
            // Persona sections are checked even when the services or the subnet are wrong, so that every
            // problem of the file is reported in one pass.
            let overrides = self.checkPersonas(member.request, services: services?.map(\.kind))
            guard let services else { continue }
            let family = self.osFamily(member.request, services: services.map(\.kind))
            let distro = self.distro(member.request, family: family)
            partial.append((member, services, family, distro, overrides))
        }

        guard let subnet else { return nil }
        // Addresses, MACs and hostnames are checked for every member, also those whose services were wrong.
        let addresses = self.allocateAddresses(members: members, subnet: subnet, gateway: gateway)
        self.reserveFixedIdentities(members)

        var deckies: [Decky] = []
        for (member, services, family, distro, overrides) in partial {
            guard let ip = addresses[member.name] else { continue }
            deckies.append(
                self.decky(member, ip: ip, services: services, family: family, distro: distro, overrides: overrides)
            )
        }
        if deckies.isEmpty && self.diagnostics.isEmpty && self.request.diagnostics.isEmpty {
            let origin = self.request.net?.origin ?? .commandLine
            self.diagnostics.append(
                Diagnostic(origin, key: "deckies", "no decky is defined; add a decky section or pass --deckies N")
            )
        }
        guard self.diagnostics.isEmpty, let gateway else { return nil }
        return Fleet(
            subnet: subnet,
            gateway: gateway,
            interface: self.request.interface?.value,
            ipRange: IPv4Network.covering(deckies.map(\.ip)) ?? subnet,
            networkDriver: self.request.networkDriver,
            logTarget: self.request.logTarget?.value,
            deckies: deckies,
            customServices: Array(self.customByName.values).sorted { $0.name < $1.name },
            seed: self.seed
        )
    }

    // MARK: network

    mutating func checkSubnet() -> IPv4Network? {
        guard let net = self.request.net else {
            // A missing or unreadable net was already reported by whoever read the request.
            let reported = self.request.diagnostics.contains {
                $0.key == "--subnet" || $0.key == "[general]" || $0.key == "[general] net" || $0.key == "file"
            }
            if !reported {
                self.diagnostics.append(
                    Diagnostic(.commandLine, key: "--subnet", "no subnet given; expected a CIDR such as 192.168.1.0/24")
                )
            }
            return nil
        }
        if net.value.prefixLength > 30 {
            self.diagnostics.append(
                net.problem("\(net.value) has no room for a gateway and deckies; expected a prefix of /30 or shorter")
            )
            return nil
        }
        return net.value
    }

    mutating func checkGateway(subnet: IPv4Network?) -> IPv4Address? {
        guard let subnet else { return self.request.gateway?.value }
        guard let gateway = self.request.gateway else { return subnet.usableRange.lowerBound }
        if !subnet.isUsableHost(gateway.value) {
            self.diagnostics.append(
                gateway.problem(
                    "\(gateway.value) is not a host address of net \(subnet); expected an address inside it"
                )
            )
        }
        return gateway.value
    }

    mutating func collectCustomServices() {
        for custom in self.request.customServices {
            let name = custom.value.name
            if ServiceCatalogue.definition(for: name) != nil {
                self.diagnostics.append(
                    custom.problem(
                        "'\(name)' is a built-in service; expected a name of your own, e.g. custom-my\(name)"
                    )
                )
            } else if self.customByName[name] != nil {
                self.diagnostics.append(custom.problem("custom service '\(name)' is defined twice"))
            } else {
                self.customByName[name] = custom.value
            }
        }
    }

    /// Expands `amount =` groups into numbered members and checks names are unique.
    mutating func expandMembers() -> [Member] {
        var members: [Member] = []
        var seen: [String: SettingOrigin] = [:]
        for request in self.request.deckies {
            var names = [request.name]
            if let amount = request.amount {
                if let ip = request.ip {
                    self.diagnostics.append(
                        amount.problem(
                            "cannot be combined with ip = (set at \(ip.origin)); expected either one static ip or amount"
                        )
                    )
                }
                for (fixed, key) in [(request.hostname?.origin, "hostname"), (request.mac?.origin, "mac")] {
                    if let fixed {
                        self.diagnostics.append(
                            amount.problem(
                                "cannot be combined with \(key) = (set at \(fixed)): every member needs its own; expected amount without \(key)"
                            )
                        )
                    }
                }
                if amount.value < 1 || amount.value > 4096 {
                    self.diagnostics.append(
                        amount.problem("\(amount.value) is out of range; expected a whole number from 1 to 4096")
                    )
                    continue
                }
                names = (1...amount.value).map { DeckyRequest.numberedName(request.name, $0, of: amount.value) }
            }
            for name in names {
                if let first = seen[name] {
                    self.diagnostics.append(
                        Diagnostic(
                            request.origin,
                            key: "[\(request.name)]",
                            "decky name '\(name)' is already used at \(first)"
                        )
                    )
                    continue
                }
                seen[name] = request.origin
                var memberRequest = request
                if request.amount != nil { memberRequest.ip = nil }  // amount with ip was reported above
                members.append(Member(name: name, request: memberRequest))
            }
        }
        return members
    }

    // MARK: services, OS family, distro

    mutating func resolveServices(_ member: Member) -> [ServiceInstance]? {
        let request = member.request
        var kinds: [ServiceKind]
        if let services = request.services {
            kinds = services.value
            var unknown: [ServiceKind] = []
            for kind in kinds where ServiceCatalogue.definition(for: kind) == nil && self.customByName[kind] == nil {
                unknown.append(kind)
            }
            if !unknown.isEmpty {
                let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
                self.diagnostics.append(
                    services.problem(
                        "unknown service \(names); expected slugs from `decnet services` or a [custom-NAME] section"
                    )
                )
                return nil
            }
            if kinds.isEmpty {
                self.diagnostics.append(
                    services.problem("no service listed; expected comma-separated slugs, e.g. ssh, http")
                )
                return nil
            }
        } else if let archetype = request.archetype {
            kinds = archetype.value.services
        } else if self.request.randomizeServices {
            kinds = self.randomServices()
        } else if !request.invalidKeys.isDisjoint(with: ["services", "archetype"]) {
            return nil  // the unreadable value was reported already
        } else {
            self.diagnostics.append(
                Diagnostic(
                    request.origin,
                    key: "[\(request.name)]",
                    "decky has no services; expected services =, archetype = or --randomize-services"
                )
            )
            return nil
        }
        var unique: [ServiceKind] = []
        for kind in kinds where !unique.contains(kind) { unique.append(kind) }

        var instances: [ServiceInstance] = []
        var portOwner: [PortSpec: ServiceKind] = [:]
        // Ports a service only shares go to whichever other service claims them outright.
        var claimed: Set<PortSpec> = []
        for kind in unique {
            let definition = ServiceCatalogue.definition(for: kind)
            let ports = self.customByName[kind]?.ports ?? definition?.ports ?? []
            claimed.formUnion(ports.filter { !(definition?.sharedPorts.contains($0) ?? false) })
        }
        for kind in unique {
            let custom = self.customByName[kind]
            let definition = ServiceCatalogue.definition(for: kind)
            let ports = (custom?.ports ?? definition.map { $0.ports + $0.extraPorts } ?? []).filter { port in
                !(definition?.sharedPorts.contains(port) ?? false) || !claimed.contains(port)
            }
            for port in ports {
                if let owner = portOwner[port] {
                    let key = request.services?.key ?? "[\(request.name)] archetype"
                    let origin = request.services?.origin ?? request.archetype?.origin ?? request.origin
                    self.diagnostics.append(
                        Diagnostic(
                            origin,
                            key: key,
                            "services \(owner) and \(kind) both need port \(port) on \(member.name); expected services whose ports differ"
                        )
                    )
                    return nil
                }
                portOwner[port] = kind
            }
            instances.append(ServiceInstance(kind: kind, ports: ports, persona: [:], custom: custom))
        }
        return instances
    }

    /// One to three built-in services whose ports do not clash.
    mutating func randomServices() -> [ServiceKind] {
        let count = Int.random(in: 1...FleetPlanner.maximumRandomServices, using: &self.generator)
        var chosen: [ServiceKind] = []
        var ports: Set<PortSpec> = []
        for definition in ServiceCatalogue.all.shuffled(using: &self.generator) where chosen.count < count {
            if definition.ports.contains(where: ports.contains) { continue }
            chosen.append(definition.kind)
            ports.formUnion(definition.ports)
        }
        return chosen
    }

    /// Priority: explicit `nmap_os` > archetype > a Windows-only product among the services > `linux`.
    func osFamily(_ request: DeckyRequest, services: [ServiceKind]) -> OSFamily {
        if let explicit = request.nmapOS { return explicit.value }
        if let archetype = request.archetype { return archetype.value.osFamily }
        for kind in services {
            if let implied = ServiceCatalogue.definition(for: kind)?.impliedOSFamily { return implied }
        }
        return .linux
    }

    /// Explicit distro, else the pool (`--distro`, the archetype's preferred, or all nine) cycled or drawn.
    mutating func distro(_ request: DeckyRequest, family: OSFamily) -> DistroProfile {
        if let explicit = request.distro { return explicit.value }
        if family != .linux {
            // Not a Linux host to the outside: the distro only picks the Docker driver's base image, so it does not
            // take a turn in the round-robin that Linux deckies share.
            if let first = self.request.distros?.value.first { return first }
            let preferred = request.archetype?.value.preferredDistros.first ?? "debian"
            return DistroCatalogue.profile(for: preferred) ?? DistroCatalogue.all[0]
        }
        let pool: [DistroProfile]
        if let distros = self.request.distros, !distros.value.isEmpty {
            pool = distros.value
        } else if let archetype = request.archetype {
            pool = archetype.value.preferredDistros.compactMap(DistroCatalogue.profile(for:))
        } else {
            pool = DistroCatalogue.all
        }
        if self.request.randomizeDistros { return pool.randomElement(using: &self.generator)! }
        let poolKey = pool.map(\.slug).joined(separator: ",")
        let index = self.distroCursor[poolKey, default: 0]
        self.distroCursor[poolKey] = index + 1
        return pool[index % pool.count]
    }

    // MARK: addresses

    /// Checks static IPs, then hands out the rest from `--ip-start` (or .100 on a /24 and larger) upwards.
    mutating func allocateAddresses(
        members: [Member],
        subnet: IPv4Network,
        gateway: IPv4Address?
    ) -> [String: IPv4Address] {
        var result: [String: IPv4Address] = [:]
        var owner: [IPv4Address: (name: String, origin: SettingOrigin)] = [:]
        if let gateway { owner[gateway] = ("the gateway", self.request.gateway?.origin ?? .commandLine) }
        for reserved in self.request.reserved { owner[reserved.address] = (reserved.owner, .commandLine) }

        for member in members {
            guard let ip = member.request.ip else { continue }
            if !subnet.isUsableHost(ip.value) {
                let reason = subnet.contains(ip.value) ? "is the network or broadcast address of" : "is outside"
                self.diagnostics.append(
                    ip.problem("\(ip.value) \(reason) net \(subnet); expected a host address inside it")
                )
                continue
            }
            if let taken = owner[ip.value] {
                self.diagnostics.append(
                    ip.problem(
                        "\(ip.value) is already used by \(taken.name) (\(taken.origin)); expected a unique address"
                    )
                )
                continue
            }
            owner[ip.value] = (member.name, ip.origin)
            result[member.name] = ip.value
        }

        let usable = subnet.usableRange
        var start = subnet.size >= 256 ? IPv4Address(subnet.network.value + 100) : usable.lowerBound
        if let ipStart = self.request.ipStart {
            if subnet.isUsableHost(ipStart.value) {
                start = ipStart.value
            } else {
                self.diagnostics.append(
                    ipStart.problem(
                        "\(ipStart.value) is not a host address of net \(subnet); expected an address inside it"
                    )
                )
            }
        }
        let capacity = Int(usable.upperBound.value - usable.lowerBound.value) + 1
        var cursor = start
        var needing = members.filter { $0.request.ip == nil }
        var scanned = 0
        while !needing.isEmpty && scanned < capacity {
            if owner[cursor] == nil {
                let member = needing.removeFirst()
                owner[cursor] = (member.name, .commandLine)
                result[member.name] = cursor
            }
            scanned += 1
            cursor = cursor == usable.upperBound ? usable.lowerBound : IPv4Address(cursor.value + 1)
        }
        if !needing.isEmpty {
            let origin = self.request.net?.origin ?? .commandLine
            let key = self.request.net?.key ?? "--subnet"
            self.diagnostics.append(
                Diagnostic(
                    origin,
                    key: key,
                    "net \(subnet) has no free address for \(needing.count) more decky(s); expected a larger subnet or fewer deckies"
                )
            )
        }
        return result
    }

    /// Explicit `mac =` and `hostname =` values must be unique; generated ones then avoid them.
    mutating func reserveFixedIdentities(_ members: [Member]) {
        var macOwner: [MACAddress: Located<MACAddress>] = [:]
        var hostnameOwner: [String: Located<String>] = [:]
        for member in members {
            if let mac = member.request.mac {
                if let first = macOwner[mac.value] {
                    self.diagnostics.append(
                        mac.problem("\(mac.value) is already given at \(first.origin); expected a unique MAC")
                    )
                } else {
                    macOwner[mac.value] = mac
                    self.macs.insert(mac.value)
                }
            }
            if let hostname = member.request.hostname {
                let folded = hostname.value.lowercased()
                if let first = hostnameOwner[folded] {
                    self.diagnostics.append(
                        hostname.problem(
                            "'\(hostname.value)' is already given at \(first.origin); expected a unique hostname"
                        )
                    )
                } else {
                    hostnameOwner[folded] = hostname
                    self.hostnames.reserve(hostname.value)
                }
            }
        }
    }

    // MARK: personas

    /// Checks a request's persona sections; returns the valid settings per service. `services` is nil when the
    /// decky's service list itself was wrong, in which case only keys and values are checked.
    mutating func checkPersonas(
        _ request: DeckyRequest,
        services: [ServiceKind]?
    ) -> [ServiceKind: [String: String]] {
        var result: [ServiceKind: [String: String]] = [:]
        var identityClaims: [(service: ServiceKind, key: String, value: Located<String>)] = []
        for section in request.personas {
            if let services, !services.contains(section.service) {
                let listed = services.map(\.rawValue).joined(separator: ", ")
                self.diagnostics.append(
                    Diagnostic(
                        section.origin,
                        key: section.key,
                        "\(request.name) does not run \(section.service); expected one of its services: \(listed)"
                    )
                )
                continue
            }
            guard let definition = ServiceCatalogue.definition(for: section.service) else {
                if let first = section.settings.first {
                    self.diagnostics.append(
                        first.value.problem(
                            "custom service \(section.service) takes no persona keys; configure it in its [custom-\(section.service)] section"
                        )
                    )
                }
                continue
            }
            for (name, value) in section.settings {
                guard let key = definition.personaKey(named: name) else {
                    let accepted = definition.personaKeys.map(\.name)
                    let expected =
                        accepted.isEmpty
                        ? "this service accepts no persona keys" : "expected one of " + accepted.joined(separator: ", ")
                    self.diagnostics.append(value.problem("unknown persona key for \(section.service); \(expected)"))
                    continue
                }
                if let problem = key.problem(with: value.value) {
                    self.diagnostics.append(value.problem(problem))
                    continue
                }
                result[section.service, default: [:]][name] = value.value.trimmingWhitespace()
                if WindowsIdentityKeys.services.contains(section.service), WindowsIdentityKeys.checked.contains(name) {
                    identityClaims.append((section.service, name, value))
                }
            }
        }
        self.diagnostics += WindowsIdentityKeys.contradictions(
            identityClaims,
            deckyName: request.name,
            nmapOS: request.nmapOS
        )
        return result
    }

    // MARK: the decky

    mutating func decky(
        _ member: Member,
        ip: IPv4Address,
        services: [ServiceInstance],
        family: OSFamily,
        distro: DistroProfile,
        overrides: [ServiceKind: [String: String]]
    ) -> Decky {
        let request = member.request
        let archetype = request.archetype?.value
        let deviceClass = DeviceClass.forDecky(archetype: archetype?.slug, osFamily: family)
        let vendor = deviceClass.vendors.randomElement(using: &self.generator)!
        var mac = request.mac?.value ?? MACAddress.random(from: vendor, using: &self.generator)
        while request.mac == nil && !self.macs.insert(mac).inserted {
            mac = MACAddress.random(from: vendor, using: &self.generator)
        }
        let hostname: String
        if let explicit = request.hostname {
            hostname = explicit.value
        } else {
            let subject = HostnameGenerator.Subject(
                distro: distro,
                osFamily: family,
                deviceClass: deviceClass,
                role: HostnameGenerator.role(archetype: archetype, services: services.map(\.kind)),
                ip: ip,
                mac: mac,
                vendor: vendor
            )
            hostname = self.hostnames.hostname(for: subject, using: &self.generator)
        }

        var resolved = services
        for index in resolved.indices where resolved[index].custom == nil {
            resolved[index].persona = PersonaDefaults.values(
                for: resolved[index].kind,
                distro: distro,
                osFamily: family,
                archetype: archetype,
                hostname: hostname
            )
        }
        for (kind, settings) in overrides {
            guard let index = resolved.firstIndex(where: { $0.kind == kind }) else { continue }
            resolved[index].persona.merge(settings) { $1 }
        }
        WindowsIdentityKeys.share(&resolved, overrides: overrides)
        return Decky(
            name: member.name,
            ip: ip,
            mac: mac,
            hostname: hostname,
            distro: distro.slug,
            osFamily: family,
            archetype: archetype?.slug,
            services: resolved,
            osShaping: request.osShaping?.value
        )
    }
}
