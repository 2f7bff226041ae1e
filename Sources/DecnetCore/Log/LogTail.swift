import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads a `RotatingLogFile` line by line from a durable position, across rotations: the ingester and the
/// forwarder both follow the event log this way.
///
/// A position names a file by inode, not by name, because rotation renames files. Starting from a position
/// whose file has been rotated, it finds that file among the generations and reads it on from the offset, then
/// each newer generation, then the live file. Starting with no position, it reads every generation from the
/// oldest. A file is left only when it has been read to its end and something newer exists, so a line written
/// just before a rotation is never skipped.
///
/// Its reads block briefly; run it where blocking is allowed (`BlockingIOExecutor`). Not thread-safe.
public struct LogTail: ~Copyable {
    /// Where reading stands: a file and a byte offset in it, always at a line's end.
    public struct Position: Codable, Sendable, Equatable, Hashable {
        public var inode: UInt64
        public var offset: UInt64

        public init(inode: UInt64, offset: UInt64) {
            self.inode = inode
            self.offset = offset
        }
    }

    /// One complete line (without its newline) and the position just past it.
    public struct Line {
        public var bytes: ArraySlice<UInt8>
        /// Where the line starts in its file.
        public var start: Position
        /// The position after it: commit this once the line is dealt with.
        public var end: Position
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let path: String
    /// Longer "lines" are skipped to their newline and reported through `skipped`.
    public let maximumLineLength: Int
    private var descriptor: Int32 = -1
    private var inode: UInt64 = 0
    /// Bytes of the current file consumed (returned as lines, or skipped).
    private var offset: UInt64 = 0
    private var buffer: [UInt8] = []
    private var start = 0
    /// Inside an over-long line: bytes are dropped up to its newline.
    private var discarding = false
    private var chunk: [UInt8]
    /// Set when the file was opened at its start because the position's file is gone.
    public private(set) var lostPosition: Position?
    /// Over-long lines skipped so far.
    public private(set) var skippedLines = 0
    /// Called when an over-long line is skipped (its start and length).
    public var skipped: (Position, Int) -> Void = { _, _ in }

    public init(path: String, from position: Position?, maximumLineLength: Int = 1 << 20) throws {
        self.path = path
        self.maximumLineLength = maximumLineLength
        self.chunk = [UInt8](repeating: 0, count: 1 << 20)
        let generations = Self.generations(of: path)
        if let position, let found = generations.first(where: { $0.inode == position.inode }) {
            try self.open(found.path, inode: found.inode, at: position.offset)
        } else if let oldest = generations.first {
            // No position, or its file was deleted: everything that is left, from the oldest generation.
            self.lostPosition = position
            try self.open(oldest.path, inode: oldest.inode, at: 0)
        } else {
            throw Failure(description: "\(path): no such file")
        }
    }

    deinit { if self.descriptor >= 0 { close(self.descriptor) } }

    /// The position after the last line returned.
    public var position: Position { Position(inode: self.inode, offset: self.offset) }

    /// The existing generations, oldest first, with their inodes.
    public static func generations(of path: String) -> [(path: String, inode: UInt64)] {
        var found: [(path: String, inode: UInt64)] = []
        var number = 0
        var misses = 0
        // A rotation renames one generation at a time, so one may be briefly missing: look past a gap.
        while misses < 3 {
            let candidate = RotatingLogFile.generation(number, of: path)
            var status = stat()
            if stat(candidate, &status) == 0 {
                found.append((candidate, UInt64(status.st_ino)))
                misses = 0
            } else {
                misses += 1
            }
            number += 1
        }
        return found.reversed()
    }

    /// Bytes of the log after `position`: the rest of its file and every newer generation (all of them when
    /// `position` is nil or its file is gone).
    public static func bytes(of path: String, after position: Position?) -> UInt64 {
        let sizes = Self.generations(of: path).map { generation -> (inode: UInt64, size: UInt64) in
            var status = stat()
            return (generation.inode, stat(generation.path, &status) == 0 ? UInt64(status.st_size) : 0)
        }
        guard let position, let index = sizes.firstIndex(where: { $0.inode == position.inode }) else {
            return sizes.reduce(0) { $0 + $1.size }
        }
        return sizes[index].size - min(sizes[index].size, position.offset)
            + sizes[(index + 1)...].reduce(0) { $0 + $1.size }
    }

    private mutating func open(_ path: String, inode: UInt64, at offset: UInt64) throws {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw Failure(description: "\(path): cannot be opened (\(String(cString: strerror(errno))))")
        }
        var status = stat()
        fstat(descriptor, &status)
        if self.descriptor >= 0 { close(self.descriptor) }
        self.descriptor = descriptor
        self.inode = UInt64(status.st_ino)
        // A position past the end (the file was truncated) starts the file again.
        self.offset = UInt64(status.st_ino) == inode && offset <= UInt64(status.st_size) ? offset : 0
        self.buffer.removeAll(keepingCapacity: true)
        self.start = 0
        self.discarding = false
    }

    /// The next complete line, or nil when everything written so far has been read.
    public mutating func next() throws -> Line? {
        while true {
            if self.discarding {
                // The rest of an over-long line, up to its newline.
                if let newline = self.buffer[self.start...].firstIndex(of: 0x0A) {
                    self.offset += UInt64(newline + 1 - self.start)
                    self.start = newline + 1
                    self.discarding = false
                    continue
                }
                self.offset += UInt64(self.buffer.count - self.start)
                self.buffer.removeAll(keepingCapacity: true)
                self.start = 0
            } else if let newline = self.buffer[self.start...].firstIndex(of: 0x0A) {
                let lineStart = self.offset
                let length = newline - self.start
                let line = self.buffer[self.start..<newline]
                self.start = newline + 1
                self.offset += UInt64(length + 1)
                if length > self.maximumLineLength {
                    self.skippedLines += 1
                    self.skipped(Position(inode: self.inode, offset: lineStart), length)
                    continue
                }
                return Line(
                    bytes: line,
                    start: Position(inode: self.inode, offset: lineStart),
                    end: Position(inode: self.inode, offset: self.offset)
                )
            } else {
                // Keep only the unfinished line, then read more after it.
                if self.start > 0 {
                    self.buffer.removeFirst(self.start)
                    self.start = 0
                }
                if self.buffer.count > self.maximumLineLength {
                    // Too long to be a line: dropped up to its newline.
                    self.skippedLines += 1
                    self.skipped(self.position, self.buffer.count)
                    self.offset += UInt64(self.buffer.count)
                    self.buffer.removeAll(keepingCapacity: true)
                    self.discarding = true
                    continue
                }
            }
            let readAt = off_t(self.offset) + off_t(self.buffer.count - self.start)
            let count = self.chunk.withUnsafeMutableBytes { pread(self.descriptor, $0.baseAddress, $0.count, readAt) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "\(self.path): read failed (\(String(cString: strerror(errno))))")
            }
            if count > 0 {
                self.buffer.append(contentsOf: self.chunk[..<count])
                continue
            }
            // At the end of this file. Go on only when a newer one exists; an unfinished last line in a
            // rotated file (a writer killed mid-line) is dropped with it.
            guard try self.advance() else { return nil }
        }
    }

    /// Moves to the generation after the current file, when there is one.
    private mutating func advance() throws -> Bool {
        let generations = Self.generations(of: self.path)
        guard let live = generations.last, live.inode != self.inode else { return false }
        let next: (path: String, inode: UInt64)
        if let index = generations.firstIndex(where: { $0.inode == self.inode }) {
            next = generations[index + 1]
        } else {
            // Not among the names: being renamed right now (look again later), or deleted while we read it
            // (it fell past the kept generations; go on with the oldest left).
            var status = stat()
            guard fstat(self.descriptor, &status) == 0, status.st_nlink == 0, let oldest = generations.first else {
                return false
            }
            next = oldest
        }
        // A rotated file is final: read what it still holds before leaving it.
        let readAt = off_t(self.offset) + off_t(self.buffer.count - self.start)
        var status = stat()
        if fstat(self.descriptor, &status) == 0, off_t(status.st_size) > readAt { return true }
        try self.open(next.path, inode: next.inode, at: 0)
        return true
    }
}
