import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization

/// An `EventSink` that keeps every event, for tests to assert on (never on log files).
public final class EventCapture: EventSink, Sendable {
    private let events = Mutex<[HoneypotEvent]>([])

    public init() {}

    public func emit(_ event: HoneypotEvent) { self.events.withLock { $0.append(event) } }

    public var all: [HoneypotEvent] { self.events.withLock { $0 } }

    public func events(_ id: EventID) -> [HoneypotEvent] { self.all.filter { $0.id == id } }

    /// Waits (polling) until `predicate` holds for the captured events, or `timeout` passes.
    @discardableResult
    public func wait(
        timeout: Duration = .seconds(10),
        until predicate: ([HoneypotEvent]) -> Bool
    ) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(self.all) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return predicate(self.all)
    }

    /// Waits until at least `count` events with `id` arrived.
    @discardableResult
    public func wait(for id: EventID, count: Int = 1, timeout: Duration = .seconds(10)) async -> [HoneypotEvent] {
        await self.wait(timeout: timeout) { events in events.filter { $0.id == id }.count >= count }
        return self.events(id)
    }
}
