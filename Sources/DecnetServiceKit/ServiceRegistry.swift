import DecnetCore

/// The explicit list of emulators the runtime can serve (no runtime discovery: adding a protocol is a folder,
/// one line in `ServiceRegistry+Builtin.swift` and a docs/services page).
public struct ServiceRegistry: Sendable, ExpressibleByArrayLiteral {
    /// TCP emulators.
    public let services: [any HoneypotService.Type]
    /// UDP emulators.
    public let datagramServices: [any DatagramService.Type]

    public init(arrayLiteral elements: any HoneypotService.Type...) {
        self.services = elements
        self.datagramServices = []
    }

    public init(_ services: [any HoneypotService.Type], datagram: [any DatagramService.Type] = []) {
        self.services = services
        self.datagramServices = datagram
    }

    /// The TCP emulator for a slug, if implemented.
    public func service(for kind: ServiceKind) -> (any HoneypotService.Type)? {
        self.services.first { $0.kind == kind }
    }

    /// The UDP emulator for a slug, if implemented.
    public func datagramService(for kind: ServiceKind) -> (any DatagramService.Type)? {
        self.datagramServices.first { $0.kind == kind }
    }

    /// Whether a slug has an emulator on some transport.
    public func implements(_ kind: ServiceKind) -> Bool {
        self.service(for: kind) != nil || self.datagramService(for: kind) != nil
    }

    public var kinds: [ServiceKind] {
        var kinds = self.services.map { $0.kind }
        for kind in self.datagramServices.map({ $0.kind }) where !kinds.contains(kind) { kinds.append(kind) }
        return kinds
    }
}
