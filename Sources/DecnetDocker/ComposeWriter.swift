import DecnetCore
import Yams

/// Writes a fleet as the seed's docker-compose container model.
///
/// Per decky, one **base** container owns the LAN address, MAC, hostname and the OS family's sysctls and runs
/// `sleep infinity`; one container per service joins its network namespace (`network_mode: service:<base>`),
/// so every service answers from the decky's IP. Built-in services run the project's own image
/// (`decnet service run <slug>`) with the persona in `DECNET_PERSONA_*` variables; `[custom-NAME]` services run
/// the operator's image.
public struct ComposeWriter: Sendable {
    /// Names the writer uses.
    public struct Options: Sendable {
        /// Image for built-in services (built from the repository's Dockerfile).
        public var serviceImage: String
        /// The compose network the deckies share.
        public var networkName: String
        /// Host directory mounted over the log file's directory in service containers.
        public var logDirectory: String
        /// The event log path inside service containers (the seed's `--log-file`).
        public var containerLogFile: String
        /// Parent NIC used when the fleet names none.
        public var fallbackInterface: String

        public init(
            serviceImage: String = "decnet-swift:latest",
            networkName: String = "decnet_lan",
            logDirectory: String = "./logs",
            fallbackInterface: String = "eth0",
            containerLogFile: String = "/var/log/decnet/decnet.log"
        ) {
            self.containerLogFile = containerLogFile
            self.serviceImage = serviceImage
            self.networkName = networkName
            self.logDirectory = logDirectory
            self.fallbackInterface = fallbackInterface
        }
    }

    public var options: Options

    public init(options: Options = Options()) { self.options = options }

    /// The compose document as YAML text.
    public func yaml(for fleet: Fleet) throws -> String {
        try Yams.serialize(node: self.document(for: fleet), width: -1, sortKeys: false)
    }

    /// The compose document as a YAML node tree, in a stable order.
    public func document(for fleet: Fleet) -> Node {
        var services: [(Node, Node)] = []
        for decky in fleet.deckies {
            services.append((Node(decky.name), self.baseContainer(decky, fleet: fleet)))
            for service in decky.services {
                services.append(
                    (
                        Node(Self.containerName(decky, service.kind)),
                        self.serviceContainer(service, of: decky, fleet: fleet)
                    )
                )
            }
        }
        return .map([
            ("version", .quoted("3.8")),
            ("services", Node(services)),
            ("networks", .map([(self.options.networkName, self.network(fleet))])),
        ])
    }

    /// `decky-01-ssh`.
    public static func containerName(_ decky: Decky, _ service: ServiceKind) -> String {
        "\(decky.name)-\(service.rawValue.replacingUnderscores())"
    }

    /// The directory part of the container log path.
    var containerLogDirectory: String {
        let path = self.options.containerLogFile
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    func baseContainer(_ decky: Decky, fleet: Fleet) -> Node {
        let image = decky.distroProfile?.image ?? "debian:bookworm-slim"
        return .map([
            ("image", .quoted(image)),
            ("container_name", .quoted(decky.name)),
            ("hostname", .quoted(decky.hostname)),
            ("command", .seq(["sleep", "infinity"])),
            ("restart", "unless-stopped"),
            ("mac_address", .quoted(decky.mac.description)),
            ("sysctls", Node(decky.sysctls.map { (Node($0.key), Node.quoted($0.value)) })),
            ("networks", .map([(self.options.networkName, .map([("ipv4_address", .quoted(decky.ip.description))]))])),
            (
                "labels",
                .map([
                    ("org.decnet.decky", .quoted(decky.name)),
                    ("org.decnet.role", "base"),
                    ("org.decnet.os_family", .quoted(decky.osFamily.rawValue)),
                    ("org.decnet.distro", .quoted(decky.distro)),
                ])
            ),
        ])
    }

    func serviceContainer(_ service: ServiceInstance, of decky: Decky, fleet: Fleet) -> Node {
        var pairs: [(String, Node)] = []
        if let custom = service.custom {
            pairs.append(("image", .quoted(custom.image)))
        } else {
            pairs.append(("image", .quoted(self.options.serviceImage)))
        }
        pairs.append(("container_name", .quoted(Self.containerName(decky, service.kind))))
        pairs.append(("network_mode", .quoted("service:\(decky.name)")))
        pairs.append(("depends_on", .seq([.quoted(decky.name)])))
        pairs.append(("restart", "unless-stopped"))
        if let custom = service.custom {
            if let exec = custom.exec { pairs.append(("command", .quoted(exec))) }
        } else {
            pairs.append(("command", .seq(["service", "run", .quoted(service.kind.rawValue)])))
        }
        var environment: [(Node, Node)] = [
            ("DECNET_DECKY", .quoted(decky.name)),
            ("DECNET_SERVICE", .quoted(service.kind.rawValue)),
            ("DECNET_HOSTNAME", .quoted(decky.hostname)),
            ("DECNET_DISTRO", .quoted(decky.distro)),
            ("DECNET_NMAP_OS", .quoted(decky.osFamily.rawValue)),
            ("DECNET_INGEST_LOG_FILE", .quoted(self.options.containerLogFile)),
        ]
        if let target = fleet.logTarget { environment.append(("DECNET_LOG_TARGET", .quoted(target))) }
        for key in service.persona.keys.sorted() {
            environment.append((Node("DECNET_PERSONA_" + key.uppercased()), .quoted(service.persona[key]!)))
        }
        pairs.append(("environment", Node(environment)))
        pairs.append(("volumes", .seq([.quoted("\(self.options.logDirectory):\(self.containerLogDirectory)")])))
        pairs.append(
            (
                "labels",
                .map([
                    ("org.decnet.decky", .quoted(decky.name)),
                    ("org.decnet.role", "service"),
                    ("org.decnet.service", .quoted(service.kind.rawValue)),
                    ("org.decnet.ports", .quoted(service.ports.map(\.description).joined(separator: ","))),
                ])
            )
        )
        return .map(pairs)
    }

    func network(_ fleet: Fleet) -> Node {
        let parent = fleet.interface ?? self.options.fallbackInterface
        var driverOptions: [(String, Node)] = [("parent", .quoted(parent))]
        if fleet.networkDriver == .ipvlan { driverOptions.append(("ipvlan_mode", "l2")) }
        return .map([
            ("driver", .quoted(fleet.networkDriver.rawValue)),
            ("driver_opts", .map(driverOptions)),
            (
                "ipam",
                .map([
                    (
                        "config",
                        .seq([
                            .map([
                                ("subnet", .quoted(fleet.subnet.description)),
                                ("gateway", .quoted(fleet.gateway.description)),
                                ("ip_range", .quoted(fleet.ipRange.description)),
                            ])
                        ])
                    )
                ])
            ),
        ])
    }
}

extension Node {
    /// A mapping in the given key order.
    static func map(_ pairs: [(String, Node)]) -> Node {
        Node(pairs.map { (Node($0.0), $0.1) })
    }

    /// A sequence.
    static func seq(_ items: [Node]) -> Node { .sequence(Node.Sequence(items)) }

    /// A string scalar that YAML must not read as a number, boolean or null.
    static func quoted(_ text: String) -> Node { Node(text, Tag(.str), .doubleQuoted) }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(self.map { $0 == "_" ? "-" : $0 }) }
}
