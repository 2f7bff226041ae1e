/// Lowercase hexadecimal text of bytes (digests, fingerprints, ids): two digits per byte from a table, into one
/// buffer. Mapping each byte to a `String(_:radix:)` or `String(format:)` and joining made two or three strings
/// per byte, on paths that run once per request (a SIP tag, a JA3 hash).
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(Self.digits[Int(byte >> 4)])
            out.append(Self.digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
