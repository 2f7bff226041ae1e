import DecnetCore
import Foundation

/// One service port of a decky as the engine serves it.
public struct ServicePortStatus: Codable, Sendable, Equatable {
    public var service: String
    /// The port the fleet gives the service.
    public var port: Int
    /// The port actually bound (differs in the loopback network when a port below 1024 was shifted).
    public var boundPort: Int?
    public var listening: Bool
    public var openConnections: Int
    public var totalConnections: Int
    /// Why it is not served, when it is not.
    public var note: String?
}

/// One decky as the engine sees it: the plan, the wire and the listeners.
public struct DeckyStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case starting, running, stopped, failed
    }

    public var name: String
    public var state: State
    public var ip: String
    public var mac: String
    public var hostname: String
    public var osFamily: String
    public var distro: String
    public var archetype: String?
    /// `decnet-<decky>`, or nil in the loopback network.
    public var namespace: String?
    public var namespacePresent: Bool
    public var interfaceUp: Bool
    /// Addresses and MAC read from inside the namespace.
    public var observedAddresses: [String]
    public var observedMAC: String?
    public var services: [ServicePortStatus]
    public var error: String?
    /// The OS personality its stack imitates (`windows-server`, `freebsd` …).
    public var personality: String? = nil
    /// What the OS personality layer did for it, when its packets are shaped.
    public var shaping: ShapingStatus? = nil

    public var openConnections: Int { self.services.reduce(0) { $0 + $1.openConnections } }
    public var totalConnections: Int { self.services.reduce(0) { $0 + $1.totalConnections } }
}

/// What the OS personality layer did for one decky: packets queued, packets rewritten, SYN-ACKs whose window
/// scale was not the personality's (left alone), option lists it did not know (left in the kernel's order),
/// verdicts the kernel refused, and why shaping could not start.
public struct ShapingStatus: Codable, Sendable, Equatable {
    public var packets = 0
    public var shaped = 0
    public var scaleMismatches = 0
    public var unknownOptions = 0
    public var verdictFailures = 0
    public var failure: String?

    public init(failure: String? = nil) { self.failure = failure }
}

/// The engine and its fleet, as `decnet status` shows them.
public struct EngineStatus: Codable, Sendable, Equatable {
    /// `starting` until the first reconciliation is over, then `ready`.
    public var phase: String
    public var pid: Int32
    public var startedAt: Date
    public var residentBytes: Int
    public var network: String
    /// Events dropped because the queue was full (should stay 0).
    public var droppedEvents: Int
    /// What the last reconciliation repaired.
    public var lastReport: [String]
    public var deckies: [DeckyStatus]
    /// The packet layer, when it runs in this engine.
    public var sniffer: SnifferStatus?

    /// The engine's resident set size, from /proc/self/status.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
        }
        return 0
    }
}
