import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Fault injection on the engine (issue 25): killed with SIGKILL while it builds a fleet, half its deckies made.
/// The deploy that started it ends in a clear error rather than a hang; the next deploy builds the whole fleet
/// over what was left (namespaces, interfaces), every decky serves, and a teardown leaves nothing behind.
@Suite(.serialized) struct EngineFaultTests {
    /// Runs blocking work (polling, stepping a process, reading a pipe to its end) on a thread of its own rather
    /// than on the cooperative pool, which the other tests of a full run share.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    @Test(.enabled(if: NativeEngineTests.rootOrCI, "needs root to make network namespaces (CI runs as root)"))
    func theEngineKilledMidDeployFailsClearlyAndTheNextDeployBuildsTheFleet() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let redisCLI = try #require(ExternalTool.redisCLI.path, "\(ExternalTool.redisCLI.missingMessage)")
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.78.\(Int.random(in: 1...250))"
            // Twelve deckies of redis and http: no ssh, whose RSA host keys (a second of CPU each) would load the
            // rest of a full test run.
            let count = 12
            var fleet = "[general]\nnet = \(net).0/24\n"
            for index in 0..<count {
                fleet += "\n[\(tag)-d\(index)]\nip = \(net).\(10 + index)\nservices = http, redis\n"
            }
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            // The lab first, so the kill lands among the deckies rather than in the lab's making.
            let lab = try await harness.decnet(["lab", "up", "--name", tag, "--subnet", "\(net).0/24"])
            try #require(lab.status == 0, "\(lab.standardOutput)\(lab.standardError)")

            let deploy = Process()
            deploy.executableURL = binary
            deploy.arguments = ["deploy", "--config", file.path, "--lab", "--lab-name", tag]
            deploy.currentDirectoryURL = harness.directory.url
            deploy.environment = ProcessInfo.processInfo.environment.merging(harness.environment) { $1 }
            let output = Pipe()
            deploy.standardOutput = output
            deploy.standardError = output
            try deploy.run()
            // The engine is caught as it starts and stepped (SIGSTOP, a few milliseconds of SIGCONT at a time)
            // until it has made some of the deckies' namespaces but serves none, then killed there. On a thread
            // of its own: under a full test run the cooperative pool can be busy for seconds, and the engine
            // would be serving before a task looked.
            let engineLog = harness.directory.url.appendingPathComponent("decnet-engine.log").path
            let pidFile = harness.directory.url.appendingPathComponent("decnet-engine.pid").path
            let caught = await Self.onThread { () -> (made: Int, serving: Bool, killed: Bool) in
                let serving = { ((try? String(contentsOfFile: engineLog, encoding: .utf8)) ?? "").contains("serving") }
                let namespaces = {
                    ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []).filter {
                        $0.contains("\(tag)-d")
                    }.count
                }
                var pid: Int32?
                for _ in 0..<60000 where pid == nil {
                    let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
                    if let running = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(running, 0) == 0
                    {
                        kill(running, SIGSTOP)
                        pid = running
                    } else {
                        usleep(500)
                    }
                }
                guard let engine = pid else { return (0, false, false) }
                var made = namespaces()
                while made == 0 && !serving() && kill(engine, 0) == 0 {
                    kill(engine, SIGCONT)
                    usleep(2000)
                    kill(engine, SIGSTOP)
                    made = namespaces()
                }
                let wasServing = serving()
                return (made, wasServing, kill(engine, SIGKILL) == 0)
            }
            #expect(caught.killed, "the engine never started")
            #expect(caught.made > 0 && !caught.serving, "the engine was not caught mid-deploy: \(caught)")
            let said = await Self.onThread {
                let bytes = output.fileHandleForReading.readDataToEndOfFile()
                deploy.waitUntilExit()
                return String(decoding: bytes, as: UTF8.self)
            }
            #expect(deploy.terminationStatus != 0, "\(said)")
            #expect(said.contains("the engine exited"), "\(said)")

            // Deploying again builds the whole fleet over what the killed engine left.
            let again = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            #expect(again.status == 0, "\(again.standardOutput)\(again.standardError)")
            let status = try await harness.decnet(["status"])
            #expect(status.standardOutput.contains("\(count)/\(count) decky(s) running"), "\(status.standardOutput)")
            for index in [0, count / 2, count - 1] {
                let ping = try await harness.attacker([redisCLI, "-h", "\(net).\(10 + index)", "PING"])
                #expect(ping.standardOutput.contains("PONG"), "decky \(index): \(ping.standardOutput)")
            }

            // And a teardown leaves nothing of the fleet.
            let teardown = try await harness.decnet(["teardown", "--all"])
            #expect(teardown.status == 0, "\(teardown.standardError)")
            #expect(try await harness.namespacesLeft().sorted() == ["decnet-\(tag)-attacker", "decnet-\(tag)-switch"])
            #expect(try await harness.decnet(["lab", "down"]).status == 0)
            #expect(try await harness.namespacesLeft().isEmpty)
        }
    }
}
