import DecnetStore
import DecnetTesting
import Dispatch
import Foundation
import GRDB
import Synchronization
import Testing

/// Two processes on one SQLite file (the workers and the API under systemd start together): one that finds the
/// other holding the write lock waits for it instead of failing with "database is locked".
@Suite struct SQLiteSharingTests {
    @Test func aMigrationWaitsForAnotherConnectionsWriteLock() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("decnet.db").path
        // Another process's store (its own pool, in WAL mode like ours) holds the write lock until the test lets
        // go. Nothing here is timed: on a loaded machine any task may start late.
        let other = try DatabasePool(path: path)
        let (held, signal) = AsyncStream.makeStream(of: Void.self)
        let release = DispatchSemaphore(value: 0)
        let holding = Task {
            try await other.write { db in
                try db.execute(sql: "CREATE TABLE holder (x INTEGER)")
                signal.yield()
                _ = release.wait(timeout: .now() + 60)
            }
        }
        for await _ in held { break }
        let finished = Atomic<Bool>(false)
        let migration = Task {
            let store = try SQLiteEventStore(path: path)
            try await store.migrate()
            finished.store(true, ordering: .relaxed)
            return store
        }
        try await Task.sleep(for: .milliseconds(500))
        let early = finished.load(ordering: .relaxed)
        #expect(!early, "the migration cannot finish while the other holds the lock")
        release.signal()
        let store = try await migration.value
        try await holding.value
        #expect(try await store.counts()["logs"] == 0)
    }
}
