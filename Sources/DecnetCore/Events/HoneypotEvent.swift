import Foundation

/// An IP address and port, as the event's source or destination.
public struct Endpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    public var ip: String
    public var port: Int

    public init(ip: String, port: Int) {
        self.ip = ip
        self.port = port
    }

    public var description: String { "\(self.ip):\(self.port)" }
}

/// One thing an attacker did, bound to where it happened. Rendered as one RFC 5424 line (`RFC5424Formatter`).
public struct HoneypotEvent: Sendable, Codable, Equatable {
    /// Unique per event: the store's idempotency key. Minted time-ordered (version 7, `UUID.timeOrdered`).
    public var uuid: UUID
    public var time: Date
    public var id: EventID
    public var decky: String
    /// The decky's hostname, the syslog HOSTNAME.
    public var hostname: String
    public var service: ServiceKind
    /// The connection this event belongs to.
    public var session: String
    public var source: Endpoint
    public var destination: Endpoint
    /// Event-specific fields, in the order they were added; attacker text already made printable (see
    /// `EventFields`).
    public var fields: [EventField]
    /// Set when the event was raised after its connection closed.
    public var late: Bool

    public init(
        uuid: UUID? = nil,
        time: Date = Date(),
        id: EventID,
        decky: String,
        hostname: String,
        service: ServiceKind,
        session: String,
        source: Endpoint,
        destination: Endpoint,
        fields: [EventField] = [],
        late: Bool = false
    ) {
        self.uuid = uuid ?? .timeOrdered(at: time)
        self.time = time
        self.id = id
        self.decky = decky
        self.hostname = hostname
        self.service = service
        self.session = session
        self.source = source
        self.destination = destination
        self.fields = fields
        self.late = late
    }

    /// The value of a field, if present.
    public subscript(field name: String) -> String? { self.fields.first { $0.name == name }?.value }

    /// The fields as a dictionary (the first value of a repeated name), as JSON consumers want them.
    public var fieldValues: [String: String] {
        var values: [String: String] = [:]
        for field in self.fields where values[field.name] == nil { values[field.name] = field.value }
        return values
    }
}

/// One name/value pair of an event.
public struct EventField: Sendable, Codable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
