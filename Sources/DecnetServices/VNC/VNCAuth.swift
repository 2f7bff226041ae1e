import CNettle
import Glibc

/// VNC authentication (RFC 6143 §7.2.2): the client encrypts the server's 16-byte challenge with DES in ECB mode,
/// keyed with the password's first 8 bytes (zero-padded), each byte's bits reversed.
enum VNCAuth {
    static func response(challenge: [UInt8], password: [UInt8]) -> [UInt8] {
        precondition(challenge.count == 16, "the challenge is 16 bytes")
        var context = Self.key(password)
        var out = [UInt8](repeating: 0, count: 16)
        challenge.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { nettle_des_encrypt(&context, 16, $0.baseAddress, input.baseAddress) }
        }
        return out
    }

    /// The DES key schedule for a password: its first 8 bytes, zero-padded, each byte's bits reversed.
    static func key(_ password: [UInt8]) -> des_ctx {
        var key = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        withUnsafeMutableBytes(of: &key) { key in
            for (index, byte) in password.prefix(8).enumerated() { key[index] = Self.reversed(byte) }
        }
        var context = des_ctx()
        withUnsafeBytes(of: key) { key in
            // A weak key is still a key a client may use.
            _ = nettle_des_set_key(&context, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return context
    }

    static func reversed(_ byte: UInt8) -> UInt8 {
        var value = byte, result: UInt8 = 0
        for _ in 0..<8 {
            result = result << 1 | value & 1
            value >>= 1
        }
        return result
    }

    /// Passwords tried against every captured response, so the event names a weak password at once (the pair
    /// stays in the event for a longer offline search). Our own list of defaults and the most common choices.
    static let commonPasswords: [String] = [
        "password", "123456", "12345678", "1234", "12345", "admin", "vnc", "vncpass", "secret", "qwerty", "letmein",
        "changeme", "test", "root", "toor", "administ", "pass", "passwd", "1111", "0000", "abc123", "default",
        "welcome", "raspberr", "guest", "user", "server", "support",
    ]

    /// The common passwords with their key schedules, set up once (a response is tried against all of them).
    private static let commonKeys: [(password: String, context: des_ctx)] = Self.commonPasswords.map {
        ($0, Self.key(Array($0.utf8)))
    }

    /// The common password that produced `response` to `challenge`, if any. Each is tried on the first block
    /// alone (ECB: the blocks are independent), and the second only for a key whose first block matched; no
    /// allocation, no key set up per connection.
    static func recoverCommon(challenge: [UInt8], response: [UInt8]) -> String? {
        guard challenge.count == 16, response.count == 16 else { return nil }
        var block = (UInt64(0), UInt64(0))
        return challenge.withUnsafeBufferPointer { challenge in
            response.withUnsafeBufferPointer { response in
                withUnsafeMutableBytes(of: &block) { out in
                    let out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    let challenge = challenge.baseAddress!, response = response.baseAddress!
                    for candidate in Self.commonKeys {
                        var context = candidate.context
                        nettle_des_encrypt(&context, 8, out, challenge)
                        guard memcmp(out, response, 8) == 0 else { continue }
                        nettle_des_encrypt(&context, 8, out + 8, challenge + 8)
                        if memcmp(out + 8, response + 8, 8) == 0 { return candidate.password }
                    }
                    return nil
                }
            }
        }
    }
}
