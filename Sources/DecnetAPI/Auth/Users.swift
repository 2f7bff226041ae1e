import DecnetStore
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// The API's users: bcrypt hashes in the store, the first admin created from `DECNET_ADMIN_USER` /
/// `DECNET_ADMIN_PASSWORD` with a forced password change, and a short-lived cache so that checking a token's
/// user is not a database read per request.
final class UserDirectory: Sendable {
    let store: any EventStore
    let cost: UInt8
    private let cache = Mutex<[String: (user: APIUser?, read: ContinuousClock.Instant)]>([:])
    /// How long a cached user stands; a change made by another API process is seen within this time.
    static let cacheLifetime: Duration = .seconds(5)
    static let minimumPasswordLength = 8

    init(store: any EventStore, cost: UInt8) {
        self.store = store
        self.cost = cost
    }

    /// Creates the first admin when there are no users at all.
    func bootstrap(admin username: String, password: String) async throws -> Bool {
        guard try await self.store.users().isEmpty else { return false }
        let hash = await self.hash(password)
        return try await self.store.createUser(
            APIUser(username: username, passwordHash: hash, role: .admin, mustChangePassword: true)
        )
    }

    func user(_ username: String) async throws -> APIUser? {
        let now = ContinuousClock.now
        if let entry = self.cache.withLock({ $0[username] }), now - entry.read < Self.cacheLifetime {
            return entry.user
        }
        let user = try await self.store.user(named: username)
        self.cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[username] = (user, now)
        }
        return user
    }

    func forget(_ username: String) { self.cache.withLock { _ = $0.removeValue(forKey: username) } }

    /// bcrypt is slow on purpose: it runs on NIO's blocking pool, not on an event loop or the cooperative pool.
    func hash(_ password: String) async -> String {
        let cost = self.cost
        return (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) })
            ?? Bcrypt.hash(password, cost: cost)
    }

    func verify(_ password: String, hash: String) async -> Bool {
        (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }) ?? false
    }

    /// Why a new password is refused, if it is.
    static func problem(newPassword: String, username: String) -> String? {
        if newPassword.count < Self.minimumPasswordLength {
            return "the new password needs at least \(Self.minimumPasswordLength) characters"
        }
        if newPassword.utf8.count > 72 { return "the new password is longer than bcrypt's 72 bytes" }
        if newPassword == username { return "the new password must differ from the username" }
        return nil
    }

    /// Why a username is refused, if it is.
    static func problem(username: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
        if username.isEmpty || username.count > 64 || !username.allSatisfy(allowed.contains) {
            return "a username is 1 to 64 letters, digits and . _ - @"
        }
        return nil
    }
}

/// Failed logins per client address and per username in a sliding window: past the limit, logins answer 429
/// with Retry-After until the window has room again.
final class LoginLimiter: Sendable {
    let attempts: Int
    let window: TimeInterval
    private let failures = Mutex<[String: [Date]]>([:])

    init(attempts: Int, window: TimeInterval) {
        self.attempts = attempts
        self.window = window
    }

    /// Seconds to wait before another attempt, or nil when one may be made now.
    func retryAfter(ip: String, username: String, now: Date = Date()) -> Int? {
        self.failures.withLock { failures in
            var wait: TimeInterval = 0
            for key in ["ip:" + ip, "user:" + username] {
                let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < self.window }
                failures[key] = recent.isEmpty ? nil : recent
                if recent.count >= self.attempts, let oldest = recent.first {
                    wait = max(wait, self.window - now.timeIntervalSince(oldest))
                }
            }
            return wait > 0 ? max(1, Int(wait.rounded(.up))) : nil
        }
    }

    func failed(ip: String, username: String, now: Date = Date()) {
        self.failures.withLock { failures in
            if failures.count > 100_000 { failures.removeAll() }
            failures["ip:" + ip, default: []].append(now)
            failures["user:" + username, default: []].append(now)
        }
    }

    func succeeded(ip: String, username: String) {
        self.failures.withLock { failures in
            failures["user:" + username] = nil
        }
    }
}
