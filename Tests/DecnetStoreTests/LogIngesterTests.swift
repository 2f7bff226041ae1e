import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Synchronization
import Testing

/// The ingester against a real log file and a real SQLite file: every event exactly once, whatever the
/// restarts, bad lines reported and skipped, a replaced log read to its end.
@Suite struct LogIngesterTests {
    static func lines(_ count: Int, from: Int = 0) -> [String] {
        (from..<from + count).map { index in
            RFC5424Formatter.line(
                for: EventStoreTests.event(
                    .loginFailed,
                    from: "10.77.0.\(index % 7 + 1)",
                    at: "decky-\(index % 3)",
                    second: Double(index),
                    [("username", "root"), ("password", "pw-\(index)")]
                )
            )
        }
    }

    static func append(_ lines: [String], to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
        }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(lines.map { $0 + "\n" }.joined().utf8))
        try handle.close()
    }

    @Test func everyEventOnceAcrossRestartsAndBadLinesSkipped() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.url.appendingPathComponent("decnet.log").path
        let store = try SQLiteEventStore(path: directory.url.appendingPathComponent("decnet.db").path)
        try await store.migrate()
        try Self.append(Self.lines(700), to: log)
        try Self.append(["garbage", "<13>1 2026-11-21T18:00:00Z h a - m -"], to: log)
        try Self.append(Self.lines(300, from: 700), to: log)
        var ingester = LogIngester(path: log, store: store)
        ingester.batchSize = 128
        let first = try await ingester.run(follow: false)
        #expect(first.inserted == 1000 && first.rejected == 2 && first.duplicates == 0)
        // A restart reads nothing twice; new lines are picked up.
        try Self.append(Self.lines(50, from: 1000), to: log)
        let second = try await LogIngester(path: log, store: store).run(follow: false)
        #expect(second.inserted == 50 && second.rejected == 0 && second.duplicates == 0)
        #expect(try await store.counts()["logs"] == 1050)
        // A lost cursor (a new database file would have none) replays the log; stored events stay single.
        try await store.reset()
        let written = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").prefix(10).map(
            String.init
        )
        _ = try await store.ingest(
            written.map { LogEntry(event: try RFC5424Parser.event(from: $0), line: $0) },
            cursor: nil
        )
        let replay = try await LogIngester(path: log, store: store).run(follow: false)
        #expect(replay.inserted == 1040 && replay.duplicates == 10, "\(replay)")
        #expect(try await store.counts()["logs"] == 1050)
    }

    /// What the bus gets: every event stored for the first time, once and in the log's order, across batches
    /// written while the next is parsed; events already stored are not handed on again.
    @Test func freshEventsHandedOnOnceInOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.url.appendingPathComponent("decnet.log").path
        let store = try SQLiteEventStore(path: directory.url.appendingPathComponent("decnet.db").path)
        try await store.migrate()
        let lines = Self.lines(2_000)
        try Self.append(lines, to: log)
        // Every seventh event is in the store already (an earlier run that lost its cursor).
        let early = stride(from: 0, to: lines.count, by: 7).map { lines[$0] }
        let before = try await store.ingest(
            early.map { LogEntry(event: try RFC5424Parser.event(from: $0), line: $0) },
            cursor: nil
        )
        #expect(before.fresh.map(\.uuid) == early.map { try! RFC5424Parser.event(from: $0).uuid })
        let handed = Mutex<[[HoneypotEvent]]>([])
        var ingester = LogIngester(path: log, store: store)
        ingester.batchSize = 100
        ingester.stored = { events in handed.withLock { $0.append(events) } }
        let progress = try await ingester.run(follow: false)
        #expect(progress.inserted == 2_000 - early.count && progress.duplicates == early.count)
        let expected = lines.indices.filter { $0 % 7 != 0 }.map { try! RFC5424Parser.event(from: lines[$0]).uuid }
        let batches = handed.withLock { $0 }
        #expect(batches.count > 10 && batches.allSatisfy { !$0.isEmpty })
        #expect(batches.flatMap { $0.map(\.uuid) } == expected)
    }

    @Test func followingPicksUpNewLinesAndAReplacedLog() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.url.appendingPathComponent("decnet.log").path
        let store = try SQLiteEventStore(path: directory.url.appendingPathComponent("decnet.db").path)
        try await store.migrate()
        try Self.append(Self.lines(20), to: log)
        var ingester = LogIngester(path: log, store: store)
        ingester.pollInterval = .milliseconds(20)
        let following = Task { [ingester] in try await ingester.run(follow: true) }
        func waitFor(_ count: Int) async throws -> Bool {
            for _ in 0..<250 {
                if try await store.counts()["logs"] == count { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
        #expect(try await waitFor(20))
        // A partial line waits for its end.
        let next = Self.lines(1, from: 20)[0]
        let handle = try #require(FileHandle(forWritingAtPath: log))
        handle.seekToEndOfFile()
        handle.write(Data(next.prefix(40).utf8))
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await store.counts()["logs"] == 20)
        handle.write(Data((next.dropFirst(40) + "\n").utf8))
        try handle.close()
        #expect(try await waitFor(21))
        // Rotation: the old file gets its last lines, then the new file is read from its start.
        try Self.append(Self.lines(5, from: 21), to: log)
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        try Self.append(Self.lines(9, from: 26), to: log)
        #expect(try await waitFor(35))
        following.cancel()
        let progress = try await following.value
        #expect(progress.inserted == 35 && progress.rejected == 0)
    }
}
