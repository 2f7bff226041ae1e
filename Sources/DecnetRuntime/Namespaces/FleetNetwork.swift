import CDecnetLinux
import DecnetCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The deckies of a fleet as Linux sees them: one network namespace each (`decnet-<decky>`), holding one
/// interface `eth0` with the decky's MAC and address, a default route and the sysctls of its OS family.
///
/// Work is batched: the namespaces of a whole fleet are made by one `ip -batch`, their interfaces by another,
/// and each namespace is configured by one more; sysctls are written from a thread that joined the namespace.
/// A hundred deckies cost a few hundred milliseconds instead of thousands of `ip` runs.
public struct FleetNetwork: Sendable {
    /// Where the interfaces hang.
    public enum Attachment: Sendable {
        case lab(LabNetwork)
        case macvlan(parent: String)
        case ipvlan(parent: String)
        /// A MazeNET topology's segments (`MazeNetwork`).
        case maze(MazeLayout)
    }

    public let attachment: Attachment
    public let subnet: IPv4Network
    public let gateway: IPv4Address?
    /// Whether the engine keeps the host-side `decnet_macvlan0` interface (macvlan only).
    public let hairpin: Bool
    /// Covered by the hairpin route.
    public let ipRange: IPv4Network

    public static let hairpinInterface = "decnet_macvlan0"

    public init(
        attachment: Attachment,
        subnet: IPv4Network,
        gateway: IPv4Address?,
        ipRange: IPv4Network,
        hairpin: Bool = false
    ) {
        self.attachment = attachment
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        self.hairpin = hairpin
    }

    public static func namespace(of decky: Decky) -> String { NativeDeployment.namespace(of: decky.name) }

    /// Where the state's deckies hang; nil for the loopback network (and the Docker driver).
    public static func attachment(for state: FleetState) -> Attachment? {
        guard let native = state.native else { return nil }
        switch native.network {
        case .lab: return .lab(LabNetwork(name: native.lab ?? "lab", subnet: state.fleet.subnet))
        case .macvlan: return .macvlan(parent: native.parent ?? state.fleet.interface ?? "eth0")
        case .ipvlan: return .ipvlan(parent: native.parent ?? state.fleet.interface ?? "eth0")
        case .maze: return native.maze.map { .maze($0) }
        case .loopback: return nil
        }
    }

    /// The network of the state's deckies, nil for the loopback network.
    public init?(state: FleetState) {
        guard let attachment = Self.attachment(for: state) else { return nil }
        self.init(
            attachment: attachment,
            subnet: state.fleet.subnet,
            gateway: state.fleet.gateway,
            ipRange: state.fleet.ipRange,
            hairpin: state.native?.hairpin ?? false
        )
    }

    /// What is on the wire for one decky.
    public struct Facts: Sendable, Equatable, Codable {
        public var namespacePresent: Bool
        public var interface: InterfaceFacts?

        /// Whether the namespace holds an `eth0` that is up with the decky's address (and MAC, when the
        /// attachment gives deckies their own).
        public func matches(_ decky: Decky, checkMAC: Bool) -> Bool {
            guard self.namespacePresent, let interface, interface.up,
                interface.addresses.contains(decky.ip.description)
            else { return false }
            return !checkMAC || interface.mac == decky.mac.description
        }
    }

    /// Whether deckies carry their own MAC (not under IPvlan).
    public var deckiesHaveOwnMAC: Bool {
        if case .ipvlan = self.attachment { return false }
        return true
    }

    /// Looks at a decky's namespace from inside it.
    public static func inspect(_ decky: Decky) async -> Facts {
        let namespace = Self.namespace(of: decky)
        guard NamespaceThread.exists(namespace) else { return Facts(namespacePresent: false, interface: nil) }
        let interface = try? await NamespaceThread.run(namespace) { InterfaceFacts.read("eth0") }
        return Facts(namespacePresent: true, interface: interface ?? nil)
    }

    /// Makes the namespaces and interfaces of `deckies` and configures them. Returns why each decky that
    /// could not be made failed (its half-made namespace is removed); the others are up.
    public func create(_ deckies: [Decky]) async -> [String: String] {
        var failures: [String: String] = [:]
        func record(_ results: [Int: String], for batch: [Decky], step: String) {
            for (index, message) in results where index < batch.count {
                failures[batch[index].name] = failures[batch[index].name] ?? "\(step): \(message)"
            }
        }
        do {
            let namespaces = try await IPRoute.batch(deckies.map { "netns add \(Self.namespace(of: $0))" })
            record(namespaces, for: deckies, step: "netns add")
            var remaining = deckies.filter { failures[$0.name] == nil }

            let links = try await IPRoute.batch(remaining.map(self.linkCommand))
            record(links, for: remaining, step: "link add")
            remaining = remaining.filter { failures[$0.name] == nil }

            if case .maze(let layout) = self.attachment {
                // Each decky's ports into its segments' switches (a router's one per leg), and a router's legs
                // after its first.
                var failed: [Int: String] = [:]
                for (index, decky) in remaining.enumerated() {
                    let namespace = Self.namespace(of: decky)
                    let legs = layout.legs[decky.name] ?? []
                    for (number, leg) in legs.enumerated() {
                        let port = MazeNetwork.switchPort(for: namespace, interface: number)
                        let switchNamespace = layout.switchNamespace(leg.segment)
                        do {
                            if number > 0 {
                                try await LabNetwork.plug(
                                    namespace: namespace,
                                    interface: "eth\(number)",
                                    port: port,
                                    into: switchNamespace
                                )
                            } else {
                                try await IPRoute.ip(
                                    "-n",
                                    switchNamespace,
                                    "link",
                                    "set",
                                    port,
                                    "master",
                                    MazeNetwork.bridge
                                )
                                try await IPRoute.ip("-n", switchNamespace, "link", "set", port, "up")
                            }
                        } catch {
                            failed[index] = failed[index] ?? "\(error)"
                        }
                    }
                }
                record(failed, for: remaining, step: "switch port")
                remaining = remaining.filter { failures[$0.name] == nil }
            }
            if case .lab(let lab) = self.attachment {
                let ports = remaining.map { LabNetwork.switchPort(for: Self.namespace(of: $0)) }
                let lines = ports.flatMap { ["link set \($0) master \(LabNetwork.bridge)", "link set \($0) up"] }
                let results = try await IPRoute.batch(lines, namespace: lab.switchNamespace)
                record(
                    Dictionary(results.map { ($0.key / 2, $0.value) }, uniquingKeysWith: { a, _ in a }),
                    for: remaining,
                    step: "switch port"
                )
                remaining = remaining.filter { failures[$0.name] == nil }
            }

            // Each namespace's own settings, a few at a time.
            let configured = await Self.forEach(remaining, width: 4) { decky in
                await self.configure(decky)
            }
            for (name, message) in configured { failures[name] = message }
        } catch {
            for decky in deckies where failures[decky.name] == nil { failures[decky.name] = "\(error)" }
        }
        let failed = deckies.filter { failures[$0.name] != nil }
        if !failed.isEmpty { await self.remove(failed) }
        return failures
    }

    /// The `ip link add` that gives a decky its `eth0`, made directly inside its namespace.
    func linkCommand(_ decky: Decky) -> String {
        let namespace = Self.namespace(of: decky)
        switch self.attachment {
        case .lab(let lab):
            let port = LabNetwork.switchPort(for: namespace)
            return
                "link add eth0 address \(decky.mac) netns \(namespace) type veth peer name \(port) netns \(lab.switchNamespace)"
        case .macvlan(let parent):
            return "link add link \(parent) name eth0 address \(decky.mac) netns \(namespace) type macvlan mode bridge"
        case .ipvlan(let parent):
            return "link add link \(parent) name eth0 netns \(namespace) type ipvlan mode l2"
        case .maze(let layout):
            let segment = layout.segment(of: decky.name) ?? ""
            return
                "link add eth0 address \(decky.mac) netns \(namespace) type veth peer name \(MazeNetwork.switchPort(for: namespace, interface: 0)) netns \(layout.switchNamespace(segment))"
        }
    }

    /// Address, routes, links and sysctls inside the decky's namespace, all from one thread that joined it:
    /// the classic interface ioctls (what ifconfig and route do) instead of an `ip -n` run per decky, which
    /// costs a process and a sysfs remount each (nine milliseconds; a thousand deckies took seventeen seconds).
    func configure(_ decky: Decky) async -> String? {
        let namespace = Self.namespace(of: decky)
        let address = decky.ip.value.bigEndian
        // In a maze, the decky's own segment is its subnet and its routes are the layout's; a router forwards.
        var ownSubnet = self.subnet
        var gatewayAddress = self.gateway
        var extraLegs: [(name: String, address: UInt32, netmask: UInt32)] = []
        var mazeRoutes: [MazeLayout.Route] = []
        var sysctls = decky.sysctls
        if case .maze(let layout) = self.attachment {
            let legs = layout.legs[decky.name] ?? []
            if let segment = legs.first.flatMap({ layout.segment(named: $0.segment) }) { ownSubnet = segment.subnet }
            gatewayAddress = nil
            for (number, leg) in legs.enumerated().dropFirst() {
                guard let segment = layout.segment(named: leg.segment) else { continue }
                extraLegs.append(("eth\(number)", leg.ip.value.bigEndian, segment.subnet.netmask.value.bigEndian))
            }
            mazeRoutes = layout.routes[decky.name] ?? []
            if layout.routers.contains(decky.name) {
                sysctls.append(("net.ipv4.ip_forward", "1"))
                // A router that sends redirects would teach hosts a path around it.
                sysctls.append(("net.ipv4.conf.all.send_redirects", "0"))
            }
        }
        let legs = extraLegs
        let routes = mazeRoutes
        let settings = sysctls
        let netmask = ownSubnet.netmask.value.bigEndian
        let gateway: UInt32? = gatewayAddress.flatMap { gateway in
            gateway != decky.ip && ownSubnet.contains(gateway) ? gateway.value.bigEndian : nil
        }
        let metrics = decky.personality.routeMetrics
        let subnet = ownSubnet.network.value.bigEndian
        let prefixLength = Int32(ownSubnet.prefixLength)
        let subnetText = ownSubnet.description
        do {
            try await NamespaceThread.run(namespace) {
                func check(_ result: Int32, _ what: String) throws {
                    guard result == 0 else {
                        throw IPRoute.Failure(description: "\(what): \(String(cString: strerror(errno)))")
                    }
                }
                try check(decnet_set_link_up("lo"), "link set lo up")
                try check(decnet_set_ipv4_address("eth0", address, netmask), "addr add \(decky.ip) dev eth0")
                try check(decnet_set_link_up("eth0"), "link set eth0 up")
                for leg in legs {
                    try check(decnet_set_ipv4_address(leg.name, leg.address, leg.netmask), "addr add dev \(leg.name)")
                    try check(decnet_set_link_up(leg.name), "link set \(leg.name) up")
                }
                if let gateway { try check(decnet_add_default_route(gateway), "route add default") }
                for route in routes {
                    // Out of the leg whose segment holds the next hop.
                    let device =
                        legs.first { ($0.address & $0.netmask) == (route.via.value.bigEndian & $0.netmask) }?.name
                        ?? "eth0"
                    try check(
                        decnet_replace_route(
                            route.destination.network.value.bigEndian,
                            Int32(route.destination.prefixLength),
                            route.via.value.bigEndian,
                            0,
                            device,
                            0,
                            0
                        ),
                        "route add \(route.destination) via \(route.via)"
                    )
                }
                if !metrics.isEmpty {
                    // The OS personality's window scale and first window hold on both routes out.
                    try check(
                        decnet_replace_route(
                            subnet,
                            prefixLength,
                            0,
                            address,
                            "eth0",
                            metrics.window,
                            metrics.initialReceiveWindow
                        ),
                        "route replace \(subnetText) window \(metrics.window) initrwnd \(metrics.initialReceiveWindow)"
                    )
                    if let gateway {
                        try check(
                            decnet_replace_route(
                                0,
                                0,
                                gateway,
                                0,
                                "eth0",
                                metrics.window,
                                metrics.initialReceiveWindow
                            ),
                            "route replace default window \(metrics.window) initrwnd \(metrics.initialReceiveWindow)"
                        )
                    }
                }
                for (key, value) in settings { try NamespaceSysctl.write(key, value) }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Deletes the deckies' namespaces and interfaces. Safe to run on what is already gone.
    public func remove(_ deckies: [Decky]) async {
        await Self.remove(deckies.map(\.name), attachment: self.attachment)
    }

    /// Same, by decky name (teardown when the engine is gone and only names are known).
    ///
    /// A few deckies (a lifecycle stop) have their interface deleted first, synchronously, so they leave the
    /// wire at once and a quick restart finds the names free. Deleting a veth or macvlan costs the kernel an
    /// RCU grace period each (about 17 ms here), so a whole fleet is instead removed by deleting its namespaces,
    /// which the kernel tears down in one batch; for a lab, this then waits until the switch ports are gone.
    public static func remove(_ names: [String], attachment: Attachment?) async {
        let namespaces = names.map { NativeDeployment.namespace(of: $0) }.filter(NamespaceThread.exists)
        guard !namespaces.isEmpty else { return }
        if namespaces.count <= 4 {
            switch attachment {
            case .lab(let lab):
                _ = try? await IPRoute.batch(
                    namespaces.map { "link del \(LabNetwork.switchPort(for: $0))" },
                    namespace: lab.switchNamespace
                )
            case .macvlan, .ipvlan:
                for namespace in namespaces { await IPRoute.ipIgnoringFailure("-n", namespace, "link", "del", "eth0") }
            case .maze:
                for namespace in namespaces { await IPRoute.ipIgnoringFailure("-n", namespace, "link", "del", "eth0") }
            case nil:
                break
            }
        }
        _ = try? await IPRoute.batch(namespaces.map { "netns del \($0)" })
        guard case .lab(let lab) = attachment, namespaces.count > 4 else { return }
        var ports = Set(namespaces.map(LabNetwork.switchPort(for:)))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !ports.isEmpty && clock.now < deadline {
            let listed = (try? await IPRoute.ip("-n", lab.switchNamespace, "-o", "link", "show")) ?? ""
            let present = Set(
                listed.split(separator: "\n").compactMap { line -> String? in
                    let fields = line.split(separator: " ")
                    guard fields.count > 1 else { return nil }
                    return String(fields[1].split(separator: "@").first ?? "").trimmingCharacters(in: [":"])
                }
            )
            ports.formIntersection(present)
            if !ports.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
        }
        // Still there (a socket kept its namespace alive): deleted one by one after all.
        _ = try? await IPRoute.batch(ports.sorted().map { "link del \($0)" }, namespace: lab.switchNamespace)
    }

    /// The host side: for macvlan with `hairpin`, the `decnet_macvlan0` interface and a route to the deckies'
    /// range, so the host reaches its own deckies (a macvlan parent cannot talk to its children directly).
    public func prepareHost() async throws {
        switch self.attachment {
        case .lab(let lab):
            guard await lab.isUp() else {
                throw IPRoute.Failure(description: "the lab \(lab.name) is not up; run `decnet lab up` first")
            }
        case .macvlan(let parent):
            guard self.hairpin else { return }
            let present = (try? await IPRoute.ip("link", "show", Self.hairpinInterface)) != nil
            if !present {
                try await IPRoute.ip(
                    "link",
                    "add",
                    Self.hairpinInterface,
                    "link",
                    parent,
                    "type",
                    "macvlan",
                    "mode",
                    "bridge"
                )
            }
            try await IPRoute.ip("link", "set", Self.hairpinInterface, "up")
            try await IPRoute.ip("route", "replace", self.ipRange.description, "dev", Self.hairpinInterface)
        case .ipvlan(let parent):
            _ = parent
        case .maze(let layout):
            guard await MazeNetwork(layout: layout).isUp() else {
                throw IPRoute.Failure(
                    description: "the topology's segments are not up; run `decnet topology deploy` again"
                )
            }
        }
    }

    /// Removes what `prepareHost` made.
    public static func cleanUpHost(hairpin: Bool) async {
        guard hairpin else { return }
        await IPRoute.ipIgnoringFailure("link", "del", Self.hairpinInterface)
    }

    /// Whether this kernel can make IPvlan interfaces: tried for real in a scratch namespace, since a missing
    /// module is only known by trying.
    public static func kernelHasIPvlan() async -> Bool {
        let scratch = "decnet-probe-\(getpid())"
        await IPRoute.ipIgnoringFailure("netns", "add", scratch)
        do {
            try await IPRoute.ip("-n", scratch, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
            try await IPRoute.ip("-n", scratch, "link", "add", "link", "probe0", "name", "probe2", "type", "ipvlan")
            await IPRoute.ipIgnoringFailure("netns", "del", scratch)
            return true
        } catch {
            await IPRoute.ipIgnoringFailure("netns", "del", scratch)
            return false
        }
    }

    /// Runs `body` over `items`, at most `width` at once; collects the non-nil results by decky name.
    static func forEach(
        _ items: [Decky],
        width: Int,
        _ body: @escaping @Sendable (Decky) async -> String?
    ) async -> [String: String] {
        await withTaskGroup(of: (String, String?).self) { group in
            var results: [String: String] = [:]
            var iterator = items.makeIterator()
            for _ in 0..<width {
                guard let item = iterator.next() else { break }
                group.addTask { (item.name, await body(item)) }
            }
            for await (name, message) in group {
                if let message { results[name] = message }
                if let item = iterator.next() { group.addTask { (item.name, await body(item)) } }
            }
            return results
        }
    }
}
