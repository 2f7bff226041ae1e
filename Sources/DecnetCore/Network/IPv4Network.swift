/// An IPv4 subnet in CIDR form (`192.168.1.0/24`), always stored with its host bits cleared.
public struct IPv4Network: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The network address (host bits zero).
    public let network: IPv4Address
    /// The prefix length, 0…32.
    public let prefixLength: Int

    /// Makes the network that contains `address` with the given prefix length.
    public init(containing address: IPv4Address, prefixLength: Int) {
        precondition((0...32).contains(prefixLength), "prefix length out of range")
        self.prefixLength = prefixLength
        self.network = IPv4Address(address.value & Self.mask(prefixLength))
    }

    /// Parses `a.b.c.d/n`. Host bits must be zero (`192.168.1.7/24` is refused, as Python's `ip_network` does).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(String(parts[0])),
            (1...2).contains(parts[1].count), parts[1].allSatisfy(\.isASCIIDigit),
            let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        guard address.value & ~Self.mask(length) == 0 else { return nil }
        self.init(containing: address, prefixLength: length)
    }

    /// The netmask for a prefix length, as an integer.
    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }

    public var netmask: IPv4Address { IPv4Address(Self.mask(self.prefixLength)) }
    /// The highest address of the subnet.
    public var broadcast: IPv4Address { IPv4Address(self.network.value | ~Self.mask(self.prefixLength)) }
    /// Number of addresses, including network and broadcast.
    public var size: Int { 1 << (32 - self.prefixLength) }

    public func contains(_ address: IPv4Address) -> Bool {
        address.value & Self.mask(self.prefixLength) == self.network.value
    }

    /// True when `address` may be given to a host: inside, and neither the network nor the broadcast address
    /// (both are usable in /31 and /32, per RFC 3021).
    public func isUsableHost(_ address: IPv4Address) -> Bool {
        guard self.contains(address) else { return false }
        if self.prefixLength >= 31 { return true }
        return address != self.network && address != self.broadcast
    }

    /// The first and last usable host addresses.
    public var usableRange: ClosedRange<IPv4Address> {
        if self.prefixLength >= 31 { return self.network...self.broadcast }
        return IPv4Address(self.network.value + 1)...IPv4Address(self.broadcast.value - 1)
    }

    public var description: String { "\(self.network)/\(self.prefixLength)" }

    /// The smallest CIDR block that covers every address given: the seed's `ips_to_range()`, which keeps a
    /// macvlan network's `ip_range` from claiming the whole host subnet.
    public static func covering(_ addresses: some Collection<IPv4Address>) -> IPv4Network? {
        guard let low = addresses.min(), let high = addresses.max() else { return nil }
        let differing = low.value ^ high.value
        let prefixLength = differing == 0 ? 32 : differing.leadingZeroBitCount
        return IPv4Network(containing: low, prefixLength: prefixLength)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let network = IPv4Network(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "bad CIDR \(text)")
            )
        }
        self = network
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}
