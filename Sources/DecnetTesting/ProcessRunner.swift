import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and collects its output, for tests that drive real tools.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

public enum ProcessRunner {
    /// Runs `executable` with `arguments` in `directory`, with `environment` added to this process's.
    ///
    /// Waits without holding a thread: a test that blocked a cooperative thread on a child process would
    /// starve the very services the child is talking to (2 cores give the pool 2 threads).
    public static func run(
        _ executable: String,
        _ arguments: [String],
        in directory: URL? = nil,
        environment: [String: String] = [:]
    ) async throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // Output goes to files, not pipes: a chatty child can never block on a full pipe.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("decnet-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputURL = scratch.appendingPathComponent("stdout")
        let errorURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        defer {
            try? output.close()
            try? error.close()
        }
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        // Foundation's watch for the child's exit has been seen to miss one under CI's load (xvfb-run left a zombie
        // and the test waited for ever): a poll of /proc every half second finishes the wait too, reaping the child
        // itself. Whichever comes first resumes; the status is Foundation's, or the one waitpid gave.
        let finished = Mutex<(done: Bool, status: Int32?)>((false, nil))
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in
                if finished.withLock({ state in
                    defer { state.done = true }
                    return !state.done
                }) {
                    continuation.resume()
                }
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                finished.withLock { $0.done = true }
                continuation.resume(throwing: error)
                return
            }
            let pid = process.processIdentifier
            Thread.detachNewThread {
                while !finished.withLock({ $0.done }) {
                    usleep(500_000)
                    guard Self.isZombie(pid) else { continue }
                    var status: Int32 = 0
                    guard waitpid(pid, &status, WNOHANG) == pid else { continue }
                    let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                    if finished.withLock({ state in
                        defer { state.done = true }
                        state.status = exit
                        return !state.done
                    }) {
                        continuation.resume()
                    }
                }
            }
        }
        let outputData = (try? Data(contentsOf: outputURL)) ?? Data()
        let errorData = (try? Data(contentsOf: errorURL)) ?? Data()
        return ProcessResult(
            status: finished.withLock { $0.status } ?? process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self)
        )
    }
}

extension ProcessRunner {
    /// Whether `pid` has exited and waits to be reaped (state `Z` in /proc/<pid>/stat).
    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}

/// A fresh directory under the system temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(prefix: String = "decnet-test") throws {
        self.url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    public var path: String { self.url.path }

    public func remove() { try? FileManager.default.removeItem(at: self.url) }
}
