import Crypto
import Foundation

/// A decky's SSH host keys, made once and kept in its key directory, so a returning attacker (and their
/// `known_hosts`) sees the same keys after the engine restarts. Without a directory they are made per start.
struct SSHHostKeys: Sendable {
    static let ed25519File = "ssh-host-ed25519.key"

    let ed25519: Curve25519.Signing.PrivateKey

    init(directory: String?) throws {
        guard let directory else {
            self.ed25519 = Curve25519.Signing.PrivateKey()
            return
        }
        let path = (directory as NSString).appendingPathComponent(Self.ed25519File)
        if let data = FileManager.default.contents(atPath: path) {
            self.ed25519 = try Curve25519.Signing.PrivateKey(rawRepresentation: data)
            return
        }
        let key = Curve25519.Signing.PrivateKey()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard
            FileManager.default.createFile(
                atPath: path,
                contents: key.rawRepresentation,
                attributes: [.posixPermissions: 0o600]
            )
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path]) }
        self.ed25519 = key
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
