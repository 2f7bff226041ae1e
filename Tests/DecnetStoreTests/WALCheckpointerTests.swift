import DecnetCore
import DecnetTesting
import Foundation
import Synchronization
import Testing

@testable import DecnetStore

/// The store's write-ahead log is copied back into the database file by a checkpointer of its own, not by the
/// committing writer (SQLite's autocheckpoint, which the store's WAL hook replaces): what is committed reaches the
/// file, and a log the background pass does not keep short is checkpointed by the writer itself.
@Suite struct WALCheckpointerTests {
    /// 4,000 login events with distinct passwords (about 1,500 pages of log at SQLite's 4 KiB pages).
    static func entries(_ count: Int, from first: Int = 0) -> [LogEntry] {
        (first..<(first + count)).map { index in
            LogEntry(
                EventStoreTests.event(
                    .loginFailed,
                    from: "198.51.100.\(index % 200)",
                    at: "decky-\(index % 5)",
                    second: Double(index) / 100,
                    [("username", "root"), ("password", "wal-\(index)")]
                )
            )
        }
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test func committedPagesReachTheDatabaseFileFromTheBackground() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("decnet.db").path
        let checkpointer = WALCheckpointer(path: path, backgroundFrames: 200, writerFrames: .max)
        let store = try SQLiteEventStore(path: path, pageCacheBytes: 8 << 20, checkpointer: checkpointer)
        try await store.migrate()
        let before = Self.fileSize(path)
        let result = try await store.ingest(Self.entries(4000), cursor: nil)
        #expect(result.inserted == 4000)
        await store.settle()
        #expect(checkpointer.passes.load(ordering: .relaxed) >= 1)
        // The rows are in the database file itself, not only in the log: a megabyte and more than the schema.
        let after = Self.fileSize(path)
        #expect(after > before + (1 << 20), "database file \(before) → \(after) bytes")
        #expect(try await store.counts()["logs"] == 4000)
    }

    @Test func aLongLogIsCheckpointedByTheWriterWhenTheBackgroundDoesNot() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("decnet.db").path
        // No background pass is ever asked for; past 500 pages the committing connection checkpoints.
        let checkpointer = WALCheckpointer(path: path, backgroundFrames: .max, writerFrames: 500)
        let store = try SQLiteEventStore(path: path, pageCacheBytes: 8 << 20, checkpointer: checkpointer)
        try await store.migrate()
        let before = Self.fileSize(path)
        _ = try await store.ingest(Self.entries(4000), cursor: nil)
        await store.settle()
        #expect(checkpointer.passes.load(ordering: .relaxed) == 0)
        let after = Self.fileSize(path)
        #expect(after > before + (1 << 20), "database file \(before) → \(after) bytes")
    }

    @Test func withNeitherTheLogKeepsTheRows() async throws {
        // The control: with both thresholds out of reach nothing is checkpointed while the store is open, so the
        // growth the tests above see is the checkpointers' doing, not SQLite's.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("decnet.db").path
        let checkpointer = WALCheckpointer(path: path, backgroundFrames: .max, writerFrames: .max)
        let store = try SQLiteEventStore(path: path, pageCacheBytes: 8 << 20, checkpointer: checkpointer)
        try await store.migrate()
        let before = Self.fileSize(path)
        _ = try await store.ingest(Self.entries(4000), cursor: nil)
        await store.settle()
        #expect(Self.fileSize(path) < before + (1 << 20))
        #expect(Self.fileSize(path + "-wal") > 1 << 20)
        #expect(try await store.counts()["logs"] == 4000)
    }
}
