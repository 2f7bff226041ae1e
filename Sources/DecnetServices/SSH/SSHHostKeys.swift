import Crypto
import Foundation
import _CryptoExtras

/// A decky's SSH host keys, made once and kept in its key directory, so a returning attacker (and their
/// `known_hosts`) sees the same keys after the engine restarts. Without a directory they are made per start.
struct SSHHostKeys: Sendable {
    static let ed25519File = "ssh-host-ed25519.key"
    static let ecdsaFile = "ssh-host-ecdsa-nistp256.key"
    static let rsaFile = "ssh-host-rsa.key"

    let ed25519: Curve25519.Signing.PrivateKey
    let ecdsa: P256.Signing.PrivateKey
    /// RSA 3072 (ssh-keygen's default size): too slow to make for every decky at start, so made in the
    /// background or when a client first asks for it (`BackgroundMade`), then kept like the others.
    let rsa: BackgroundMade<_RSA.Signing.PrivateKey>

    init(directory: String?) throws {
        self.ed25519 = try Self.kept(directory, Self.ed25519File, make: { Curve25519.Signing.PrivateKey() }) {
            try Curve25519.Signing.PrivateKey(rawRepresentation: $0)
        } raw: {
            $0.rawRepresentation
        }
        self.ecdsa = try Self.kept(directory, Self.ecdsaFile, make: { P256.Signing.PrivateKey() }) {
            try P256.Signing.PrivateKey(rawRepresentation: $0)
        } raw: {
            $0.rawRepresentation
        }
        let kept = directory.flatMap {
            FileManager.default.contents(atPath: ($0 as NSString).appendingPathComponent(Self.rsaFile))
        }
        self.rsa = BackgroundMade(kept: try kept.map { try _RSA.Signing.PrivateKey(derRepresentation: $0) }) {
            let key = try _RSA.Signing.PrivateKey(keySize: .bits3072)
            // Made in the background: if the key folder was removed meanwhile (the decky torn down), it stays
            // removed rather than coming back with one key in it.
            if let directory { try Self.write(key.derRepresentation, directory, Self.rsaFile, creating: false) }
            return key
        }
    }

    /// The key kept in `directory/file`, or a new one written there (mode 0600); a new one each time without
    /// a directory.
    private static func kept<Key>(
        _ directory: String?,
        _ file: String,
        make: () -> Key,
        load: (Data) throws -> Key,
        raw: (Key) -> Data
    ) throws -> Key {
        guard let directory else { return make() }
        let path = (directory as NSString).appendingPathComponent(file)
        if let data = FileManager.default.contents(atPath: path) { return try load(data) }
        let key = make()
        try Self.write(raw(key), directory, file)
        return key
    }

    /// Writes a key file, readable by its owner only, making its folder first unless told not to (then a
    /// missing folder means the key is not kept).
    private static func write(_ data: Data, _ directory: String, _ file: String, creating: Bool = true) throws {
        let path = (directory as NSString).appendingPathComponent(file)
        if creating {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else if !FileManager.default.fileExists(atPath: directory) {
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
    }

    /// The host key algorithms these keys can sign for.
    static let algorithms: Set<String> = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"]

    static func isRSA(_ algorithm: String) -> Bool { algorithm.hasPrefix("rsa-sha2-") || algorithm == "ssh-rsa" }

    /// Thrown when an RSA signature is asked for before the key is made (the transport waits for it first).
    struct NotReady: Error {}

    /// The public key blob for `algorithm`.
    func blob(_ algorithm: String) throws -> [UInt8] {
        if Self.isRSA(algorithm) { return try self.rsaBlob() }
        return algorithm == "ecdsa-sha2-nistp256" ? self.ecdsaBlob : self.ed25519Blob
    }

    /// A signature blob over the exchange hash for `algorithm`.
    func sign(_ data: [UInt8], algorithm: String) throws -> [UInt8] {
        if Self.isRSA(algorithm) { return try self.signRSA(data, algorithm: algorithm) }
        return algorithm == "ecdsa-sha2-nistp256" ? try self.signECDSA(data) : try self.signEd25519(data)
    }

    /// RFC 4253 §6.6: string "ssh-rsa", mpint e, mpint n.
    func rsaBlob() throws -> [UInt8] {
        guard let key = self.rsa.value else { throw NotReady() }
        let primitives = try key.publicKey.getKeyPrimitives()
        var writer = SSHWriter()
        writer.string("ssh-rsa")
        writer.mpint(unsigned: Array(primitives.publicExponent))
        writer.mpint(unsigned: Array(primitives.modulus))
        return writer.bytes
    }

    /// RFC 8332: PKCS #1 v1.5 over SHA-512 or SHA-256 of the data, named by the algorithm.
    func signRSA(_ data: [UInt8], algorithm: String) throws -> [UInt8] {
        guard let key = self.rsa.value else { throw NotReady() }
        let signature =
            switch algorithm {
            case "rsa-sha2-512": try key.signature(for: SHA512.hash(data: data), padding: .insecurePKCS1v1_5)
            case "rsa-sha2-256": try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
            // Only for proving the key to a client (hostkeys-prove-00), as sshd signs it by default.
            default: try key.signature(for: Insecure.SHA1.hash(data: data), padding: .insecurePKCS1v1_5)
            }
        var writer = SSHWriter()
        writer.string(algorithm)
        writer.string(Array(signature.rawRepresentation))
        return writer.bytes
    }

    /// RFC 5656 §3.1: string "ecdsa-sha2-nistp256", string "nistp256", string Q (uncompressed point).
    var ecdsaBlob: [UInt8] {
        var writer = SSHWriter()
        writer.string("ecdsa-sha2-nistp256")
        writer.string("nistp256")
        writer.string(Array(self.ecdsa.publicKey.x963Representation))
        return writer.bytes
    }

    /// RFC 5656 §3.1.2: the signature (ECDSA over SHA-256 of the data) as string(mpint r ‖ mpint s).
    func signECDSA(_ data: [UInt8]) throws -> [UInt8] {
        let raw = Array(try self.ecdsa.signature(for: data).rawRepresentation)
        var inner = SSHWriter()
        inner.mpint(unsigned: Array(raw.prefix(32)))
        inner.mpint(unsigned: Array(raw.suffix(32)))
        var writer = SSHWriter()
        writer.string("ecdsa-sha2-nistp256")
        writer.string(inner.bytes)
        return writer.bytes
    }

    /// The public key blob (RFC 8709): string "ssh-ed25519", string key.
    var ed25519Blob: [UInt8] {
        var writer = SSHWriter()
        writer.string("ssh-ed25519")
        writer.string(Array(self.ed25519.publicKey.rawRepresentation))
        return writer.bytes
    }

    /// A signature blob over `data`: string "ssh-ed25519", string signature.
    func signEd25519(_ data: [UInt8]) throws -> [UInt8] {
        var writer = SSHWriter()
        writer.string("ssh-ed25519")
        writer.string(Array(try self.ed25519.signature(for: data)))
        return writer.bytes
    }

    /// `SHA256:…` as `ssh-keygen -l` prints it.
    static func fingerprint(_ blob: [UInt8]) -> String {
        "SHA256:" + Data(SHA256.hash(data: blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }
}

/// SSH's wire encodings (RFC 4251 §5).
struct SSHWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { self.bytes.append(value) }
    mutating func bool(_ value: Bool) { self.bytes.append(value ? 1 : 0) }
    mutating func uint32(_ value: UInt32) {
        self.bytes.append(contentsOf: withUnsafeBytes(of: value.bigEndian, Array.init))
    }
    mutating func uint64(_ value: UInt64) {
        self.bytes.append(contentsOf: withUnsafeBytes(of: value.bigEndian, Array.init))
    }
    mutating func string(_ value: [UInt8]) {
        self.uint32(UInt32(value.count))
        self.bytes.append(contentsOf: value)
    }
    mutating func string(_ value: String) { self.string(Array(value.utf8)) }
    /// An unsigned big-endian integer as an mpint: no leading zero bytes, one added when the top bit is set.
    mutating func mpint(unsigned value: [UInt8]) {
        var magnitude = value.drop { $0 == 0 }
        if let first = magnitude.first, first & 0x80 != 0 { magnitude.insert(0, at: magnitude.startIndex) }
        self.string(Array(magnitude))
    }
}

/// Reads SSH's wire encodings from a payload; every read is bounds-checked.
struct SSHReader {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    var isEmpty: Bool { self.bytes.isEmpty }

    mutating func byte() throws -> UInt8 {
        guard let value = self.bytes.popFirst() else { throw SSHWire.ProtocolError("message is truncated") }
        return value
    }

    mutating func bool() throws -> Bool { try self.byte() != 0 }

    mutating func uint32() throws -> UInt32 {
        guard self.bytes.count >= 4 else { throw SSHWire.ProtocolError("message is truncated") }
        let value = self.bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        self.bytes = self.bytes.dropFirst(4)
        return value
    }

    mutating func uint64() throws -> UInt64 {
        let high = UInt64(try self.uint32())
        return high << 32 | UInt64(try self.uint32())
    }

    mutating func string(maximum: Int = 65_536) throws -> [UInt8] {
        let length = Int(try self.uint32())
        guard length <= maximum, self.bytes.count >= length else {
            throw SSHWire.ProtocolError("string of \(length) bytes")
        }
        let value = Array(self.bytes.prefix(length))
        self.bytes = self.bytes.dropFirst(length)
        return value
    }

    mutating func text(maximum: Int = 65_536) throws -> String {
        String(decoding: try self.string(maximum: maximum), as: UTF8.self)
    }
}
