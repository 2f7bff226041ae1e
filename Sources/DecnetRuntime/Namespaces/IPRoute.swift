import Foundation

/// Runs iproute2's `ip` (and `sysctl` inside a namespace): the standard, well-kept way to make namespaces,
/// veth pairs and bridges. Waits without holding a thread of the cooperative pool.
public enum IPRoute {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `ip ARGUMENTS…`; throws with its error output when it fails.
    @discardableResult
    public static func ip(_ arguments: String...) async throws -> String {
        try await self.run("/usr/sbin/ip", arguments)
    }

    /// Runs `ip ARGUMENTS…` and ignores failure (teardown of what may already be gone).
    public static func ipIgnoringFailure(_ arguments: String...) async {
        _ = try? await self.run("/usr/sbin/ip", arguments)
    }

    /// Runs many `ip` commands in one process (`ip [-n NAMESPACE] -force -batch FILE`): one fork for a whole
    /// fleet instead of one per command. Every line is tried; the failures come back keyed by line index
    /// (0-based) with the error `ip` gave.
    public static func batch(_ lines: [String], namespace: String? = nil) async throws -> [Int: String] {
        guard !lines.isEmpty else { return [:] }
        let input = try Self.unlinkedFile()
        defer { try? input.close() }
        try input.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
        try input.seek(toOffset: 0)
        let (status, _, text) = try await self.execute(
            "/usr/sbin/ip",
            (namespace.map { ["-n", $0] } ?? []) + ["-force", "-batch", "-"],
            input: input
        )
        var failures: [Int: String] = [:]
        var pending: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Command failed "), let number = line.split(separator: ":").last.flatMap({ Int($0) }) {
                failures[number - 1] = pending.isEmpty ? "failed" : pending.joined(separator: "; ")
                pending = []
            } else {
                pending.append(String(line))
            }
        }
        // A line ip cannot parse ends the whole run (its argument errors exit at once), leaving a message with
        // no "Command failed" after it and the later lines undone: that is a failure of the batch, not a line.
        if status != 0 && (failures.isEmpty || !pending.isEmpty) {
            throw Failure(description: "ip -batch stopped: \(pending.joined(separator: "; "))")
        }
        return failures
    }

    /// Runs `command` inside `namespace` (`ip netns exec`); throws with its error output when it fails.
    @discardableResult
    public static func exec(namespace: String, _ command: [String]) async throws -> String {
        try await self.run("/usr/sbin/ip", ["netns", "exec", namespace] + command)
    }

    /// Writes a sysctl inside `namespace` and reads it back: a refused write can exit 0, so only the value read
    /// back counts.
    public static func setSysctl(namespace: String, key: String, value: String) async throws {
        let path = "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")
        _ = try? await self.run("/usr/sbin/ip", ["netns", "exec", namespace, "sh", "-c", "echo '\(value)' > \(path)"])
        let readBack = try await self.run("/usr/sbin/ip", ["netns", "exec", namespace, "cat", path])
        let normalized = readBack.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard normalized == value else {
            throw Failure(description: "sysctl \(key) in \(namespace) reads '\(normalized)' after writing '\(value)'")
        }
    }

    /// The network namespaces `ip netns list` shows.
    public static func namespaces() async -> [String] {
        let output = (try? await self.run("/usr/sbin/ip", ["netns", "list"])) ?? ""
        return output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await self.execute(executable, arguments)
        guard status == 0 else {
            throw Failure(
                description:
                    "\(executable) \(arguments.joined(separator: " ")): \(errors.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        return output
    }

    /// Runs a program to its end and returns its status, output and error output. Output goes to (unlinked)
    /// files, not pipes: `ip -o link show` of a thousand-port bridge writes more than a pipe holds, and reading
    /// only after exit would then wait forever. The caller's task waits without holding a thread.
    static func execute(
        _ executable: String,
        _ arguments: [String],
        input: FileHandle = FileHandle.nullDevice
    ) async throws -> (status: Int32, output: String, errors: String) {
        let output = try Self.unlinkedFile()
        let error = try Self.unlinkedFile()
        defer {
            try? output.close()
            try? error.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = error
        process.standardInput = input
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        func text(_ handle: FileHandle) -> String {
            guard (try? handle.seek(toOffset: 0)) != nil, let data = try? handle.readToEnd() else { return "" }
            return String(decoding: data, as: UTF8.self)
        }
        return (status, text(output), text(error))
    }

    /// A temporary file open for reading and writing whose name is gone at once: nothing is left behind in the
    /// temporary directory, even when the process is killed while `ip` runs (the engine killed mid-deploy).
    private static func unlinkedFile() throws -> FileHandle {
        var template = Array((FileManager.default.temporaryDirectory.path + "/decnet-ip-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw Failure(description: "a temporary file for ip: \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }
}
