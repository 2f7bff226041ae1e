import DecnetCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Tails the RFC 5424 event log into the store (the seed's ingester). Its position is a durable cursor (file
/// inode and byte offset) committed in the same transaction as the events it covers, so after a crash it goes on
/// from the last committed batch: an event is never skipped, and one read twice is stored once (by uuid). A
/// line that is not a valid event is counted and reported, never stored. It follows the log across rotations
/// (`LogTail`): a rotated generation is read to its end before the next.
///
/// Its reads block, briefly: run it on a thread that may block (`BlockingIOExecutor`).
public struct LogIngester: Sendable {
    public struct Progress: Sendable, Equatable, Codable {
        public var inserted = 0
        public var duplicates = 0
        public var rejected = 0
        public var batches = 0

        public init() {}

        public mutating func add(_ other: Progress) {
            self.inserted += other.inserted
            self.duplicates += other.duplicates
            self.rejected += other.rejected
            self.batches += other.batches
        }
    }

    public let path: String
    public let store: any EventStore
    public var batchSize = 20000
    /// The first batch of a backlog (see `run`).
    static let firstBatch = 1000
    public var pollInterval: Duration = .milliseconds(100)
    /// Called for each rejected line and on rotation, for the operator's log.
    public var report: @Sendable (String) -> Void = { _ in }
    /// Called after each committed batch with the totals so far.
    public var progress: @Sendable (Progress) -> Void = { _ in }
    /// Called after each committed batch with the events it stored for the first time (for the bus).
    public var stored: @Sendable ([HoneypotEvent]) -> Void = { _ in }

    public init(path: String, store: any EventStore) {
        self.path = path
        self.store = store
    }

    /// Reads what the log holds; with `follow`, keeps tailing until the task is cancelled.
    @discardableResult
    public func run(follow: Bool) async throws -> Progress {
        var progress = Progress()
        let saved = try await self.store.cursor(for: self.path)
        var tail: LogTail
        do {
            tail = try LogTail(
                path: self.path,
                from: saved.map { LogTail.Position(inode: $0.inode, offset: $0.offset) },
                maximumLineLength: RFC5424Parser.maximumLength
            )
        } catch {
            throw IngestError("\(error)")
        }
        if let lost = tail.lostPosition {
            self.report(
                "\(self.path): the file of the saved position (inode \(lost.inode)) is gone; reading what is left"
            )
        }
        let report = self.report
        let path = self.path
        tail.skipped = { start, length in
            report(
                "\(path) (inode \(start.inode)) at byte \(start.offset): line of \(length) bytes, longer than an event"
            )
        }
        var entries: [LogEntry] = []
        entries.reserveCapacity(self.batchSize)
        // A backlog is read in batches that double from `firstBatch` up to `batchSize`: the writer starts on the
        // first while the second is parsed, instead of waiting for a whole batch of parsing before its first write.
        var batchLimit = min(self.batchSize, Self.firstBatch)
        var end: LogTail.Position?
        // One batch is written while the next is read and parsed (the store writes on its own thread), and the
        // batch written before it is handed to `stored` (the bus) beside both: batches are committed in order,
        // so the cursor only ever moves forward, and handed on in order, at most one behind.
        var writing: Task<(Progress, IngestResult), any Error>?
        var handing: Task<Void, Never>?
        /// Counts a committed batch and hands its new events to `stored` once the batch before it was handed.
        func handOn(_ done: Progress, _ result: IngestResult) async {
            progress.add(done)
            self.progress(progress)
            await handing?.value
            handing = result.inserted == 0 ? nil : Task { [stored = self.stored] in stored(result.fresh) }
        }
        func finishWriting() async throws {
            guard let previous = writing else { return }
            writing = nil
            let (done, result) = try await previous.value
            await handOn(done, result)
        }
        func commit(_ batch: [LogEntry], through position: LogTail.Position) async throws {
            // The writer starts on this batch as soon as the last one is committed, before the bus has taken the
            // one before: waiting on the bus first left the writer idle 20–50 ms at every batch.
            let previous = try await writing?.value
            writing = Task { [self] in try await self.store(batch, through: position) }
            guard let (done, result) = previous else { return }
            // The new task only has to reach the writer's queue, but it needs a thread of the pool for that, and
            // parsing the next batch does not suspend: a yield lets it go first.
            await Task.yield()
            await handOn(done, result)
        }
        do {
            while !Task.isCancelled {
                let line: LogTail.Line?
                do { line = try tail.next() } catch { throw IngestError("\(error)") }
                if let line {
                    if !line.bytes.isEmpty {
                        do {
                            let event = try RFC5424Parser.event(from: line.bytes)
                            entries.append(LogEntry(event: event, line: line.bytes))
                        } catch {
                            progress.rejected += 1
                            self.report(
                                "\(self.path) (inode \(line.start.inode)) at byte \(line.start.offset): not an event (\(error))"
                            )
                        }
                    }
                    end = line.end
                    if entries.count >= batchLimit {
                        try await commit(entries, through: line.end)
                        entries.removeAll(keepingCapacity: true)
                        end = nil
                        batchLimit = min(self.batchSize, batchLimit * 2)
                    }
                    continue
                }
                // Everything written so far has been read.
                if let through = end {
                    try await commit(entries, through: through)
                    entries.removeAll(keepingCapacity: true)
                    end = nil
                }
                try await finishWriting()
                await handing?.value
                handing = nil
                guard follow else { break }
                do { try await Task.sleep(for: self.pollInterval) } catch { break }  // cancelled: stop here
            }
            try await finishWriting()
            await handing?.value
        } catch {
            // A batch being written when reading failed is still finished, or fails on its own.
            _ = try? await writing?.value
            await handing?.value
            throw error
        }
        progress.rejected += tail.skippedLines
        return progress
    }

    /// Stores one batch with the cursor at `position`; returns what it did (with the events it stored first).
    private func store(
        _ entries: [LogEntry],
        through position: LogTail.Position
    ) async throws -> (Progress, IngestResult) {
        let result = try await self.store.ingest(
            entries,
            cursor: IngestCursor(path: self.path, inode: position.inode, offset: position.offset)
        )
        var done = Progress()
        done.inserted = result.inserted
        done.duplicates = result.duplicates
        done.batches = 1
        return (done, result)
    }
}

public struct IngestError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
