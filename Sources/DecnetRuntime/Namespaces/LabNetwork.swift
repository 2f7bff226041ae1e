import DecnetCore

/// A LAN made only of network namespaces, for trying and testing deckies with no real network: a switch
/// namespace holding a bridge, and an attacker namespace plugged into it. Deckies plug in with `DeckyNamespace`.
/// Nothing is created in the host's own namespace.
public struct LabNetwork: Sendable {
    /// Prefix of everything a lab creates, so teardown can find it.
    public let name: String
    public let subnet: IPv4Network

    public init(name: String = "lab", subnet: IPv4Network) {
        self.name = name
        self.subnet = subnet
    }

    public var switchNamespace: String { "decnet-\(self.name)-switch" }
    public var attackerNamespace: String { Self.attackerNamespace(name: self.name) }
    /// The attacker namespace of the lab called `name`.
    public static func attackerNamespace(name: String) -> String { "decnet-\(name)-attacker" }
    public static let bridge = "br0"
    /// The attacker's address: the last usable host of the subnet.
    public var attackerAddress: IPv4Address { self.subnet.usableRange.upperBound }
    /// The lab's router address, held by the bridge: the first usable host of the subnet.
    public var gateway: IPv4Address { self.subnet.usableRange.lowerBound }

    /// Builds the switch and the attacker.
    public func up() async throws {
        try await IPRoute.ip("netns", "add", self.switchNamespace)
        try await IPRoute.ip("-n", self.switchNamespace, "link", "set", "lo", "up")
        try await IPRoute.ip("-n", self.switchNamespace, "link", "add", Self.bridge, "type", "bridge")
        try await IPRoute.ip(
            "-n",
            self.switchNamespace,
            "addr",
            "add",
            "\(self.gateway)/\(self.subnet.prefixLength)",
            "dev",
            Self.bridge
        )
        try await IPRoute.ip("-n", self.switchNamespace, "link", "set", Self.bridge, "up")
        // The lab's router forwards, as a LAN's gateway does: masscan and zmap send every probe to the router's
        // MAC, even for on-link targets, and rely on it to pass them on. Only within the switch namespace.
        try await IPRoute.setSysctl(namespace: self.switchNamespace, key: "net.ipv4.ip_forward", value: "1")
        try await IPRoute.setSysctl(
            namespace: self.switchNamespace,
            key: "net.ipv4.conf.all.send_redirects",
            value: "0"
        )
        try await IPRoute.setSysctl(
            namespace: self.switchNamespace,
            key: "net.ipv4.conf.\(Self.bridge).send_redirects",
            value: "0"
        )
        try await IPRoute.ip("netns", "add", self.attackerNamespace)
        try await IPRoute.ip("-n", self.attackerNamespace, "link", "set", "lo", "up")
        try await self.plug(namespace: self.attackerNamespace, port: "lab-attacker")
        try await IPRoute.ip(
            "-n",
            self.attackerNamespace,
            "addr",
            "add",
            "\(self.attackerAddress)/\(self.subnet.prefixLength)",
            "dev",
            "eth0"
        )
        try await IPRoute.ip("-n", self.attackerNamespace, "link", "set", "eth0", "up")
        try await IPRoute.ip("-n", self.attackerNamespace, "route", "add", "default", "via", self.gateway.description)
    }

    /// Connects `namespace` to the bridge with a veth pair: `eth0` inside it, `port` on the switch. Both ends are
    /// created directly in their namespaces.
    func plug(namespace: String, port: String) async throws {
        try await Self.plug(namespace: namespace, interface: "eth0", port: port, into: self.switchNamespace)
    }

    /// A veth pair: `interface` inside `namespace`, `port` on the bridge of `switchNamespace`, up.
    static func plug(namespace: String, interface: String, port: String, into switchNamespace: String) async throws {
        try await IPRoute.ip(
            "link",
            "add",
            interface,
            "netns",
            namespace,
            "type",
            "veth",
            "peer",
            "name",
            port,
            "netns",
            switchNamespace
        )
        try await IPRoute.ip("-n", switchNamespace, "link", "set", port, "master", Self.bridge)
        try await IPRoute.ip("-n", switchNamespace, "link", "set", port, "up")
    }

    /// The switch-side name of a namespace's veth: `vd` + 8 hex digits of a stable hash of the namespace name
    /// (interface names are at most 15 bytes).
    public static func switchPort(for namespace: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in namespace.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return "vd" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Removes the lab's namespaces (their veth pairs go with them). Safe to run twice.
    public func down() async {
        for namespace in [self.attackerNamespace, self.switchNamespace] {
            await IPRoute.ipIgnoringFailure("netns", "del", namespace)
        }
    }

    /// Whether the switch and the attacker exist.
    public func isUp() async -> Bool {
        let namespaces = await IPRoute.namespaces()
        return namespaces.contains(self.switchNamespace) && namespaces.contains(self.attackerNamespace)
    }
}

/// A decky as Linux sees it: a network namespace with one interface carrying the decky's MAC and address, and
/// the sysctls of its OS family.
public struct DeckyNamespace: Sendable {
    public let namespace: String
    public let decky: Decky

    public init(decky: Decky, prefix: String = "decnet") {
        self.decky = decky
        self.namespace = "\(prefix)-\(decky.name)"
    }

    /// Creates the namespace, plugs it into the lab's bridge and configures it. The switch-side port is named
    /// from a hash of the namespace (interface names are at most 15 bytes).
    public func create(on lab: LabNetwork, prefixLength: Int, gateway: IPv4Address?) async throws {
        try await IPRoute.ip("netns", "add", self.namespace)
        try await IPRoute.ip("-n", self.namespace, "link", "set", "lo", "up")
        try await lab.plug(namespace: self.namespace, port: self.switchPort)
        try await IPRoute.ip("-n", self.namespace, "link", "set", "eth0", "address", self.decky.mac.description)
        try await IPRoute.ip("-n", self.namespace, "addr", "add", "\(self.decky.ip)/\(prefixLength)", "dev", "eth0")
        try await IPRoute.ip("-n", self.namespace, "link", "set", "eth0", "up")
        if let gateway {
            try await IPRoute.ip("-n", self.namespace, "route", "add", "default", "via", gateway.description)
        }
        for (key, value) in self.decky.sysctls {
            try await IPRoute.setSysctl(namespace: self.namespace, key: key, value: value)
        }
    }

    public func delete() async {
        await IPRoute.ipIgnoringFailure("netns", "del", self.namespace)
    }

    var switchPort: String { LabNetwork.switchPort(for: self.namespace) }
}
