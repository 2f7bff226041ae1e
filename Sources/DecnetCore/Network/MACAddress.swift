/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// Parses `00:14:22:0a:0b:0c` (or with dashes), in either case.
    public init?(_ text: String) {
        let parts = text.split(omittingEmptySubsequences: false) { $0 == ":" || $0 == "-" }
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    /// A unicast address: the I/G bit of the first octet is clear. Multicast MACs cannot be given to an interface.
    public var isUnicast: Bool { self.bytes[0] & 0x01 == 0 }

    /// Lower-case colon form, as `ip link` prints it.
    public var description: String {
        self.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    /// The vendor prefix, `00:14:22`.
    public var oui: String { String(self.description.prefix(8)) }

    /// An address from one of the vendor's prefixes with a random device part.
    public static func random(from vendor: MACVendor, using generator: inout some RandomNumberGenerator) -> MACAddress {
        let prefix = vendor.prefixes.randomElement(using: &generator)!
        let prefixBytes = MACAddress(prefix + ":00:00:00")!.bytes.prefix(3)
        let device = (0..<3).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return MACAddress(bytes: Array(prefixBytes) + device)!
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let mac = MACAddress(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "bad MAC \(text)")
            )
        }
        self = mac
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}
