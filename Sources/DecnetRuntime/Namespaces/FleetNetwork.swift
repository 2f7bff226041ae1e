import DecnetCore
import Foundation

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

            // Each namespace's own settings, a few at a time (one `ip` each).
            let configured = await Self.forEach(remaining, width: 8) { decky in
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
        }
    }

    /// Address, routes and sysctls inside the decky's namespace.
    func configure(_ decky: Decky) async -> String? {
        let namespace = Self.namespace(of: decky)
        var lines = [
            "link set lo up",
            "addr add \(decky.ip)/\(self.subnet.prefixLength) dev eth0",
            "link set eth0 up",
        ]
        if let gateway, gateway != decky.ip, self.subnet.contains(gateway) {
            lines.append("route add default via \(gateway)")
        }
        do {
            let results = try await IPRoute.batch(lines, namespace: namespace)
            if let first = results.min(by: { $0.key < $1.key }) { return "\(lines[first.key]): \(first.value)" }
            let sysctls = decky.sysctls
            try await NamespaceThread.run(namespace) {
                for (key, value) in sysctls { try NamespaceSysctl.write(key, value) }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Deletes the deckies' namespaces and interfaces. The lab's switch ports are deleted first, because a
    /// namespace's interfaces are destroyed asynchronously after `netns del` and a quick restart would find
    /// the old port's name taken. Safe to run on what is already gone.
    public func remove(_ deckies: [Decky]) async {
        await Self.remove(deckies.map(\.name), attachment: self.attachment)
    }

    /// Same, by decky name (teardown when the engine is gone and only names are known).
    public static func remove(_ names: [String], attachment: Attachment?) async {
        let namespaces = names.map { NativeDeployment.namespace(of: $0) }
        if case .lab(let lab) = attachment {
            let present = namespaces.filter(NamespaceThread.exists)
            _ = try? await IPRoute.batch(
                present.map { "link del \(LabNetwork.switchPort(for: $0))" },
                namespace: lab.switchNamespace
            )
        }
        _ = try? await IPRoute.batch(namespaces.filter(NamespaceThread.exists).map { "netns del \($0)" })
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
