import CSodium
import Crypto
import NIOCore
import _CryptoExtras

/// Encryption and integrity of one direction after NEWKEYS.
enum SSHPacketProtection {
    case ctr(SSHCTRProtection)
    case chacha(SSHChaChaPolyProtection)

    /// The ciphers implemented, with their key and IV lengths.
    static let ciphers: [String: (key: Int, iv: Int)] = [
        "aes128-ctr": (16, 16), "aes192-ctr": (24, 16), "aes256-ctr": (32, 16),
        SSHChaChaPolyProtection.name: (64, 0),
    ]

    /// Ciphers that authenticate by themselves (the negotiated MAC is not used).
    static func isAEAD(_ cipher: String) -> Bool { cipher == SSHChaChaPolyProtection.name }

    init(cipher: String, key: [UInt8], iv: [UInt8], macKey: [UInt8], mac: SSHMAC?) {
        if let mac, !Self.isAEAD(cipher) {
            self = .ctr(SSHCTRProtection(cipherKey: key, iv: iv, macKey: macKey, mac: mac))
        } else {
            self = .chacha(SSHChaChaPolyProtection(key: key))
        }
    }

    mutating func seal(_ payload: [UInt8], sequence: UInt32) throws -> [UInt8] {
        switch self {
        case .ctr(var protection):
            defer { self = .ctr(protection) }
            return try protection.seal(payload, sequence: sequence)
        case .chacha(let protection):
            return protection.seal(payload, sequence: sequence)
        }
    }

    mutating func open(_ buffer: inout ByteBuffer, sequence: UInt32) throws -> [UInt8]? {
        switch self {
        case .ctr(var protection):
            defer { self = .ctr(protection) }
            return try protection.open(&buffer, sequence: sequence)
        case .chacha(let protection):
            return try protection.open(&buffer, sequence: sequence)
        }
    }
}

/// The encrypt-then-MAC HMACs (OpenSSH's PROTOCOL, "etm" MACs).
enum SSHMAC: String {
    case sha256 = "hmac-sha2-256-etm@openssh.com"
    case sha512 = "hmac-sha2-512-etm@openssh.com"

    var keyLength: Int { self == .sha256 ? 32 : 64 }
    var length: Int { self == .sha256 ? 32 : 64 }

    func authenticate(_ data: [UInt8], key: SymmetricKey) -> [UInt8] {
        switch self {
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }
}

/// AES-CTR with an encrypt-then-MAC HMAC. The packet length stays in clear; the MAC covers the sequence
/// number, the length and the ciphertext.
struct SSHCTRProtection {
    static let blockSize = 16

    let key: SymmetricKey
    let macKey: SymmetricKey
    let mac: SSHMAC
    /// The 128-bit big-endian CTR counter block, carried across packets.
    private(set) var counter: [UInt8]

    init(cipherKey: [UInt8], iv: [UInt8], macKey: [UInt8], mac: SSHMAC) {
        self.key = SymmetricKey(data: cipherKey)
        self.macKey = SymmetricKey(data: macKey)
        self.mac = mac
        self.counter = Array(iv.prefix(16))
    }

    /// Encrypts and advances the counter by the blocks used.
    private mutating func crypt(_ bytes: [UInt8]) throws -> [UInt8] {
        let output = try AES._CTR.encrypt(bytes, using: self.key, nonce: AES._CTR.Nonce(nonceBytes: self.counter))
        var blocks = UInt64((bytes.count + Self.blockSize - 1) / Self.blockSize)
        var index = 15
        while blocks > 0 && index >= 0 {
            let sum = UInt64(self.counter[index]) + (blocks & 0xFF)
            self.counter[index] = UInt8(sum & 0xFF)
            blocks = (blocks >> 8) + (sum >> 8)
            index -= 1
        }
        return Array(output)
    }

    /// A whole protected packet for `payload`.
    mutating func seal(_ payload: [UInt8], sequence: UInt32) throws -> [UInt8] {
        var padding = Self.blockSize - (1 + payload.count) % Self.blockSize
        if padding < 4 { padding += Self.blockSize }
        let plaintext = [UInt8(padding)] + payload + SSHWire.randomBytes(padding)
        let ciphertext = try self.crypt(plaintext)
        var header = SSHWriter()
        header.uint32(UInt32(ciphertext.count))
        var authenticated = SSHWriter()
        authenticated.uint32(sequence)
        authenticated.uint32(UInt32(ciphertext.count))
        return header.bytes + ciphertext + self.mac.authenticate(authenticated.bytes + ciphertext, key: self.macKey)
    }

    /// Reads one protected packet from `buffer`: nil when more bytes are needed; throws on a bad length or MAC.
    mutating func open(_ buffer: inout ByteBuffer, sequence: UInt32) throws -> [UInt8]? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        // OpenSSH's own limit on a packet, once keys are in use.
        guard length >= UInt32(Self.blockSize), length <= 256 * 1024, length % UInt32(Self.blockSize) == 0 else {
            throw SSHWire.ProtocolError("bad packet length \(length)")
        }
        let total = 4 + Int(length) + self.mac.length
        guard buffer.readableBytes >= total else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let ciphertext = buffer.readBytes(length: Int(length))!
        let received = buffer.readBytes(length: self.mac.length)!
        var authenticated = SSHWriter()
        authenticated.uint32(sequence)
        authenticated.uint32(length)
        let expected = self.mac.authenticate(authenticated.bytes + ciphertext, key: self.macKey)
        // Constant time: every byte is compared whatever the first difference.
        guard zip(expected, received).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw SSHWire.ProtocolError("corrupted MAC on input")
        }
        let plaintext = try self.crypt(ciphertext)
        let padding = Int(plaintext[0])
        guard padding >= 4, padding < plaintext.count else {
            throw SSHWire.ProtocolError("bad padding length \(padding)")
        }
        return Array(plaintext[1..<(plaintext.count - padding)])
    }
}

/// chacha20-poly1305@openssh.com (OpenSSH's PROTOCOL.chacha20poly1305): two ChaCha20 keys from 64 bytes of key
/// material, the sequence number as the 64-bit nonce; the length is encrypted with the second key, the rest with
/// the first from block 1, and Poly1305 (its key: block 0 of the first key's stream) covers both ciphertexts.
struct SSHChaChaPolyProtection {
    static let name = "chacha20-poly1305@openssh.com"
    static let blockSize = 8
    static let tagLength = 16

    /// K_2, for the payload and the Poly1305 key.
    let mainKey: [UInt8]
    /// K_1, for the packet length.
    let headerKey: [UInt8]

    /// libsodium picks its implementations once; idempotent and thread-safe.
    private static let sodium: Int32 = sodium_init()

    init(key: [UInt8]) {
        _ = Self.sodium
        self.mainKey = Array(key.prefix(32))
        self.headerKey = Array(key.dropFirst(32).prefix(32))
    }

    private static func nonce(_ sequence: UInt32) -> [UInt8] {
        [0, 0, 0, 0] + withUnsafeBytes(of: sequence.bigEndian, Array.init)
    }

    private static func chacha(_ input: [UInt8], key: [UInt8], nonce: [UInt8], counter: UInt64) -> [UInt8] {
        guard !input.isEmpty else { return [] }
        var output = [UInt8](repeating: 0, count: input.count)
        _ = crypto_stream_chacha20_xor_ic(&output, input, UInt64(input.count), nonce, counter, key)
        return output
    }

    private func tag(_ data: [UInt8], nonce: [UInt8]) -> [UInt8] {
        let polyKey = Self.chacha([UInt8](repeating: 0, count: 32), key: self.mainKey, nonce: nonce, counter: 0)
        var tag = [UInt8](repeating: 0, count: Self.tagLength)
        _ = crypto_onetimeauth_poly1305(&tag, data, UInt64(data.count), polyKey)
        return tag
    }

    func seal(_ payload: [UInt8], sequence: UInt32) -> [UInt8] {
        var padding = Self.blockSize - (1 + payload.count) % Self.blockSize
        if padding < 4 { padding += Self.blockSize }
        let plaintext = [UInt8(padding)] + payload + SSHWire.randomBytes(padding)
        let nonce = Self.nonce(sequence)
        let length = withUnsafeBytes(of: UInt32(plaintext.count).bigEndian, Array.init)
        let sealed =
            Self.chacha(length, key: self.headerKey, nonce: nonce, counter: 0)
            + Self.chacha(plaintext, key: self.mainKey, nonce: nonce, counter: 1)
        return sealed + self.tag(sealed, nonce: nonce)
    }

    func open(_ buffer: inout ByteBuffer, sequence: UInt32) throws -> [UInt8]? {
        guard let encryptedLength = buffer.getBytes(at: buffer.readerIndex, length: 4) else { return nil }
        let nonce = Self.nonce(sequence)
        let lengthBytes = Self.chacha(encryptedLength, key: self.headerKey, nonce: nonce, counter: 0)
        let length = lengthBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard length >= UInt32(Self.blockSize), length <= 256 * 1024, length % UInt32(Self.blockSize) == 0 else {
            throw SSHWire.ProtocolError("bad packet length \(length)")
        }
        let total = 4 + Int(length) + Self.tagLength
        guard buffer.readableBytes >= total else { return nil }
        let sealed = buffer.readBytes(length: 4 + Int(length))!
        let received = buffer.readBytes(length: Self.tagLength)!
        let expected = self.tag(sealed, nonce: nonce)
        guard zip(expected, received).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else {
            throw SSHWire.ProtocolError("corrupted MAC on input")
        }
        let plaintext = Self.chacha(Array(sealed.dropFirst(4)), key: self.mainKey, nonce: nonce, counter: 1)
        let padding = Int(plaintext[0])
        guard padding >= 4, padding < plaintext.count else {
            throw SSHWire.ProtocolError("bad padding length \(padding)")
        }
        return Array(plaintext[1..<(plaintext.count - padding)])
    }
}
