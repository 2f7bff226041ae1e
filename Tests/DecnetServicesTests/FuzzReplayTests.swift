import DecnetFuzz
import DecnetTesting
import Foundation
import Testing

/// Every fuzz target's seed corpus (`Fuzz/corpus/<target>/`) and every crash case a fuzzing run found
/// (`Fuzz/crashes/<target>/`, kept as regressions) replayed through the target: none may crash, trap or hang.
@Suite struct FuzzReplayTests {
    static let root = PackageLayout.root.appendingPathComponent("Fuzz")

    static func files(_ kind: String, _ target: String) -> [URL] {
        let directory = Self.root.appendingPathComponent(kind).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test func everyTargetHasASeedCorpusAndEveryDirectoryATarget() throws {
        let names = FuzzTargets.all.map(\.name)
        let corpora = try FileManager.default.contentsOfDirectory(
            atPath: Self.root.appendingPathComponent("corpus").path
        )
        #expect(Set(corpora) == Set(names), "Fuzz/corpus has \(corpora.sorted()), the targets are \(names)")
        for name in names { #expect(!Self.files("corpus", name).isEmpty, "\(name) has no seeds") }
    }

    @Test(arguments: FuzzTargets.all.map(\.name))
    func corpusAndCrashCasesReplayWithoutACrash(_ name: String) throws {
        let target = try #require(FuzzTargets.target(name))
        let inputs = Self.files("corpus", name) + Self.files("crashes", name)
        for file in inputs {
            target(Array(try Data(contentsOf: file)))
        }
        // Each input, cut short at every eighth byte, too: truncation is the commonest hostile input. A long seed
        // (a recorded SSH handshake, a Chromium ClientHello) is cut at 64 places at most: each cut of a handshake
        // runs its key exchange, and thousands of them loaded the start of a full test run.
        for file in Self.files("corpus", name) {
            let bytes = Array(try Data(contentsOf: file))
            let step = max(8, bytes.count / 64)
            for end in stride(from: 0, to: bytes.count, by: step) { target(Array(bytes[..<end])) }
        }
        #expect(!inputs.isEmpty)
    }

    /// The `api-json` seeds, in order on a fresh API, get through its router to what each route does with a good
    /// body (so the target fuzzes the routes, not only the authentication in front of them); the bad ones get a
    /// 4xx.
    @Test func theAPISeedsReachTheirRoutes() throws {
        let expected: [String: Int] = [
            "login-admin": 200, "login-wrong": 401, "change-password-wrong-old": 400, "new-user-viewer": 201,
            "deploy-lab": 200, "merge": 404, "unmerge-addresses": 404, "canary-document": 201, "canary-url": 201,
            "swarm-host": 201, "topology-mazenet": 201, "topology-positions": 200, "webhook-slack": 201,
            "not-json": 400,
        ]
        let files = Self.files("corpus", "api-json")
        #expect(Set(files.map(\.lastPathComponent)) == Set(expected.keys))
        let answers = APIBodies.answers(try files.map { Array(try Data(contentsOf: $0)) })
        for (file, answer) in zip(files, answers) {
            let answer = try #require(answer)
            #expect(
                answer.code == expected[file.lastPathComponent],
                "\(file.lastPathComponent): \(answer.route) \(answer.code) \(answer.detail.prefix(300))"
            )
        }
    }
}
