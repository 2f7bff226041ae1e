import DecnetCore
import Foundation
import Synchronization

/// The events of one connection: binds decky, service, session, source and destination once, so a protocol
/// emulator only says what happened. Bound fields always win over the emitter's; events after `close()` are
/// marked `late`.
public final class SessionEvents: Sendable {
    /// One service context, shared by reference by every session of a listener: a flood holds thousands of
    /// sessions, and a copy of the context in each was 300 bytes per held connection.
    public final class SharedContext: Sendable {
        public let context: ServiceContext

        public init(_ context: ServiceContext) { self.context = context }
    }

    private let shared: SharedContext
    public var context: ServiceContext { self.shared.context }
    public let session: String
    public let source: Endpoint
    public let destination: Endpoint
    private let closed = Atomic<Bool>(false)

    public init(
        context: ServiceContext,
        source: Endpoint,
        destination: Endpoint,
        session: String = SessionEvents.newID()
    ) {
        self.shared = SharedContext(context)
        self.session = session
        self.source = source
        self.destination = destination
    }

    public init(
        shared: SharedContext,
        source: Endpoint,
        destination: Endpoint,
        session: String = SessionEvents.newID()
    ) {
        self.shared = shared
        self.session = session
        self.source = source
        self.destination = destination
    }

    /// A short random session id (12 hex digits), unique enough to join a connection's events.
    public static func newID() -> String {
        var generator = PooledRandom()
        let value = UInt64.random(in: 0...(1 << 48 - 1), using: &generator)
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 12 - text.count) + text
    }

    public func emit(_ id: EventID, _ fields: EventFields = EventFields()) {
        // Field by field through the shared context: copying the whole context per event costs a retain and a
        // release of each of its references.
        self.shared.context.sink.emit(
            HoneypotEvent(
                id: id,
                decky: self.shared.context.decky,
                hostname: self.shared.context.hostname,
                service: self.shared.context.service,
                session: self.session,
                source: self.source,
                destination: self.destination,
                fields: Self.ownFields(fields.fields),
                late: self.closed.load(ordering: .relaxed)
            )
        )
    }

    /// Convenience for a list of own (non-attacker) fields.
    public func emit(_ id: EventID, _ pairs: KeyValuePairs<String, String>) {
        var fields = EventFields()
        for (name, value) in pairs { fields.add(name, value) }
        self.emit(id, fields)
    }

    /// Marks the session over: later events carry `late`.
    public func close() { self.closed.store(true, ordering: .relaxed) }

    /// The fields without any that would shadow the event's own (`boundNames`): a service never names one, so the
    /// array is passed on as it is, not copied, unless it does.
    static func ownFields(_ fields: [EventField]) -> [EventField] {
        guard fields.contains(where: { Self.boundNames.contains($0.name) }) else { return fields }
        return fields.filter { !Self.boundNames.contains($0.name) }
    }

    static let boundNames: Set<String> = [
        "uuid", "decky", "service", "session", "src_ip", "src_port", "dst_ip", "dst_port", "late",
    ]
}
