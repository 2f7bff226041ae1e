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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        // `ip` writes little; the pipes never fill before it exits.
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else {
            let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Failure(
                description:
                    "\(executable) \(arguments.joined(separator: " ")): \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
        }
        return text
    }
}
