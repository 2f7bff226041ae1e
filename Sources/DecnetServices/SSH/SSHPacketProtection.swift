import Crypto
import NIOCore
import _CryptoExtras

/// Encryption and integrity of one direction after NEWKEYS: AES-CTR with an encrypt-then-MAC HMAC
/// (`hmac-sha2-256-etm@openssh.com`, `hmac-sha2-512-etm@openssh.com`). The packet length stays in clear, the
/// MAC covers the sequence number, the length and the ciphertext (OpenSSH's PROTOCOL, "etm" MACs).
struct SSHPacketProtection {
    enum MAC: String {
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

    /// Ciphers this protection implements, with their key lengths.
    static let ciphers: [String: Int] = ["aes128-ctr": 16, "aes192-ctr": 24, "aes256-ctr": 32]
    static let blockSize = 16

    let key: SymmetricKey
    let macKey: SymmetricKey
    let mac: MAC
    /// The 128-bit big-endian CTR counter block, carried across packets.
    private(set) var counter: [UInt8]

    init(cipherKey: [UInt8], iv: [UInt8], macKey: [UInt8], mac: MAC) {
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
