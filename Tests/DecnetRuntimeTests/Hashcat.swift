import DecnetTesting
import Foundation
import Testing

/// Runs Debian's hashcat for the tests that prove a captured hash exact, one at a time: hashcat refuses to run
/// beside another instance, and each run uses every core. Its compiled kernels are kept in one cache under the
/// package's build directory, so only the first run of a checkout compiles them (about 20 s on two cores).
enum Hashcat {
    static let tool = ExternalTool("hashcat", package: "hashcat pocl-opencl-icd")
    private static let lock = AsyncLock()

    /// The lines hashcat printed for the hashes it cracked (`hash:password`).
    static func crack(mode: Int, hashes: [String], words: [String]) async throws -> (cracked: [String], log: String) {
        let hashcat = try #require(Self.tool.path, "\(Self.tool.missingMessage)")
        return try await self.lock.run {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let hashFile = directory.url.appendingPathComponent("hashes.txt")
            let wordFile = directory.url.appendingPathComponent("words.txt")
            try (hashes.joined(separator: "\n") + "\n").write(to: hashFile, atomically: true, encoding: .utf8)
            try (words.joined(separator: "\n") + "\n").write(to: wordFile, atomically: true, encoding: .utf8)
            let home = PackageLayout.root.appendingPathComponent(".build/hashcat-home")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let run = try await ProcessRunner.run(
                hashcat,
                [
                    "-m", String(mode), "-a", "0", "--potfile-disable", "--quiet", "--session",
                    "decnet-\(UUID().uuidString.prefix(8))", hashFile.path, wordFile.path,
                ],
                environment: [
                    "HOME": home.path, "XDG_CACHE_HOME": home.path + "/cache",
                    "XDG_DATA_HOME": home.path + "/data",
                ]
            )
            let cracked = run.standardOutput.split(separator: "\n").map(String.init).filter { $0.contains(":") }
            return (cracked, run.standardOutput + run.standardError.suffix(2000))
        }
    }
}

/// A mutual-exclusion lock for async code (one holder at a time, in arrival order).
actor AsyncLock {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if self.busy {
            await withCheckedContinuation { self.waiters.append($0) }
        } else {
            self.busy = true
        }
        defer {
            if self.waiters.isEmpty { self.busy = false } else { self.waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
