import DecnetStore
import DecnetTesting
import Foundation
import GRDB
import Testing

/// Two processes on one SQLite file (the workers and the API under systemd start together): one that finds the
/// other holding the write lock waits for it instead of failing with "database is locked".
@Suite struct SQLiteSharingTests {
    @Test func aMigrationWaitsForAnotherConnectionsWriteLock() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("decnet.db").path
        // Another process's store (its own pool, in WAL mode like ours) holds the write lock for a second. The test
        // goes on only once it holds it: on a loaded machine the holder's task can start after the migration.
        let other = try DatabasePool(path: path)
        let (held, signal) = AsyncStream.makeStream(of: Void.self)
        let holding = Task {
            try await other.write { db in
                try db.execute(sql: "CREATE TABLE holder (x INTEGER)")
                signal.yield()
                Thread.sleep(forTimeInterval: 1)
            }
        }
        for await _ in held { break }
        // Opening the store may already wait (it reads the schema); opening and migrating together wait.
        let start = ContinuousClock.now
        let store = try SQLiteEventStore(path: path)
        try await store.migrate()
        #expect(ContinuousClock.now - start > .milliseconds(300), "it waited for the lock")
        try await holding.value
        #expect(try await store.counts()["logs"] == 0)
    }
}
