import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Fault injection on the store under a running ingester (issue 25): its SQLite file locked by another process for
/// longer than the busy timeout, and its file removed. Each ends in a recovery, reported on stderr, with every
/// event of the log in the store exactly once and the workers still running.
@Suite(.serialized) struct StoreFaultTests {
    /// `decnet workers start --foreground` on `log`, its stderr in `directory/workers.err`.
    static func startWorkers(_ binary: URL, log: String, in directory: TemporaryDirectory) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["workers", "start", "--foreground", "--log-file", log]
        process.environment = ProcessInfo.processInfo.environment.merging(IngestCrashTests.environment(directory)) {
            $1
        }
        process.standardOutput = FileHandle.nullDevice
        let errors = directory.path + "/workers.err"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
        return process
    }

    static func append(_ range: Range<Int>, to log: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: log))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(range.map { IngestCrashTests.event($0) + "\n" }.joined().utf8))
    }

    /// The rows of `logs` once the store's file exists (opening a missing one would make it), polled until `want`
    /// or the deadline.
    static func stored(_ path: String, want: Int, within seconds: Int = 60) async throws -> Int? {
        var rows: Int?
        for _ in 0..<(seconds * 5) {
            if FileManager.default.fileExists(atPath: path) {
                rows = try? await SQLiteEventStore(path: path, pageCacheBytes: 1 << 20).counts()["logs"]
                if rows == want { return rows }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return rows
    }

    /// A log of 500 events and the workers running on it, once they have stored all 500.
    static func workersWithFiveHundredStored(
        _ binary: URL,
        in directory: TemporaryDirectory
    ) async throws -> (log: String, database: String, workers: Process) {
        let log = directory.path + "/decnet.log"
        let database = directory.path + "/decnet.db"
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        try Self.append(0..<500, to: log)
        let workers = try Self.startWorkers(binary, log: log, in: directory)
        #expect(try await Self.stored(database, want: 500) == 500)
        return (log, database, workers)
    }

    static func stop(_ workers: Process) async -> Int32 {
        kill(workers.processIdentifier, SIGTERM)
        await EngineFaultTests.onThread { workers.waitUntilExit() }
        return workers.terminationStatus
    }

    @Test func aStoreLockedPastTheBusyTimeoutHoldsTheIngesterBackAndLosesNothing() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let python = try #require(ExternalTool.python3.path)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (log, database, workers) = try await Self.workersWithFiveHundredStored(binary, in: directory)
        defer { if workers.isRunning { kill(workers.processIdentifier, SIGKILL) } }

        // Another process takes the write lock and keeps it until the ingester has given up waiting for it (its
        // busy timeout, 15 s), whatever the machine's load.
        let marker = directory.path + "/locked"
        let release = directory.path + "/release"
        let errorsPath = directory.path + "/workers.err"
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: python)
        locker.arguments = [
            "-c",
            """
            import os, sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            db.execute("BEGIN EXCLUSIVE")
            open(sys.argv[2], "w").close()
            for _ in range(1200):
                if os.path.exists(sys.argv[3]):
                    break
                time.sleep(0.1)
            db.execute("COMMIT")
            """,
            database, marker, release,
        ]
        try locker.run()
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: marker) {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(FileManager.default.fileExists(atPath: marker), "the lock was never taken")
        try Self.append(500..<1000, to: log)
        let reported = {
            ((try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? "").contains("database is locked")
        }
        for _ in 0..<600 where !reported() { try await Task.sleep(for: .milliseconds(100)) }
        #expect(reported(), "the ingester never gave up on the lock")
        #expect(FileManager.default.createFile(atPath: release, contents: nil))
        // Waited for on a thread of its own, off the cooperative pool the other tests share.
        await EngineFaultTests.onThread { locker.waitUntilExit() }
        #expect(locker.terminationStatus == 0)

        // The ingester gave up on the lock, opened the store again and stored the rest, once.
        #expect(try await Self.stored(database, want: 1000) == 1000)
        #expect(workers.isRunning, "the workers exited")
        let errors = try String(contentsOfFile: directory.path + "/workers.err", encoding: .utf8)
        #expect(errors.contains("database is locked"), "\(errors)")
        #expect(errors.contains("the store is open again"), "\(errors)")
        #expect(await Self.stop(workers) == 0)
    }

    @Test func aStoreRemovedUnderTheIngesterIsMadeAgainAndTheLogReadIntoIt() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (log, database, workers) = try await Self.workersWithFiveHundredStored(binary, in: directory)
        defer { if workers.isRunning { kill(workers.processIdentifier, SIGKILL) } }

        // The operator (or a clean-up job) removes the store while the ingester has it open; events go on.
        for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
        try Self.append(500..<1000, to: log)

        // Writing on into the unlinked file would lose them: the ingester sees the file gone, makes a new store
        // and reads the log into it from its start, so the new store holds all of it, once.
        #expect(try await Self.stored(database, want: 1000) == 1000)
        #expect(workers.isRunning, "the workers exited")
        let errors = try String(contentsOfFile: directory.path + "/workers.err", encoding: .utf8)
        #expect(errors.contains("the store's file \(database) was removed while it was open"), "\(errors)")
        #expect(errors.contains("the store is open again"), "\(errors)")
        #expect(await Self.stop(workers) == 0)
    }
}
