import DecnetCore

/// The explicit list of emulators the runtime can serve (no runtime discovery: adding a protocol is a folder,
/// one line in `ServiceRegistry+Builtin.swift` and a docs/services page).
public struct ServiceRegistry: Sendable, ExpressibleByArrayLiteral {
    public let services: [any HoneypotService.Type]

    public init(arrayLiteral elements: any HoneypotService.Type...) { self.services = elements }
    public init(_ services: [any HoneypotService.Type]) { self.services = services }

    /// The emulator for a slug, if implemented.
    public func service(for kind: ServiceKind) -> (any HoneypotService.Type)? {
        self.services.first { $0.kind == kind }
    }

    public var kinds: [ServiceKind] { self.services.map { $0.kind } }
}
