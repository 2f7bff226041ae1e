import CNettle
import CSodium
import Crypto
import Foundation
import NIOCore
import Synchronization
import _CryptoExtras

/// Encryption and integrity of one direction after NEWKEYS.
enum SSHPacketProtection {
    case ctr(SSHCTRProtection)
    case gcm(SSHGCMProtection)
    case chacha(SSHChaChaPolyProtection)

    /// The ciphers implemented, with their key and IV lengths.
    static let ciphers: [String: (key: Int, iv: Int)] = [
        "aes128-ctr": (16, 16), "aes192-ctr": (24, 16), "aes256-ctr": (32, 16),
        "aes128-gcm@openssh.com": (16, 12), "aes256-gcm@openssh.com": (32, 12),
        SSHChaChaPolyProtection.name: (64, 0),
    ]

    /// Ciphers that authenticate by themselves (the negotiated MAC is not used).
    static func isAEAD(_ cipher: String) -> Bool { cipher == SSHChaChaPolyProtection.name || cipher.contains("-gcm@") }

    init(cipher: String, key: [UInt8], iv: [UInt8], macKey: [UInt8], mac: SSHMAC?) {
        if cipher == SSHChaChaPolyProtection.name {
            self = .chacha(SSHChaChaPolyProtection(key: key))
        } else if cipher.contains("-gcm@") {
            self = .gcm(SSHGCMProtection(key: key, iv: iv))
        } else {
            self = .ctr(SSHCTRProtection(cipherKey: key, iv: iv, macKey: macKey, mac: mac ?? .sha256ETM))
        }
    }

    mutating func seal(_ payload: [UInt8], sequence: UInt32) throws -> [UInt8] {
        switch self {
        case .ctr(var protection):
            defer { self = .ctr(protection) }
            return try protection.seal(payload, sequence: sequence)
        case .gcm(var protection):
            defer { self = .gcm(protection) }
            return try protection.seal(payload)
        case .chacha(let protection):
            return protection.seal(payload, sequence: sequence)
        }
    }

    mutating func open(_ buffer: inout ByteBuffer, sequence: UInt32) throws -> [UInt8]? {
        switch self {
        case .ctr(var protection):
            defer { self = .ctr(protection) }
            return try protection.open(&buffer, sequence: sequence)
        case .gcm(var protection):
            defer { self = .gcm(protection) }
            return try protection.open(&buffer)
        case .chacha(let protection):
            return try protection.open(&buffer, sequence: sequence)
        }
    }

    /// OpenSSH's own limit on a packet once keys are in use.
    static let maximumPacket: UInt32 = 256 * 1024

    /// Padding of at least 4 bytes so that `covered` plus the padding is a multiple of `block`.
    static func padding(_ covered: Int, block: Int) -> Int {
        var padding = block - covered % block
        if padding < 4 { padding += block }
        return padding
    }

    /// Strips the padding of a decrypted `padding_length ‖ payload ‖ padding`.
    static func payload(_ plaintext: [UInt8]) throws -> [UInt8] {
        let padding = Int(plaintext[0])
        guard padding >= 4, padding < plaintext.count else {
            throw SSHWire.ProtocolError("bad padding length \(padding)")
        }
        return Array(plaintext[1..<(plaintext.count - padding)])
    }

    /// Compares in constant time: every byte whatever the first difference.
    static func same(_ expected: [UInt8], _ received: [UInt8]) -> Bool {
        expected.count == received.count && zip(expected, received).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0
    }
}

/// The MACs OpenSSH 9.2 offers: HMAC and UMAC (RFC 4418), each encrypt-then-MAC (`-etm@openssh.com`, over the
/// ciphertext with the length in clear) or the original encrypt-and-MAC (RFC 4253 §6.4, over the plaintext
/// packet).
enum SSHMAC: String {
    case umac64ETM = "umac-64-etm@openssh.com"
    case umac128ETM = "umac-128-etm@openssh.com"
    case sha256ETM = "hmac-sha2-256-etm@openssh.com"
    case sha512ETM = "hmac-sha2-512-etm@openssh.com"
    case sha1ETM = "hmac-sha1-etm@openssh.com"
    case umac64 = "umac-64@openssh.com"
    case umac128 = "umac-128@openssh.com"
    case sha256 = "hmac-sha2-256"
    case sha512 = "hmac-sha2-512"
    case sha1 = "hmac-sha1"

    var isETM: Bool { self.rawValue.hasSuffix("-etm@openssh.com") }

    var keyLength: Int {
        switch self {
        case .sha256ETM, .sha256: 32
        case .sha512ETM, .sha512: 64
        case .sha1ETM, .sha1: 20
        case .umac64ETM, .umac64, .umac128ETM, .umac128: 16
        }
    }

    var length: Int {
        switch self {
        case .umac64ETM, .umac64: 8
        case .umac128ETM, .umac128: 16
        default: self.keyLength
        }
    }
}

/// One direction's MAC with its key. HMAC covers the sequence number and then the data; UMAC takes the
/// sequence number as its 64-bit nonce (OpenSSH's mac.c).
struct SSHMACKey {
    let algorithm: SSHMAC
    private let key: SymmetricKey
    private let umac: SSHUMAC?

    init(_ algorithm: SSHMAC, key: [UInt8]) {
        self.algorithm = algorithm
        self.key = SymmetricKey(data: key)
        switch algorithm {
        case .umac64ETM, .umac64: self.umac = SSHUMAC(key: key, wide: false)
        case .umac128ETM, .umac128: self.umac = SSHUMAC(key: key, wide: true)
        default: self.umac = nil
        }
    }

    func tag(sequence: UInt32, _ data: [UInt8]) -> [UInt8] {
        if let umac = self.umac { return umac.tag(nonce: UInt64(sequence), data) }
        let sequenced = withUnsafeBytes(of: sequence.bigEndian, Array.init) + data
        switch self.algorithm {
        case .sha256ETM, .sha256: return Array(HMAC<SHA256>.authenticationCode(for: sequenced, using: self.key))
        case .sha512ETM, .sha512: return Array(HMAC<SHA512>.authenticationCode(for: sequenced, using: self.key))
        default: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: sequenced, using: self.key))
        }
    }
}

/// nettle's UMAC-64 or UMAC-128, keyed once per direction. The context is scratch space for each tag, so a
/// lock keeps copies of a protection that share it apart.
final class SSHUMAC: @unchecked Sendable {
    private let narrow: UnsafeMutablePointer<umac64_ctx>?
    private let wide: UnsafeMutablePointer<umac128_ctx>?
    private let lock = Mutex(())

    init(key: [UInt8], wide: Bool) {
        if wide {
            self.narrow = nil
            self.wide = .allocate(capacity: 1)
            nettle_umac128_set_key(self.wide, key)
        } else {
            self.wide = nil
            self.narrow = .allocate(capacity: 1)
            nettle_umac64_set_key(self.narrow, key)
        }
    }

    deinit {
        self.narrow?.deallocate()
        self.wide?.deallocate()
    }

    func tag(nonce: UInt64, _ data: [UInt8]) -> [UInt8] {
        let nonce = withUnsafeBytes(of: nonce.bigEndian, Array.init)
        return self.lock.withLock { _ in self.compute(nonce, data) }
    }

    private func compute(_ nonce: [UInt8], _ data: [UInt8]) -> [UInt8] {
        if let context = self.narrow {
            var tag = [UInt8](repeating: 0, count: 8)
            nettle_umac64_set_nonce(context, 8, nonce)
            nettle_umac64_update(context, data.count, data)
            nettle_umac64_digest(context, 8, &tag)
            return tag
        }
        var tag = [UInt8](repeating: 0, count: 16)
        nettle_umac128_set_nonce(self.wide, 8, nonce)
        nettle_umac128_update(self.wide, data.count, data)
        nettle_umac128_digest(self.wide, 16, &tag)
        return tag
    }
}

/// AES-CTR with an HMAC. Encrypt-then-MAC keeps the packet length in clear and authenticates the sequence
/// number, the length and the ciphertext; encrypt-and-MAC encrypts the length too and authenticates the
/// sequence number and the plaintext packet.
struct SSHCTRProtection {
    static let blockSize = 16

    let key: SymmetricKey
    let macKey: SSHMACKey
    var mac: SSHMAC { self.macKey.algorithm }
    /// The 128-bit big-endian CTR counter block, carried across packets.
    private(set) var counter: [UInt8]
    /// Encrypt-and-MAC: the first block of a packet, already decrypted to read its length.
    private var firstBlock: [UInt8]?

    init(cipherKey: [UInt8], iv: [UInt8], macKey: [UInt8], mac: SSHMAC) {
        self.key = SymmetricKey(data: cipherKey)
        self.macKey = SSHMACKey(mac, key: macKey)
        self.counter = Array(iv.prefix(16))
    }

    /// Encrypts and advances the counter by the blocks used.
    private mutating func crypt(_ bytes: [UInt8]) throws -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
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

    private static func checkLength(_ length: UInt32, covering: Int) throws {
        guard length >= UInt32(Self.blockSize - covering), length <= SSHPacketProtection.maximumPacket,
            (length + UInt32(covering)) % UInt32(Self.blockSize) == 0
        else {
            throw SSHWire.ProtocolError("bad packet length \(length)")
        }
    }

    /// A whole protected packet for `payload`.
    mutating func seal(_ payload: [UInt8], sequence: UInt32) throws -> [UInt8] {
        // ETM pads `padding_length ‖ payload ‖ padding`; encrypt-and-MAC the length field too.
        let covered = (self.mac.isETM ? 1 : 5) + payload.count
        let padding = SSHPacketProtection.padding(covered, block: Self.blockSize)
        let body = [UInt8(padding)] + payload + SSHWire.randomBytes(padding)
        var header = SSHWriter()
        header.uint32(UInt32(body.count))
        if self.mac.isETM {
            let ciphertext = try self.crypt(body)
            return header.bytes + ciphertext + self.macKey.tag(sequence: sequence, header.bytes + ciphertext)
        }
        let packet = header.bytes + body
        return try self.crypt(packet) + self.macKey.tag(sequence: sequence, packet)
    }

    /// Reads one protected packet from `buffer`: nil when more bytes are needed; throws on a bad length or MAC.
    mutating func open(_ buffer: inout ByteBuffer, sequence: UInt32) throws -> [UInt8]? {
        if !self.mac.isETM { return try self.openEncryptAndMAC(&buffer, sequence: sequence) }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        try Self.checkLength(length, covering: 0)
        let total = 4 + Int(length) + self.mac.length
        guard buffer.readableBytes >= total else { return nil }
        let header = buffer.readBytes(length: 4)!
        let ciphertext = buffer.readBytes(length: Int(length))!
        let received = buffer.readBytes(length: self.mac.length)!
        let expected = self.macKey.tag(sequence: sequence, header + ciphertext)
        guard SSHPacketProtection.same(expected, received) else {
            throw SSHWire.ProtocolError("corrupted MAC on input")
        }
        return try SSHPacketProtection.payload(try self.crypt(ciphertext))
    }

    private mutating func openEncryptAndMAC(_ buffer: inout ByteBuffer, sequence: UInt32) throws -> [UInt8]? {
        if self.firstBlock == nil {
            guard let block = buffer.readBytes(length: Self.blockSize) else { return nil }
            self.firstBlock = try self.crypt(block)
        }
        let first = self.firstBlock!
        let length = first.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        try Self.checkLength(length, covering: 4)
        let rest = 4 + Int(length) - Self.blockSize
        guard buffer.readableBytes >= rest + self.mac.length else { return nil }
        let packet = first + (try self.crypt(buffer.readBytes(length: rest)!))
        self.firstBlock = nil
        let received = buffer.readBytes(length: self.mac.length)!
        guard SSHPacketProtection.same(self.macKey.tag(sequence: sequence, packet), received) else {
            throw SSHWire.ProtocolError("corrupted MAC on input")
        }
        return try SSHPacketProtection.payload(Array(packet.dropFirst(4)))
    }
}

/// aes128-gcm@openssh.com and aes256-gcm@openssh.com (RFC 5647 as OpenSSH's PROTOCOL amends it): the length in
/// clear as associated data, a 12-byte nonce whose last 8 bytes count packets, a 16-byte tag.
struct SSHGCMProtection {
    static let blockSize = 16
    static let tagLength = 16

    let key: SymmetricKey
    private var nonce: [UInt8]

    init(key: [UInt8], iv: [UInt8]) {
        self.key = SymmetricKey(data: key)
        self.nonce = Array(iv.prefix(12))
    }

    private mutating func advance() {
        var index = 11
        while index >= 4 {
            self.nonce[index] &+= 1
            if self.nonce[index] != 0 { break }
            index -= 1
        }
    }

    mutating func seal(_ payload: [UInt8]) throws -> [UInt8] {
        let padding = SSHPacketProtection.padding(1 + payload.count, block: Self.blockSize)
        let body = [UInt8(padding)] + payload + SSHWire.randomBytes(padding)
        var header = SSHWriter()
        header.uint32(UInt32(body.count))
        let box = try AES.GCM.seal(
            body,
            using: self.key,
            nonce: AES.GCM.Nonce(data: self.nonce),
            authenticating: header.bytes
        )
        self.advance()
        return header.bytes + Array(box.ciphertext) + Array(box.tag)
    }

    mutating func open(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= UInt32(Self.blockSize), length <= SSHPacketProtection.maximumPacket,
            length % UInt32(Self.blockSize) == 0
        else {
            throw SSHWire.ProtocolError("bad packet length \(length)")
        }
        guard buffer.readableBytes >= 4 + Int(length) + Self.tagLength else { return nil }
        let header = buffer.readBytes(length: 4)!
        let ciphertext = buffer.readBytes(length: Int(length))!
        let tag = buffer.readBytes(length: Self.tagLength)!
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: self.nonce), ciphertext: ciphertext, tag: tag)
            plaintext = try AES.GCM.open(box, using: self.key, authenticating: header)
        } catch {
            throw SSHWire.ProtocolError("corrupted MAC on input")
        }
        self.advance()
        return try SSHPacketProtection.payload(Array(plaintext))
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
        let padding = SSHPacketProtection.padding(1 + payload.count, block: Self.blockSize)
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
        guard length >= UInt32(Self.blockSize), length <= SSHPacketProtection.maximumPacket,
            length % UInt32(Self.blockSize) == 0
        else {
            throw SSHWire.ProtocolError("bad packet length \(length)")
        }
        let total = 4 + Int(length) + Self.tagLength
        guard buffer.readableBytes >= total else { return nil }
        let sealed = buffer.readBytes(length: 4 + Int(length))!
        let received = buffer.readBytes(length: Self.tagLength)!
        let expected = self.tag(sealed, nonce: nonce)
        guard SSHPacketProtection.same(expected, received) else {
            throw SSHWire.ProtocolError("corrupted MAC on input")
        }
        return try SSHPacketProtection.payload(
            Self.chacha(Array(sealed.dropFirst(4)), key: self.mainKey, nonce: nonce, counter: 1)
        )
    }
}
