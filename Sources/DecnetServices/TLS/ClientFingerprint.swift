import Crypto
import DecnetCore

/// JA3 and JA4 of a ClientHello: what a client's TLS library gives away before any byte of its request.
enum ClientFingerprint {
    /// JA3's string (`version,ciphers,extensions,groups,point formats`, decimal, `-` separated) and its MD5.
    static func ja3(_ hello: TLSClientHello) -> (text: String, hash: String) {
        func list<T: BinaryInteger>(_ values: [T]) -> String { values.map { String($0) }.joined(separator: "-") }
        let text = [
            String(hello.version),
            list(hello.cipherSuites.filter { !TLSClientHello.isGREASE($0) }),
            list(hello.extensions.filter { !TLSClientHello.isGREASE($0) }),
            list(hello.supportedGroups.filter { !TLSClientHello.isGREASE($0) }),
            list(hello.pointFormats),
        ].joined(separator: ",")
        let digest = Insecure.MD5.hash(data: Array(text.utf8))
        return (text, Hex.lowercase(digest))
    }

    /// JA4 (FoxIO's spec, TCP): `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    static func ja4(_ hello: TLSClientHello) -> String {
        let versions = hello.supportedVersions.filter { !TLSClientHello.isGREASE($0) }
        let version: String
        switch versions.max() ?? hello.version {
        case 0x0304: version = "13"
        case 0x0303: version = "12"
        case 0x0302: version = "11"
        case 0x0301: version = "10"
        case 0x0300: version = "s3"
        default: version = "00"
        }
        let sni = hello.serverName.map { Self.isIPAddress($0) ? "i" : "d" } ?? "i"
        let ciphers = hello.cipherSuites.filter { !TLSClientHello.isGREASE($0) }
        let extensions = hello.extensions.filter { !TLSClientHello.isGREASE($0) }
        func count(_ value: Int) -> String { value < 10 ? "0\(value)" : value > 99 ? "99" : String(value) }
        var alpn = "00"
        if let first = hello.alpn.first, let head = first.utf8.first, let tail = first.utf8.last {
            func alphanumeric(_ byte: UInt8) -> Bool {
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            }
            if alphanumeric(head) && alphanumeric(tail) {
                alpn = String(UnicodeScalar(head)) + String(UnicodeScalar(tail))
            } else {
                // Not alphanumeric: the first hex digit of the first byte and the last of the last byte.
                let headHex = String(head, radix: 16)
                let tailHex = String(tail, radix: 16)
                alpn = String((head < 16 ? "0" : headHex.prefix(1))) + String(tailHex.suffix(1))
            }
        }
        let a = "t\(version)\(sni)\(count(ciphers.count))\(count(extensions.count))\(alpn)"
        func hex(_ value: UInt16) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 4 - text.count) + text
        }
        let b = Self.truncatedSHA256(ciphers.sorted().map(hex).joined(separator: ","))
        var cText = extensions.filter { $0 != 0x0000 && $0 != 0x0010 }.sorted().map(hex).joined(separator: ",")
        let signatures = hello.signatureAlgorithms.filter { !TLSClientHello.isGREASE($0) }
        if !signatures.isEmpty { cText += "_" + signatures.map(hex).joined(separator: ",") }
        let c = Self.truncatedSHA256(cText)
        return "\(a)_\(b)_\(c)"
    }

    /// The first 12 hex digits of the SHA-256 of `text`; `000000000000` for an empty list.
    static func truncatedSHA256(_ text: String) -> String {
        guard !text.isEmpty else { return "000000000000" }
        return String(Hex.lowercase(SHA256.hash(data: Array(text.utf8)).prefix(6)))
    }

    static func isIPAddress(_ text: String) -> Bool {
        text.contains(":") || (text.split(separator: ".").count == 4 && text.allSatisfy { $0.isNumber || $0 == "." })
    }
}
