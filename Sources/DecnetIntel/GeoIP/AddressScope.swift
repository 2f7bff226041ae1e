#if canImport(Glibc)
import Glibc
#endif

/// What kind of address an attacker's is, before any database is asked: the IANA special-purpose registries
/// (IPv4: RFC 6890 and its updates; IPv6: RFC 6890, RFC 4193, RFC 4291, RFC 3849). Only `public` addresses have a
/// country or an autonomous system; the rest are named for what they are (an attacker on the LAN is `private`).
public enum AddressScope: String, Sendable, Codable, CaseIterable {
    case `public`
    /// RFC 1918 (IPv4) and unique local fc00::/7 (IPv6): inside an organisation, the LAN or a lab.
    case `private`
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    case sharedAddressSpace = "shared-address-space"
    case loopback
    case linkLocal = "link-local"
    case multicast
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.
    case documentation
    /// 198.18.0.0/15 (RFC 2544).
    case benchmarking
    /// 0.0.0.0/8 and ::.
    case unspecified
    /// 192.0.0.0/24, 240.0.0.0/4, the broadcast address.
    case reserved

    /// The scope of an address in its 4- or 16-byte network order form (an IPv4-mapped IPv6 address is judged as
    /// its IPv4 address).
    public init(bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self.init(bytes: Array(bytes[12...]))
            return
        }
        if bytes.count == 4 {
            self = Self.ipv4(bytes)
        } else if bytes.count == 16 {
            self = Self.ipv6(bytes)
        } else {
            self = .reserved
        }
    }

    /// The scope of a textual address, or nil when it is not an IPv4 or IPv6 address.
    public init?(_ address: String) {
        guard let bytes = AddressScope.bytes(of: address) else { return nil }
        self.init(bytes: bytes)
    }

    /// An address's bytes in network order (4 for IPv4, 16 for IPv6), or nil if it is neither.
    public static func bytes(of address: String) -> [UInt8]? {
        // C sees a string up to its first NUL: "8.8.8.8\0junk" is not an address. 45 is the longest text form.
        guard address.utf8.count <= 45, !address.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return withUnsafeBytes(of: v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            return withUnsafeBytes(of: v6) { Array($0) }
        }
        return nil
    }

    private static func ipv4(_ b: [UInt8]) -> AddressScope {
        switch (b[0], b[1], b[2]) {
        case (0, _, _): return .unspecified
        case (10, _, _): return .private
        case (100, 64...127, _): return .sharedAddressSpace
        case (127, _, _): return .loopback
        case (169, 254, _): return .linkLocal
        case (172, 16...31, _): return .private
        case (192, 0, 0): return .reserved
        case (192, 0, 2), (198, 51, 100), (203, 0, 113): return .documentation
        case (192, 168, _): return .private
        case (198, 18...19, _): return .benchmarking
        case (224...239, _, _): return .multicast
        case (240...255, _, _): return .reserved
        default: return .public
        }
    }

    private static func ipv6(_ b: [UInt8]) -> AddressScope {
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }), b[15] == 1 { return .loopback }
        if b[0] & 0xFE == 0xFC { return .private }
        if b[0] == 0xFE, b[1] & 0xC0 == 0x80 { return .linkLocal }
        if b[0] == 0xFF { return .multicast }
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0D, b[3] == 0xB8 { return .documentation }
        // Global unicast is 2000::/3; everything else not named above is reserved by IANA.
        return b[0] & 0xE0 == 0x20 ? .public : .reserved
    }
}
