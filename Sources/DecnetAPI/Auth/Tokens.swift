import DecnetStore
import Foundation
import JWTKit
import Synchronization

/// What an API token says: who, with which role, for which password generation, until when.
struct TokenClaims: JWTPayload, Equatable {
    var sub: SubjectClaim
    var role: String
    /// The user's token version when it was issued: a password change raises it, and older tokens stop working.
    var ver: Int
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try self.exp.verifyNotExpired()
    }
}

/// Signs and verifies HS256 tokens, remembering tokens it has verified (until they expire) so a busy dashboard
/// does not pay for HMAC and JSON on every request.
final class TokenService: Sendable {
    let keys: JWTKeyCollection
    let lifetime: TimeInterval
    private let verified = Mutex<[String: TokenClaims]>([:])
    private static let cacheLimit = 10_000

    init(secret: String, lifetime: TimeInterval) async {
        self.keys = JWTKeyCollection()
        await self.keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.lifetime = lifetime
    }

    func issue(for user: APIUser, now: Date = Date()) async throws -> (token: String, expires: Date) {
        let expires = now.addingTimeInterval(self.lifetime)
        let claims = TokenClaims(
            sub: SubjectClaim(value: user.username),
            role: user.role.rawValue,
            ver: user.tokenVersion,
            iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: expires)
        )
        return (try await self.keys.sign(claims), expires)
    }

    /// The claims of a valid, unexpired token, or nil.
    func verify(_ token: String, now: Date = Date()) async -> TokenClaims? {
        if let claims = self.verified.withLock({ $0[token] }) {
            return claims.exp.value > now ? claims : nil
        }
        // A token is three base64url parts; anything longer than a few KiB is not ours.
        guard token.utf8.count < 4096, let claims = try? await self.keys.verify(token, as: TokenClaims.self) else {
            return nil
        }
        self.verified.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[token] = claims
        }
        return claims
    }
}
