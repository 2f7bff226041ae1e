import Foundation
import NIOCore
import Synchronization
import Testing

@testable import DecnetAPI

@Suite("The read routes' micro-cache")
struct ResponseCacheTests {
    @Test("Concurrent requests for one URL cost one computation; it is made again after the lifetime")
    func oneComputationPerLifetime() async throws {
        let cache = ResponseCache(lifetime: .milliseconds(300))
        let made = Atomic<Int>(0)
        let make: @Sendable () async throws -> ByteBuffer = {
            made.add(1, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(50))
            return ByteBuffer(string: "answer")
        }
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<200 { group.addTask { String(buffer: try await cache.bytes("/api/v1/stats", make)) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(answers.count == 200 && Set(answers) == ["answer"])
        #expect(made.load(ordering: .relaxed) == 1)
        _ = try await cache.bytes("/api/v1/attackers", make)
        #expect(made.load(ordering: .relaxed) == 2, "another URL is another entry")
        try await Task.sleep(for: .milliseconds(400))
        _ = try await cache.bytes("/api/v1/stats", make)
        #expect(made.load(ordering: .relaxed) == 3, "expired entries are made again")
    }

    @Test("A failure is not kept; a zero lifetime computes every time")
    func failuresAreNotCached() async throws {
        struct Boom: Error {}
        let cache = ResponseCache(lifetime: .seconds(60))
        let calls = Atomic<Int>(0)
        await #expect(throws: Boom.self) {
            _ = try await cache.bytes("k") {
                calls.add(1, ordering: .relaxed)
                throw Boom()
            }
        }
        let value = try await cache.bytes("k") {
            calls.add(1, ordering: .relaxed)
            return ByteBuffer(string: "ok")
        }
        #expect(String(buffer: value) == "ok" && calls.load(ordering: .relaxed) == 2)
        let off = ResponseCache(lifetime: .zero)
        for _ in 0..<3 {
            _ = try await off.bytes("k") {
                calls.add(1, ordering: .relaxed)
                return ByteBuffer()
            }
        }
        #expect(calls.load(ordering: .relaxed) == 5)
    }
}
