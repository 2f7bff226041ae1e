/// How the native driver puts a fleet on the wire, kept in the state file so that every later command and a
/// restarted engine rebuild exactly the same thing.
public struct NativeDeployment: Codable, Sendable, Equatable {
    /// Where the deckies' interfaces hang.
    public enum Network: String, Codable, Sendable, CaseIterable {
        /// veth pairs into the bridge of a lab LAN of namespaces (`decnet lab up`).
        case lab
        /// macvlan (bridge mode) children of a host NIC, each with the decky's MAC.
        case macvlan
        /// IPvlan L2 children of a host NIC: the NIC's MAC, the decky's IP.
        case ipvlan
        /// No namespaces: each decky on its own 127.x address of the engine's loopback (no root needed).
        case loopback
        /// A MazeNET topology: segments of their own, joined by router deckies (`maze`).
        case maze
    }

    public var network: Network
    /// The lab's name (lab network).
    public var lab: String?
    /// The parent NIC (macvlan, ipvlan).
    public var parent: String?
    /// Whether the engine keeps the host-side `decnet_macvlan0` interface through which the host reaches its
    /// own macvlan deckies.
    public var hairpin: Bool
    /// Added to a port below 1024 that cannot be bound (loopback network without root).
    public var portOffset: Int
    /// Deckies named here are kept down (`decnet lifecycle stop`) until started again.
    public var stopped: [String]
    /// The topology's wiring (maze network).
    public var maze: MazeLayout?

    public init(
        network: Network,
        lab: String? = nil,
        parent: String? = nil,
        hairpin: Bool = false,
        portOffset: Int = NativeDeployment.defaultPortOffset,
        stopped: [String] = [],
        maze: MazeLayout? = nil
    ) {
        self.network = network
        self.lab = lab
        self.parent = parent
        self.hairpin = hairpin
        self.portOffset = portOffset
        self.stopped = stopped
        self.maze = maze
    }

    /// 22 → 10022, 80 → 10080, 443 → 10443.
    public static let defaultPortOffset = 10_000

    /// Prefix of every decky namespace: `decnet-<decky>`.
    public static let namespacePrefix = "decnet"

    public static func namespace(of decky: String) -> String { "\(Self.namespacePrefix)-\(decky)" }
}
