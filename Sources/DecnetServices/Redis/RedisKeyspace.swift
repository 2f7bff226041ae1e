import Foundation
import Synchronization

/// The fake keyspace and configuration of one Redis decky, shared by its connections and bounded: at most
/// `maximumKeys` keys and `maximumBytes` of values, after which writes get Redis's OOM error.
final class RedisKeyspace: Sendable {
    static let maximumKeys = 10_000
    static let maximumBytes = 16 << 20

    private struct Contents {
        var values: [[UInt8]: [UInt8]]
        var bytes: Int
        var config: [String: [UInt8]]
        var clientID: Int
    }

    private let contents: Mutex<Contents>
    let startTime: Date

    init(seed: [String: String], config: [String: String], startTime: Date = Date()) {
        var values: [[UInt8]: [UInt8]] = [:]
        for (key, value) in seed { values[Array(key.utf8)] = Array(value.utf8) }
        self.contents = Mutex(
            Contents(
                values: values,
                bytes: values.reduce(0) { $0 + $1.key.count + $1.value.count },
                config: config.mapValues { Array($0.utf8) },
                clientID: 2
            )
        )
        self.startTime = startTime
    }

    var count: Int { self.contents.withLock { $0.values.count } }

    func value(for key: [UInt8]) -> [UInt8]? { self.contents.withLock { $0.values[key] } }

    /// Stores a value unless the keyspace is full.
    func set(_ key: [UInt8], _ value: [UInt8]) -> Bool {
        self.contents.withLock { contents in
            let previous = contents.values[key].map { $0.count + key.count } ?? 0
            let after = contents.bytes - previous + key.count + value.count
            guard after <= Self.maximumBytes, previous > 0 || contents.values.count < Self.maximumKeys else {
                return false
            }
            contents.values[key] = value
            contents.bytes = after
            return true
        }
    }

    func delete(_ keys: [[UInt8]]) -> Int {
        self.contents.withLock { contents in
            var removed = 0
            for key in keys {
                if let value = contents.values.removeValue(forKey: key) {
                    contents.bytes -= key.count + value.count
                    removed += 1
                }
            }
            return removed
        }
    }

    func flush() {
        self.contents.withLock {
            $0.values = [:]
            $0.bytes = 0
        }
    }

    func keys(matching pattern: [UInt8]) -> [[UInt8]] {
        self.contents.withLock { contents in
            contents.values.keys.filter { GlobPattern.matches(pattern, $0) }.sorted { $0.lexicographicallyPrecedes($1) }
        }
    }

    func config(matching pattern: [UInt8], password: String?) -> [(String, [UInt8])] {
        self.contents.withLock { contents in
            var all = contents.config
            all["requirepass"] = Array((password ?? "").utf8)
            return all.keys.sorted().filter { GlobPattern.matches(pattern, Array($0.utf8)) }.map { ($0, all[$0]!) }
        }
    }

    /// Accepts the parameters an attacker's chain sets (dir, dbfilename, …); unknown names are refused as Redis does.
    func setConfig(_ name: String, _ value: [UInt8]) -> Bool {
        self.contents.withLock { contents in
            guard contents.config[name] != nil || name == "requirepass" else { return false }
            contents.config[name] = value
            return true
        }
    }

    func nextClientID() -> Int {
        self.contents.withLock {
            $0.clientID += 1
            return $0.clientID
        }
    }
}

/// Redis-style glob matching (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes) on bytes, iterative so that hostile
/// patterns cannot recurse deeply.
enum GlobPattern {
    static func matches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var p = 0
        var t = 0
        var starP = -1
        var starT = 0
        while t < text.count {
            if p < pattern.count {
                switch pattern[p] {
                case UInt8(ascii: "*"):
                    starP = p
                    starT = t
                    p += 1
                    continue
                case UInt8(ascii: "?"):
                    p += 1
                    t += 1
                    continue
                case UInt8(ascii: "["):
                    if let (matched, next) = self.matchClass(pattern, p, text[t]) {
                        if matched {
                            p = next
                            t += 1
                            continue
                        }
                    } else if text[t] == UInt8(ascii: "[") {
                        p += 1
                        t += 1
                        continue
                    }
                case UInt8(ascii: "\\") where p + 1 < pattern.count:
                    if pattern[p + 1] == text[t] {
                        p += 2
                        t += 1
                        continue
                    }
                default:
                    if pattern[p] == text[t] {
                        p += 1
                        t += 1
                        continue
                    }
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starT += 1
            t = starT
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Matches `[...]` at `start`; returns whether `byte` is in the class and where the pattern continues, or nil
    /// for an unterminated class.
    private static func matchClass(_ pattern: [UInt8], _ start: Int, _ byte: UInt8) -> (Bool, Int)? {
        var index = start + 1
        var negate = false
        if index < pattern.count && pattern[index] == UInt8(ascii: "^") {
            negate = true
            index += 1
        }
        var matched = false
        while index < pattern.count && pattern[index] != UInt8(ascii: "]") {
            if pattern[index] == UInt8(ascii: "\\") && index + 1 < pattern.count {
                if pattern[index + 1] == byte { matched = true }
                index += 2
            } else if index + 2 < pattern.count && pattern[index + 1] == UInt8(ascii: "-")
                && pattern[index + 2] != UInt8(ascii: "]")
            {
                let low = min(pattern[index], pattern[index + 2])
                let high = max(pattern[index], pattern[index + 2])
                if (low...high).contains(byte) { matched = true }
                index += 3
            } else {
                if pattern[index] == byte { matched = true }
                index += 1
            }
        }
        guard index < pattern.count else { return nil }
        return (matched != negate, index + 1)
    }
}
