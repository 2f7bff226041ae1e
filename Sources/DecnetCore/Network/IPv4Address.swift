/// An IPv4 address held as its 32-bit value, so that subnets and allocation are plain integer arithmetic.
public struct IPv4Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The address in host byte order: `192.168.1.1` is `0xC0A8_0101`.
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text (`"192.168.1.10"`). Rejects leading zeros, which some parsers read as octal.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit),
                part.count == 1 || part.first != "0", let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        self.value = value
    }

    /// The four octets, most significant first.
    public var octets: [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: self.value >> $0) } }

    public var description: String { self.octets.map(String.init).joined(separator: ".") }

    /// True for 127.0.0.0/8.
    public var isLoopback: Bool { self.value >> 24 == 127 }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    /// The address `offset` places after this one, or nil past 255.255.255.255.
    public func advanced(by offset: Int) -> IPv4Address? {
        let next = Int64(self.value) + Int64(offset)
        guard next >= 0, next <= Int64(UInt32.max) else { return nil }
        return IPv4Address(UInt32(next))
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "bad IPv4 \(text)")
            )
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.description)
    }
}

extension Character {
    /// `0`…`9` only: `Character.isNumber` also accepts other scripts' digits.
    var isASCIIDigit: Bool { self.isASCII && self.isWholeNumber }
}
