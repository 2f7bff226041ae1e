import Crypto
import Foundation

/// Signed `decnet` releases for `decnet updater push`: an Ed25519 signature over the binary's SHA-256, made with
/// the master's release key and checked by each agent against the public key it was given with its identity
/// (`updater.pub`, written by `decnet swarm add`). The control channel's mutual TLS already says the master sent
/// a binary; the signature says the binary is one the master's key signed, so a binary changed on the master's
/// disk after signing, or a signature from any other key, is refused before anything runs.
public enum ReleaseSigning {
    /// The file holding the release public key, beside an agent's cert.pem, key.pem and ca.crt.
    public static let publicKeyFile = "updater.pub"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// What is signed: a fixed context and the digest in hex, so a signature made for anything else never passes.
    static func message(sha256: String) -> Data {
        Data("decnet-release-v1\nsha256:\(sha256.lowercased())\n".utf8)
    }

    /// The SHA-256 of a file, read a megabyte at a time, in hex.
    public static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return Self.hex(hasher.finalize())
    }

    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// A signature (base64) of the binary whose SHA-256 is `sha256`.
    public static func sign(sha256: String, key: Curve25519.Signing.PrivateKey) throws -> String {
        try key.signature(for: Self.message(sha256: sha256)).base64EncodedString()
    }

    /// Whether `signature` (base64) is `key`'s signature of the binary whose SHA-256 is `sha256`.
    public static func verify(sha256: String, signature: String, key: Curve25519.Signing.PublicKey) -> Bool {
        guard let bytes = Data(base64Encoded: signature.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return false
        }
        return key.isValidSignature(bytes, for: Self.message(sha256: sha256))
    }

    /// The master's release key in `directory` (`signing.key`, mode 0600, and `updater.pub`), made on first use.
    public static func masterKey(in directory: String) throws -> Curve25519.Signing.PrivateKey {
        let keyPath = (directory as NSString).appendingPathComponent("signing.key")
        let publicPath = (directory as NSString).appendingPathComponent(Self.publicKeyFile)
        if let text = try? String(contentsOfFile: keyPath, encoding: .utf8) {
            guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
                let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
            else { throw Failure("\(keyPath) is not an Ed25519 release key (base64 of 32 bytes)") }
            return key
        }
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let key = Curve25519.Signing.PrivateKey()
        guard
            FileManager.default.createFile(
                atPath: keyPath,
                contents: Data((key.rawRepresentation.base64EncodedString() + "\n").utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw Failure("cannot write \(keyPath)") }
        try Self.write(key.publicKey, to: publicPath)
        return key
    }

    /// Writes a public key file (base64 of its 32 bytes).
    public static func write(_ key: Curve25519.Signing.PublicKey, to path: String) throws {
        try (key.rawRepresentation.base64EncodedString() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Reads a public key file.
    public static func publicKey(at path: String) throws -> Curve25519.Signing.PublicKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure("\(path) does not exist (decnet swarm add writes it into the agent's identity)")
        }
        guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else { throw Failure("\(path) is not an Ed25519 public key (base64 of 32 bytes)") }
        return key
    }

    /// Signs with the master's release key in `keyDirectory` (made on first use).
    public static func sign(sha256: String, keyDirectory: String) throws -> String {
        try Self.sign(sha256: sha256, key: Self.masterKey(in: keyDirectory))
    }

    /// Writes the public half of the master's release key in `keyDirectory` (made on first use) to `path`.
    public static func exportPublicKey(keyDirectory: String, to path: String) throws {
        try Self.write(Self.masterKey(in: keyDirectory).publicKey, to: path)
    }

    /// Checks a signature against the public key file at `keyFile`; throws when the key cannot be read.
    public static func verify(sha256: String, signature: String, keyFile: String) throws -> Bool {
        Self.verify(sha256: sha256, signature: signature, key: try Self.publicKey(at: keyFile))
    }
}
