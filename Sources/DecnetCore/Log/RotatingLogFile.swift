import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An append-only line log that its one writer rotates by size, logrotate's way: `decnet.log` is written,
/// `decnet.log.1` is the newest full generation, `decnet.log.2` the one before, and so on.
///
/// Rotation loses nothing: a generation is renamed only after it has been synced and closed, never written
/// again, and readers (`LogTail`) follow a file by its inode, reading a renamed one to its end before going on
/// to the next. The oldest generation past `Policy.generations` is deleted (0 keeps every generation).
///
/// Not thread-safe: one task or one lock owns it.
public final class RotatingLogFile {
    public struct Policy: Sendable, Equatable {
        /// Rotate before a write would take the file past this size; 0 never rotates.
        public var maxBytes: UInt64
        /// Full generations kept beside the live file; 0 keeps all of them.
        public var generations: Int

        public init(maxBytes: UInt64 = 0, generations: Int = 10) {
            self.maxBytes = maxBytes
            self.generations = generations
        }

        /// Never rotates.
        public static let never = Policy(maxBytes: 0, generations: 0)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let path: String
    public let policy: Policy
    private var descriptor: Int32
    private var size: UInt64
    /// Generations rotated out by this writer.
    public private(set) var rotations = 0

    public init(path: String, policy: Policy = .never) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        self.path = path
        self.policy = policy
        (self.descriptor, self.size) = try Self.open(path)
    }

    deinit { close(self.descriptor) }

    private static func open(_ path: String) throws -> (Int32, UInt64) {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw Failure(description: "\(path): cannot be opened for appending (\(String(cString: strerror(errno))))")
        }
        var status = stat()
        fstat(descriptor, &status)
        return (descriptor, UInt64(status.st_size))
    }

    /// The path of generation `number` (0 is the live file).
    public static func generation(_ number: Int, of path: String) -> String {
        number == 0 ? path : "\(path).\(number)"
    }

    /// Appends `bytes` (whole lines) in one write, rotating first when they would not fit.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        if self.policy.maxBytes > 0, self.size > 0, self.size + UInt64(bytes.count) > self.policy.maxBytes {
            try self.rotate()
        }
        var offset = 0
        while offset < bytes.count {
            let written = write(self.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "\(self.path): write failed (\(String(cString: strerror(errno))))")
            }
            offset += written
        }
        self.size += UInt64(bytes.count)
    }

    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try self.append($0) }
    }

    /// Appends as much of `bytes` as the file takes (rotating first when they would not fit), and says how much
    /// that was and, when it stopped short, why (ENOSPC, EIO, ...). A writer that keeps the rest and calls again
    /// later loses nothing and writes nothing twice.
    public func appendSome(_ bytes: UnsafeRawBufferPointer) -> (written: Int, failure: String?) {
        if self.policy.maxBytes > 0, self.size > 0, self.size + UInt64(bytes.count) > self.policy.maxBytes {
            do { try self.rotate() } catch { return (0, "\(error)") }
        }
        var offset = 0
        while offset < bytes.count {
            let written = write(self.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                self.size += UInt64(offset)
                return (offset, "\(self.path): write failed (\(String(cString: strerror(errno))))")
            }
            offset += written
        }
        self.size += UInt64(bytes.count)
        return (offset, nil)
    }

    /// Opens the path again when the file written was removed or replaced under the writer (an operator's `rm`,
    /// a foreign logrotate): what follows goes where readers look. True when it reopened.
    @discardableResult
    public func reopenIfMoved() throws -> Bool {
        var open = stat()
        var named = stat()
        guard fstat(self.descriptor, &open) == 0 else { return false }
        if stat(self.path, &named) == 0, named.st_ino == open.st_ino, named.st_dev == open.st_dev { return false }
        let directory = (self.path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let (descriptor, size) = try Self.open(self.path)
        close(self.descriptor)
        (self.descriptor, self.size) = (descriptor, size)
        return true
    }

    /// Flushes what was written to the disk.
    public func sync() { fsync(self.descriptor) }

    /// Closes the live file as the newest generation and starts a new one.
    public func rotate() throws {
        fsync(self.descriptor)
        close(self.descriptor)
        var highest = 0
        while FileManager.default.fileExists(atPath: Self.generation(highest + 1, of: self.path)) { highest += 1 }
        if self.policy.generations > 0 {
            while highest >= self.policy.generations {
                unlink(Self.generation(highest, of: self.path))
                highest -= 1
            }
        }
        for number in stride(from: highest, through: 0, by: -1) {
            rename(Self.generation(number, of: self.path), Self.generation(number + 1, of: self.path))
        }
        (self.descriptor, self.size) = try Self.open(self.path)
        self.rotations += 1
    }
}
