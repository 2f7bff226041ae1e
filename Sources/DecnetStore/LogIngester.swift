import DecnetCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Tails the RFC 5424 event log into the store (the seed's ingester). Its position is a durable cursor (file
/// inode and byte offset) committed in the same transaction as the events it covers, so after a crash it goes on
/// from the last committed batch: an event is never skipped, and one read twice is stored once (by uuid). A
/// line that is not a valid event is counted and reported, never stored. When the log file is replaced (a new
/// inode at the path), the old one is read to its end first.
///
/// Its reads block, briefly: run it on a thread that may block (`BlockingIOExecutor`).
public struct LogIngester: Sendable {
    public struct Progress: Sendable, Equatable {
        public var inserted = 0
        public var duplicates = 0
        public var rejected = 0
        public var batches = 0
    }

    public let path: String
    public let store: any EventStore
    public var batchSize = 5000
    public var pollInterval: Duration = .milliseconds(100)
    /// Called for each rejected line and on rotation, for the operator's log.
    public var report: @Sendable (String) -> Void = { _ in }

    public init(path: String, store: any EventStore) {
        self.path = path
        self.store = store
    }

    /// Reads what the log holds; with `follow`, keeps tailing until the task is cancelled.
    @discardableResult
    public func run(follow: Bool) async throws -> Progress {
        var progress = Progress()
        var file = try await self.open()
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var entries: [LogEntry] = []
        entries.reserveCapacity(self.batchSize)
        while !Task.isCancelled {
            let count = chunk.withUnsafeMutableBytes {
                pread(file.descriptor, $0.baseAddress, $0.count, off_t(file.offset) + off_t(pending.count))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw IngestError("\(self.path): read failed (errno \(errno))")
            }
            if count > 0 {
                pending += chunk.prefix(count)
                var start = 0
                while let newline = pending[start...].firstIndex(of: 0x0A) {
                    let line = pending[start..<newline]
                    let consumed = newline + 1
                    if !line.isEmpty {
                        let text = String(decoding: line, as: UTF8.self)
                        do {
                            entries.append(LogEntry(event: try RFC5424Parser.event(from: text), line: text))
                        } catch {
                            progress.rejected += 1
                            self.report("\(self.path) at byte \(file.offset + UInt64(start)): not an event (\(error))")
                        }
                    }
                    start = consumed
                    if entries.count >= self.batchSize {
                        try await self.commit(&entries, &file, through: start, &pending, &progress)
                        start = 0
                    }
                }
                if start > 0 { try await self.commit(&entries, &file, through: start, &pending, &progress) }
                if pending.count > RFC5424Parser.maximumLength {
                    // A "line" past any event's length: skip it up to the next newline.
                    progress.rejected += 1
                    self.report(
                        "\(self.path) at byte \(file.offset): line longer than \(RFC5424Parser.maximumLength) bytes"
                    )
                    file.offset += UInt64(pending.count)
                    pending.removeAll()
                }
                continue
            }
            // At the end of what is written.
            if let replaced = try self.replacement(of: file) {
                self.report("\(self.path) was replaced: the old file is read to its end, the new one from its start")
                close(file.descriptor)
                file = replaced
                pending.removeAll()
                continue
            }
            guard follow else { break }
            do { try await Task.sleep(for: self.pollInterval) } catch { break }  // cancelled: stop here
        }
        close(file.descriptor)
        return progress
    }

    private struct OpenFile {
        var descriptor: Int32
        var inode: UInt64
        /// Bytes of this file committed to the store.
        var offset: UInt64
    }

    private func open() async throws -> OpenFile {
        let descriptor = Glibc.open(self.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw IngestError("\(self.path): cannot be opened (errno \(errno))") }
        var status = stat()
        fstat(descriptor, &status)
        let inode = UInt64(status.st_ino)
        var offset: UInt64 = 0
        if let cursor = try await self.store.cursor(for: self.path), cursor.inode == inode,
            cursor.offset <= UInt64(status.st_size)
        {
            offset = cursor.offset
        }
        return OpenFile(descriptor: descriptor, inode: inode, offset: offset)
    }

    /// The file now at the path, when it is another one than `file`.
    private func replacement(of file: OpenFile) throws -> OpenFile? {
        var status = stat()
        guard stat(self.path, &status) == 0, UInt64(status.st_ino) != file.inode else { return nil }
        let descriptor = Glibc.open(self.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        return OpenFile(descriptor: descriptor, inode: UInt64(status.st_ino), offset: 0)
    }

    /// Stores the entries with the cursor just past `through` bytes of `pending`, and drops those bytes.
    private func commit(
        _ entries: inout [LogEntry],
        _ file: inout OpenFile,
        through consumed: Int,
        _ pending: inout [UInt8],
        _ progress: inout Progress
    ) async throws {
        let offset = file.offset + UInt64(consumed)
        let result = try await self.store.ingest(
            entries,
            cursor: IngestCursor(path: self.path, inode: file.inode, offset: offset)
        )
        progress.inserted += result.inserted
        progress.duplicates += result.duplicates
        progress.batches += 1
        entries.removeAll(keepingCapacity: true)
        file.offset = offset
        pending.removeFirst(consumed)
    }
}

public struct IngestError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
