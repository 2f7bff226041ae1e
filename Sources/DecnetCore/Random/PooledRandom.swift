import CDecnetLinux
import Synchronization

/// Random numbers from the kernel, as `SystemRandomNumberGenerator` gives them, fetched 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes a getrandom(2) call for every `next()`: an event's UUID took two, a MySQL
/// greeting's salt twenty, and those system calls were a twentieth of a connection's CPU in bench/compare.sh.
/// This generator hands out words of a shared pool that one getrandom call refills, so the numbers are the
/// same kernel randomness (fit for challenges, salts and nonces) at a lock's cost. A word is zeroed once handed
/// out, so the pool never holds what it has given.
public struct PooledRandom: RandomNumberGenerator {
    public init() {}

    public mutating func next() -> UInt64 { RandomPool.shared.next() }

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = PooledRandom()
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            var word = generator.next()
            for _ in 0..<min(8, count - out.count) {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
    }
}

/// The shared pool behind `PooledRandom`.
final class RandomPool: Sendable {
    static let shared = RandomPool()

    /// Words fetched per refill (4 KiB).
    static let capacity = 512

    private struct Words {
        var words = [UInt64](repeating: 0, count: RandomPool.capacity)
        var next = RandomPool.capacity
    }

    private let pool = Mutex(Words())

    func next() -> UInt64 {
        self.pool.withLock { pool in
            if pool.next == pool.words.count {
                let failed = pool.words.withUnsafeMutableBytes { decnet_random_bytes($0.baseAddress, $0.count) }
                if failed != 0 {
                    // getrandom refused (a seccomp filter, say): the standard generator, word by word.
                    var system = SystemRandomNumberGenerator()
                    for index in pool.words.indices { pool.words[index] = system.next() }
                }
                pool.next = 0
            }
            defer {
                pool.words[pool.next] = 0
                pool.next += 1
            }
            return pool.words[pool.next]
        }
    }
}
