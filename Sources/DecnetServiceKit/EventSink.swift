import DecnetCore

/// Where events go. `emit` must never block: a service calls it on its connection's task.
public protocol EventSink: Sendable {
    func emit(_ event: HoneypotEvent)
}

/// Drops everything (for a service run whose events nobody wants).
public struct DiscardingEventSink: EventSink {
    public init() {}
    public func emit(_ event: HoneypotEvent) {}
}
