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

/// Counts open connections per source and in total, and decides whether a new one is admitted.
///
/// When every slot of the listener is taken, a newcomer is not simply turned away: the oldest connection of the
/// source holding the most is closed to make room, as long as that source holds more than the newcomer's would
/// after admission. One address (or a few) holding thousands of idle or slow-loris connections therefore cannot
/// lock out an attacker who arrives later, which is the one a honeypot exists to see; a cap reached by many
/// addresses holding one connection each still refuses, since no source is heavier than the newcomer.
final class ConnectionTracker: Sendable {
    /// One open connection: its id and how to close it.
    private struct Slot {
        let id: Int
        let close: @Sendable () -> Void
    }

    private struct State {
        var total = 0
        var accepted = 0
        var nextID = 0
        /// Open connections per source, oldest first.
        var perSource: [String: [Slot]] = [:]
        /// Connections closed to make room, whose slot was handed on before they ended.
        var evicted: Set<Int> = []
        /// Connections admitted whose task has not ended yet (evicted ones included).
        var live = 0
        /// Waiting for `live` to reach 0.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    enum Admission: Equatable {
        /// Admitted: release `slot` when the connection ends.
        case admitted(slot: Int)
        /// Refused by this limit.
        case refused(limit: String)
    }

    private let state = Mutex(State())
    let limits: ConnectionLimits

    init(limits: ConnectionLimits) { self.limits = limits }

    /// Takes a slot for a connection from `source`, closing (with `close` of another slot, called outside the
    /// lock) the connection it evicts, if any.
    func acquire(_ source: String, close: @escaping @Sendable () -> Void = {}) -> Admission {
        let (admission, victim) = self.state.withLock { state -> (Admission, (@Sendable () -> Void)?) in
            let held = state.perSource[source]?.count ?? 0
            if held >= self.limits.maximumPerSource { return (.refused(limit: "maximum_per_source"), nil) }
            var victim: (@Sendable () -> Void)?
            if state.total >= self.limits.maximumConnections {
                guard let heaviest = state.perSource.max(by: { $0.value.count < $1.value.count }),
                    heaviest.value.count > held + 1
                else { return (.refused(limit: "maximum_connections"), nil) }
                let oldest = state.perSource[heaviest.key]!.removeFirst()
                state.evicted.insert(oldest.id)
                state.total -= 1
                victim = oldest.close
            }
            let id = state.nextID
            state.nextID += 1
            state.total += 1
            state.accepted += 1
            state.live += 1
            state.perSource[source, default: []].append(Slot(id: id, close: close))
            return (.admitted(slot: id), victim)
        }
        victim?()
        return admission
    }

    /// Gives back `slot`; true when the connection had been evicted (its slot was handed on already).
    @discardableResult
    func release(_ source: String, slot: Int) -> Bool {
        self.state.withLock { state in
            if state.evicted.remove(slot) != nil { return true }
            state.total -= 1
            // In place, so that closing a connection does not copy the list of its source's slots.
            state.perSource[source]?.removeAll { $0.id == slot }
            if state.perSource[source]?.isEmpty == true { state.perSource[source] = nil }
            return false
        }
    }

    /// An admitted connection has ended (after `release`).
    func ended() {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.live -= 1
            guard state.live == 0 else { return [] }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no admitted connection is still running.
    func allEnded() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let now = self.state.withLock { state -> Bool in
                if state.live == 0 { return true }
                state.waiters.append(waiter)
                return false
            }
            if now { waiter.resume() }
        }
    }

    /// Closes every open connection.
    func closeAll() {
        let closes = self.state.withLock { $0.perSource.values.flatMap { $0.map(\.close) } }
        for close in closes { close() }
    }

    var open: Int { self.state.withLock { $0.total } }

    var accepted: Int { self.state.withLock { $0.accepted } }
}
