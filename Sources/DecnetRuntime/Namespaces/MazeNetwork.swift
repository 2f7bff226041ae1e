import DecnetCore

/// The segments of a MazeNET topology made of namespaces: one switch namespace per segment (a bridge with no
/// address that forwards nothing between segments) and the lab's attacker on the entry segment, with its routes
/// through the routers. The deckies, routers included, plug in through `FleetNetwork` (`.maze`).
public struct MazeNetwork: Sendable {
    public let layout: MazeLayout

    public init(layout: MazeLayout) {
        self.layout = layout
    }

    public static let bridge = LabNetwork.bridge

    /// The switch-side name of a namespace's interface `index` (0 is eth0): `vd`/`vr` + 8 hex digits.
    public static func switchPort(for namespace: String, interface index: Int) -> String {
        index == 0
            ? LabNetwork.switchPort(for: namespace)
            : "vr" + LabNetwork.switchPort(for: "\(namespace)#\(index)").dropFirst(2)
    }

    /// Builds each segment's switch and the attacker.
    public func up() async throws {
        for segment in self.layout.segments {
            let namespace = self.layout.switchNamespace(segment.name)
            try await IPRoute.ip("netns", "add", namespace)
            try await IPRoute.ip("-n", namespace, "link", "set", "lo", "up")
            try await IPRoute.ip("-n", namespace, "link", "add", Self.bridge, "type", "bridge")
            try await IPRoute.ip("-n", namespace, "link", "set", Self.bridge, "up")
            // A switch, not a router: no address, no forwarding.
            try await IPRoute.setSysctl(namespace: namespace, key: "net.ipv4.ip_forward", value: "0")
        }
        let attacker = self.layout.attackerNamespace
        let entry = self.layout.attacker
        guard let segment = self.layout.segment(named: entry.segment) else {
            throw IPRoute.Failure(description: "no segment \(entry.segment)")
        }
        try await IPRoute.ip("netns", "add", attacker)
        try await IPRoute.ip("-n", attacker, "link", "set", "lo", "up")
        try await LabNetwork.plug(
            namespace: attacker,
            interface: "eth0",
            port: LabNetwork.switchPort(for: attacker),
            into: self.layout.switchNamespace(entry.segment)
        )
        try await IPRoute.ip("-n", attacker, "addr", "add", "\(entry.ip)/\(segment.subnet.prefixLength)", "dev", "eth0")
        try await IPRoute.ip("-n", attacker, "link", "set", "eth0", "up")
        for route in self.layout.attackerRoutes {
            try await IPRoute.ip(
                "-n",
                attacker,
                "route",
                "add",
                route.destination.description,
                "via",
                route.via.description
            )
        }
    }

    /// Removes the switches and the attacker (the deckies' namespaces go with the fleet). Safe to run twice.
    public func down() async {
        await IPRoute.ipIgnoringFailure("netns", "del", self.layout.attackerNamespace)
        for segment in self.layout.segments {
            await IPRoute.ipIgnoringFailure("netns", "del", self.layout.switchNamespace(segment.name))
        }
    }

    /// Whether every switch and the attacker exist.
    public func isUp() async -> Bool {
        let namespaces = await IPRoute.namespaces()
        return namespaces.contains(self.layout.attackerNamespace)
            && self.layout.segments.allSatisfy { namespaces.contains(self.layout.switchNamespace($0.name)) }
    }
}
