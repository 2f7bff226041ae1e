/// The transport a port listens on.
public enum Transport: String, Sendable, Codable, CaseIterable {
    case tcp
    case udp
}

/// One listening port of a service: number and transport.
public struct PortSpec: Hashable, Sendable, Codable, CustomStringConvertible {
    public var number: UInt16
    public var transport: Transport

    public init(_ number: UInt16, _ transport: Transport = .tcp) {
        self.number = number
        self.transport = transport
    }

    /// `22/tcp`, as Docker and nmap write it.
    public var description: String { "\(self.number)/\(self.transport.rawValue)" }

    /// Parses `9999`, `9999/tcp` or `161/udp`; a bare number means TCP.
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit),
            let number = UInt16(parts[0]), number > 0
        else { return nil }
        var transport = Transport.tcp
        if parts.count == 2 {
            guard let parsed = Transport(rawValue: parts[1].lowercased()) else { return nil }
            transport = parsed
        }
        self.init(number, transport)
    }
}
