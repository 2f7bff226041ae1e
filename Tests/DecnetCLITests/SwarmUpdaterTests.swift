import DecnetCore
import DecnetPipeline
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 26's updater line, through the real binary: `decnet updater push` of a rebuilt binary to an agent (its
/// own process and state directory), which then runs it; `rollback` puts the old one back; a push whose signature
/// does not verify (another binary's signature, another key's) is refused and changes nothing; a signed binary
/// that cannot run an agent is rolled back by the agent's supervisor.
@Suite(.serialized) struct SwarmUpdaterTests {
    @Test func anAgentRunsAPushedReleaseGoesBackOnRequestAndRefusesWhatDoesNotVerify() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let master = try TemporaryDirectory()
        let agent = try TemporaryDirectory()
        let other = try TemporaryDirectory()
        func environment(_ state: String) -> [String: String] {
            [
                "DECNET_STATE_DIR": state, "DECNET_DB_PATH": state + "/decnet.db",
                "DECNET_INGEST_LOG_FILE": state + "/decnet.log",
            ]
        }
        func run(_ state: TemporaryDirectory, _ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(binary.path, arguments, environment: environment(state.path))
        }
        defer {
            APIDaemonTests.kill(["agent"], in: agent.path)
            for directory in [master, agent, other] { directory.remove() }
        }
        let port = LoopbackPort.unused()
        let added = try await run(master, ["swarm", "add", "--host", "127.0.0.1:\(port)", "--name", "edge-01"])
        try #require(added.status == 0, "\(added.standardError)")
        let identity = master.path + "/pki/edge-01"
        #expect(FileManager.default.fileExists(atPath: identity + "/" + ReleaseSigning.publicKeyFile))
        let started = try await run(
            agent,
            ["agent", "start", "--listen", "127.0.0.1:\(port)", "--identity", identity]
        )
        try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")

        /// The agent's answer to health, once it answers.
        func health() async throws -> AgentHealth {
            for _ in 0..<100 {
                if let health = try? await Self.health(binary, environment(master.path)) { return health }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw Failure("the agent never answered health; its log:\n\(Self.logTail(agent.path))")
        }
        // The master's first swarmctl issues its own certificate (master), which health() below uses too.
        let first = try await run(master, ["swarmctl", "status", "--host", "edge-01"])
        #expect(first.status == 0, "\(first.standardOutput)\(first.standardError)")
        let original = try ReleaseSigning.sha256(ofFile: binary.path)
        let before = try await health()
        #expect(before.sha256 == original && before.release == "installed", "\(before)")

        // A rebuilt binary (here: the same program with bytes after its end, so another SHA-256; ELF ignores them).
        let rebuilt = master.path + "/decnet-rebuilt"
        try FileManager.default.copyItem(atPath: binary.path, toPath: rebuilt)
        let handle = try #require(FileHandle(forWritingAtPath: rebuilt))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("rebuilt \(UUID().uuidString)\n".utf8))
        try handle.close()
        let rebuiltSHA = try ReleaseSigning.sha256(ofFile: rebuilt)
        let pushed = try await run(master, ["updater", "push", "--host", "edge-01", "--binary", rebuilt])
        #expect(pushed.status == 0, "\(pushed.standardOutput)\(pushed.standardError)")
        #expect(pushed.standardOutput.contains("edge-01: runs \(rebuiltSHA)"), "\(pushed.standardOutput)")
        let updated = try await health()
        #expect(updated.sha256 == rebuiltSHA && updated.release == "confirmed", "\(updated)")
        #expect(updated.pid != before.pid)
        let running = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(updated.pid)/exe")
        #expect(running == agent.path + "/agent/releases/\(rebuiltSHA)/decnet", "\(running)")
        // The new release does the agent's work: the master's swarmctl status runs through it.
        let status = try await run(master, ["swarmctl", "status", "--host", "edge-01"])
        #expect(status.status == 0, "\(status.standardOutput)\(status.standardError)")

        // Rollback: the binary it ran before.
        let rolled = try await run(master, ["updater", "rollback", "--host", "edge-01"])
        #expect(rolled.status == 0, "\(rolled.standardOutput)\(rolled.standardError)")
        let back = try await health()
        #expect(back.sha256 == original && back.release == "rolled-back" && back.pid != updated.pid, "\(back)")

        // Another binary with the first one's signature, and a binary signed by another master's key: refused
        // before anything is kept, and the agent runs what it ran.
        let tampered = master.path + "/decnet-tampered"
        try FileManager.default.copyItem(atPath: rebuilt, toPath: tampered)
        let tamper = try #require(FileHandle(forWritingAtPath: tampered))
        try tamper.seekToEnd()
        try tamper.write(contentsOf: Data("tampered\n".utf8))
        try tamper.close()
        let tamperedSHA = try ReleaseSigning.sha256(ofFile: tampered)
        let signature = master.path + "/rebuilt.sig"
        let signed = try await run(master, ["updater", "sign", "--binary", rebuilt])
        try #require(signed.status == 0, "\(signed.standardError)")
        try signed.standardOutput.write(toFile: signature, atomically: true, encoding: .utf8)
        let foreign = master.path + "/foreign.sig"
        let foreignSigned = try await run(other, ["updater", "sign", "--binary", tampered])
        try #require(foreignSigned.status == 0, "\(foreignSigned.standardError)")
        try foreignSigned.standardOutput.write(toFile: foreign, atomically: true, encoding: .utf8)
        for (file, label) in [(signature, "another binary's signature"), (foreign, "another key's signature")] {
            let refused = try await run(
                master,
                ["updater", "push", "--host", "edge-01", "--binary", tampered, "--signature", file]
            )
            #expect(refused.status != 0, "\(label): \(refused.standardOutput)")
            #expect(
                refused.standardError.contains(
                    "refused the update: the signature of \(tamperedSHA.prefix(12)) does not verify"
                ),
                "\(label): \(refused.standardError)"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: agent.path + "/agent/releases/\(tamperedSHA)"))
        #expect(
            ((try? FileManager.default.contentsOfDirectory(atPath: agent.path + "/agent/incoming")) ?? []).isEmpty,
            "nothing of a refused push is left"
        )
        let unchanged = try await health()
        #expect(unchanged.sha256 == original && unchanged.pid == back.pid, "\(unchanged)")

        // A release signed with the right key that cannot run an agent: on trial, it exits, the old one returns.
        let broken = master.path + "/decnet-broken"
        try "#!/bin/sh\necho this release is broken >&2\nexit 3\n".write(
            toFile: broken,
            atomically: true,
            encoding: .utf8
        )
        chmod(broken, 0o755)
        let failed = try await run(master, ["updater", "push", "--host", "edge-01", "--binary", broken])
        #expect(failed.status != 0, "\(failed.standardOutput)")
        #expect(
            failed.standardError.contains("edge-01 rolled back: the pushed binary exited with status 3"),
            "\(failed.standardError)\nthe agent's log:\n\(Self.logTail(agent.path))"
        )
        let recovered = try await health()
        #expect(recovered.sha256 == original && recovered.release == "rolled-back", "\(recovered)")

        // Stopping the agent's supervisor (even with SIGKILL) ends the agent it runs.
        APIDaemonTests.kill(["agent"], in: agent.path)
        var gone = false
        for _ in 0..<50 where !gone {
            gone = kill(recovered.pid, 0) != 0
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone, "the agent \(recovered.pid) outlived its supervisor")
    }

    /// The last lines of the agent's daemon log (its supervisor's and its agents' own lines), for a failure.
    static func logTail(_ state: String) -> String {
        let text = (try? String(contentsOfFile: state + "/decnet-agent.log", encoding: .utf8)) ?? "(no log)"
        return text.split(separator: "\n").suffix(40).joined(separator: "\n")
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The agent's health through the master's own control-channel client (as `updater` reads it).
    static func health(_ binary: URL, _ environment: [String: String]) async throws -> AgentHealth {
        let state = try #require(environment["DECNET_STATE_DIR"])
        let hosts = try SwarmRegistry(stateDirectory: state).hosts()
        let host = try #require(hosts.first)
        let parts = host.address.split(separator: ":")
        let reply = try await AgentControl.call(
            host: String(parts[0]),
            port: Int(parts[1])!,
            identity: CertificateAuthority.Identity(directory: state + "/pki/master"),
            pinned: host.fingerprint,
            request: AgentControl.Request(op: "health"),
            timeout: .seconds(10)
        )
        return try JSONDecoder().decode(AgentHealth.self, from: Data(reply.output.utf8))
    }
}
