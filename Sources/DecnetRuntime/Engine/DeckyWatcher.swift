import DecnetCore

/// Told when the engine puts a namespace decky on the wire and takes it off: how layers beside the listeners
/// (the packet layer) follow the fleet without the engine knowing them.
public protocol DeckyWatcher: Sendable {
    /// `decky` is served in `namespace` (its interface is up, its listeners open).
    func served(_ decky: Decky, namespace: String) async
    /// `decky` is being taken off the wire; return once nothing of yours holds its namespace.
    func removed(_ decky: Decky) async
}

/// What the packet layer reports in the engine's status (`decnet sniffer status`).
public struct SnifferStatus: Codable, Sendable, Equatable {
    public var running: Bool
    /// Deckies captured on, and those whose capture failed (name: reason).
    public var deckies: Int
    public var failures: [String: String]
    /// Frames read, probes among them, and frames the kernel dropped because a ring was full.
    public var frames: Int
    public var probes: Int
    public var kernelDrops: Int
    /// Sources followed now, scans going on now, scan reports and fingerprints emitted.
    public var sources: Int
    public var activeScans: Int
    public var reports: Int
    public var fingerprints: Int
    /// CPU time the capture thread used, in microseconds.
    public var cpuMicroseconds: Int

    public init(
        running: Bool,
        deckies: Int = 0,
        failures: [String: String] = [:],
        frames: Int = 0,
        probes: Int = 0,
        kernelDrops: Int = 0,
        sources: Int = 0,
        activeScans: Int = 0,
        reports: Int = 0,
        fingerprints: Int = 0,
        cpuMicroseconds: Int = 0
    ) {
        self.running = running
        self.deckies = deckies
        self.failures = failures
        self.frames = frames
        self.probes = probes
        self.kernelDrops = kernelDrops
        self.sources = sources
        self.activeScans = activeScans
        self.reports = reports
        self.fingerprints = fingerprints
        self.cpuMicroseconds = cpuMicroseconds
    }
}
