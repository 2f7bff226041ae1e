import CNettle

/// VNC authentication (RFC 6143 §7.2.2): the client encrypts the server's 16-byte challenge with DES in ECB mode,
/// keyed with the password's first 8 bytes (zero-padded), each byte's bits reversed.
enum VNCAuth {
    static func response(challenge: [UInt8], password: [UInt8]) -> [UInt8] {
        precondition(challenge.count == 16, "the challenge is 16 bytes")
        var key = Array(password.prefix(8))
        while key.count < 8 { key.append(0) }
        key = key.map(Self.reversed)
        var context = des_ctx()
        _ = nettle_des_set_key(&context, key)  // a weak key is still a key a client may use
        var out = [UInt8](repeating: 0, count: 16)
        challenge.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { nettle_des_encrypt(&context, 16, $0.baseAddress, input.baseAddress) }
        }
        return out
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

    /// The password (from `candidates`) that produced `response`, if any.
    static func recover(challenge: [UInt8], response: [UInt8], candidates: [String]) -> String? {
        candidates.first { self.response(challenge: challenge, password: Array($0.utf8)) == response }
    }
}
