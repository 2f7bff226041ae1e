import Crypto
import DecnetConfig
import Foundation

/// The key that signs API tokens, checked before the API starts: a missing, short or published example secret
/// would let anyone mint an admin token.
public enum APISecret {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Secrets published in the seed's docs and in our `.env.example`.
    static let examples: Set<String> = [DecnetEnvironment.exampleJWTSecret, "change-me-to-64-hex-chars"]
    /// HS256 wants a key at least as long as its output.
    public static let minimumBytes = 32

    /// The secret to sign with, or why the API must not start. In developer mode a missing secret becomes a random
    /// one for this process (tokens die with it).
    public static func resolve(_ secret: String?, developer: Bool) throws -> (secret: String, generated: Bool) {
        guard let secret, !secret.isEmpty else {
            if developer { return (Self.random(), true) }
            throw Refused(
                description:
                    "DECNET_JWT_SECRET is not set; the API will not start without it (`decnet init` writes one "
                    + "into .env.local; DECNET_DEVELOPER=true starts with a throwaway key)"
            )
        }
        if Self.examples.contains(secret) {
            throw Refused(
                description: "DECNET_JWT_SECRET is the published example value; set a secret of your own "
                    + "(openssl rand -hex 32)"
            )
        }
        if secret.utf8.count < Self.minimumBytes {
            throw Refused(
                description: "DECNET_JWT_SECRET is \(secret.utf8.count) bytes; it needs at least \(Self.minimumBytes) "
                    + "(openssl rand -hex 32)"
            )
        }
        return (secret, false)
    }

    /// 32 random bytes as 64 hex characters.
    public static func random() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
    }
}
