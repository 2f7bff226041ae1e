import NIOCore
import Synchronization

/// Limits every listener applies, so that a flood or a slow-loris cannot exhaust the process.
public struct ConnectionLimits: Sendable {
    /// A connection that sends nothing for this long is closed.
    public var idleTimeout: TimeAmount
    /// No connection lasts longer than this.
    public var sessionTimeout: TimeAmount
    /// Concurrent connections from one source address.
    public var maximumPerSource: Int
    /// Concurrent connections to one listener.
    public var maximumConnections: Int

    public init(
        idleTimeout: TimeAmount = .minutes(5),
        sessionTimeout: TimeAmount = .hours(1),
        maximumPerSource: Int = 256,
        maximumConnections: Int = 10_000
    ) {
        self.idleTimeout = idleTimeout
        self.sessionTimeout = sessionTimeout
        self.maximumPerSource = maximumPerSource
        self.maximumConnections = maximumConnections
    }
}

/// Counts open connections per source and in total; `acquire` says which limit, if any, refuses a new one.
final class ConnectionTracker: Sendable {
    private struct Counts {
        var total = 0
        var accepted = 0
        var perSource: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())
    let limits: ConnectionLimits

    init(limits: ConnectionLimits) { self.limits = limits }

    /// Takes a slot for `source`, or returns the name of the limit that refused it.
    func acquire(_ source: String) -> String? {
        self.counts.withLock { counts in
            if counts.total >= self.limits.maximumConnections { return "maximum_connections" }
            if counts.perSource[source, default: 0] >= self.limits.maximumPerSource { return "maximum_per_source" }
            counts.total += 1
            counts.accepted += 1
            counts.perSource[source, default: 0] += 1
            return nil
        }
    }

    func release(_ source: String) {
        self.counts.withLock { counts in
            counts.total -= 1
            let left = counts.perSource[source, default: 1] - 1
            counts.perSource[source] = left > 0 ? left : nil
        }
    }

    var open: Int { self.counts.withLock { $0.total } }

    var accepted: Int { self.counts.withLock { $0.accepted } }
}
