import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `decnet bus` as an operator runs it: the broker daemon, `bus sub` with wildcards, and the seed's topics
/// published by the workers (what they store) and the engine (decky states).
@Suite(.serialized) struct BusCommandTests {
    /// Starts `decnet bus sub` in the background; its output lands in a file.
    static func subscriber(
        _ binary: URL,
        _ arguments: [String],
        environment: [String: String],
        output: String
    ) throws
        -> Process
    {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["bus", "sub"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// `decnet bus start` (a daemon) in the test's state directory.
    static func startBus(_ binary: URL, _ arguments: [String], environment: [String: String]) async throws {
        let started = try await ProcessRunner.run(binary.path, ["bus", "start"] + arguments, environment: environment)
        #expect(started.status == 0, "\(started.standardError)")
    }

    /// Ends the broker a test started (by the pid it wrote) and removes the test's directory.
    static func killBus(_ directory: TemporaryDirectory) {
        if let text = try? String(contentsOfFile: directory.path + "/decnet-bus.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGKILL)
        }
        directory.remove()
    }

    /// Waits (up to 5 s) until `bus status` lists a subscriber for each pattern.
    static func waitForSubscribers(_ patterns: [String], _ binary: URL, _ environment: [String: String]) async throws {
        for _ in 0..<250 {
            let status = try await ProcessRunner.run(binary.path, ["bus", "status"], environment: environment)
            if patterns.allSatisfy({ status.standardOutput.contains("pattern=\($0)") }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func waitForExit(_ process: Process, seconds: Int = 20) async throws {
        for _ in 0..<(seconds * 50) where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    @Test func theWorkersAndTheEnginePublishTheSeedsTopics() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        let environment = [
            "DECNET_STATE_DIR": directory.path, "DECNET_DB_PATH": directory.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": directory.path + "/decnet.log",
        ]
        try await Self.startBus(binary, [], environment: environment)
        defer { Self.killBus(directory) }
        let credentials = try Self.subscriber(
            binary,
            ["credential.*", "--count", "30"],
            environment: environment,
            output: directory.path + "/credentials.out"
        )
        let everything = try Self.subscriber(
            binary,
            // Every message of the run: 32 events observed, 32 with credentials, one reuse, the heartbeat.
            [">", "--count", "66"],
            environment: environment,
            output: directory.path + "/everything.out"
        )
        let reused = try Self.subscriber(
            binary,
            ["credential.reuse.detected", "--count", "1"],
            environment: environment,
            output: directory.path + "/reused.out"
        )
        // Thirty login events in the log, then one credential tried in two sessions on two deckies; the workers
        // store them and publish what they stored.
        var lines = (0..<30).map { IngestCrashTests.event($0) + "\n" }.joined()
        for (index, decky) in ["decky-a", "decky-b"].enumerated() {
            lines +=
                RFC5424Formatter.line(
                    for: HoneypotEvent(
                        id: .loginFailed,
                        decky: decky,
                        hostname: decky,
                        service: "ssh",
                        session: "reuse-\(index)",
                        source: Endpoint(ip: "203.0.113.\(index + 1)", port: 50000),
                        destination: Endpoint(ip: "10.77.0.\(index + 20)", port: 22),
                        fields: [EventField("username", "admin"), EventField("password", "hunter2")]
                    )
                ) + "\n"
        }
        try await Self.waitForSubscribers(["credential.*", ">", "credential.reuse.detected"], binary, environment)
        try lines.write(toFile: directory.path + "/decnet.log", atomically: true, encoding: .utf8)
        let ingest = try await ProcessRunner.run(binary.path, ["workers", "start", "--once"], environment: environment)
        #expect(
            ingest.standardOutput.hasPrefix("ingested 32 event(s)"),
            "\(ingest.standardOutput)\(ingest.standardError)"
        )
        try await Self.waitForExit(credentials)
        let captured = try String(contentsOfFile: directory.path + "/credentials.out", encoding: .utf8)
            .split(separator: "\n")
        #expect(captured.count == 30)
        #expect(captured.allSatisfy { $0.hasPrefix("credential.captured {") })
        let first = try #require(captured.first.map { String($0.dropFirst("credential.captured ".count)) })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        #expect(object["attacker_ip"] as? String == "198.51.100.0")
        #expect((object["fields"] as? [String: String])?["password"] == "pw-0")

        // `>` saw each event as attacker.observed and as credential.captured, and the ingester's heartbeat (which
        // comes before the events or after them: the count asks for every message, whatever their order).
        try await Self.waitForExit(everything)
        let all = try String(contentsOfFile: directory.path + "/everything.out", encoding: .utf8).split(separator: "\n")
        #expect(all.filter { $0.hasPrefix("attacker.observed ") }.count == 32)
        #expect(all.filter { $0.hasPrefix("credential.captured ") }.count == 32)
        #expect(all.filter { $0.hasPrefix("credential.reuse.detected ") }.count == 1)
        #expect(all.contains { $0.hasPrefix("system.ingester.health ") }, "\(all.map { $0.prefix(30) })")

        // The credential tried on two deckies from two addresses: one reuse, naming both sightings.
        try await Self.waitForExit(reused)
        let reuse = try String(contentsOfFile: directory.path + "/reused.out", encoding: .utf8).split(separator: "\n")
        #expect(reuse.count == 1)
        let reuseJSON = try #require(reuse.first.map { String($0.dropFirst("credential.reuse.detected ".count)) })
        let reuseObject = try #require(try JSONSerialization.jsonObject(with: Data(reuseJSON.utf8)) as? [String: Any])
        #expect(reuseObject["password"] as? String == "hunter2" && reuseObject["sessions"] as? Int == 2)
        #expect(reuseObject["deckies"] as? [String] == ["decky-a", "decky-b"])
        #expect((reuseObject["first"] as? [String: Any])?["attacker_ip"] as? String == "203.0.113.1")

        // The workers start again (a new process, as after a restart) and the credential comes back in a third
        // session: still matched against the first sighting, which only the store remembers now.
        let again = try Self.subscriber(
            binary,
            ["credential.reuse.detected", "--count", "1"],
            environment: environment,
            output: directory.path + "/reused-again.out"
        )
        try await Self.waitForSubscribers(["credential.reuse.detected"], binary, environment)
        let third = RFC5424Formatter.line(
            for: HoneypotEvent(
                id: .loginFailed,
                decky: "decky-c",
                hostname: "decky-c",
                service: "ftp",
                session: "reuse-2",
                source: Endpoint(ip: "203.0.113.3", port: 50001),
                destination: Endpoint(ip: "10.77.0.22", port: 21),
                fields: [EventField("username", "admin"), EventField("password", "hunter2")]
            )
        )
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.path + "/decnet.log"))
        try log.seekToEnd()
        try log.write(contentsOf: Data((third + "\n").utf8))
        try log.close()
        let restarted = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once"],
            environment: environment
        )
        #expect(restarted.standardOutput.hasPrefix("ingested 1 event(s)"), "\(restarted.standardOutput)")
        try await Self.waitForExit(again)
        let later = try String(contentsOfFile: directory.path + "/reused-again.out", encoding: .utf8)
            .split(separator: "\n")
        #expect(later.count == 1)
        let laterJSON = try #require(later.first.map { String($0.dropFirst("credential.reuse.detected ".count)) })
        let laterObject = try #require(try JSONSerialization.jsonObject(with: Data(laterJSON.utf8)) as? [String: Any])
        #expect(laterObject["sessions"] as? Int == 3)
        #expect(laterObject["deckies"] as? [String] == ["decky-a", "decky-b", "decky-c"])
        #expect((laterObject["first"] as? [String: Any])?["attacker_ip"] as? String == "203.0.113.1")

        let status = try await ProcessRunner.run(binary.path, ["bus", "status"], environment: environment)
        #expect(status.standardOutput.contains("bus: running"), "\(status.standardOutput)")
        let stopped = try await ProcessRunner.run(binary.path, ["bus", "stop"], environment: environment)
        #expect(stopped.standardOutput.contains("stopped"))
        let after = try await ProcessRunner.run(binary.path, ["bus", "status"], environment: environment)
        #expect(after.status == 3 && after.standardOutput.contains("bus: not running"))
    }

    @Test(.enabled(if: getuid() == 0 || ExternalTool.isCI, "a loopback fleet on port 6379 needs root"))
    func theEnginePublishesDeckyStates() async throws {
        try #require(getuid() == 0)
        try await NativeFleetHarness.with { harness in
            let binary = try #require(PackageLayout.decnetBinary)
            let started = try await harness.decnet(["bus", "start"])
            #expect(started.status == 0, "\(started.standardError)")
            defer {
                _ = kill(
                    Int32(
                        (try? String(contentsOfFile: harness.directory.path + "/decnet-bus.pid", encoding: .utf8))?
                            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                    ) ?? 0,
                    SIGKILL
                )
            }
            let states = try Self.subscriber(
                binary,
                ["decky.*.state", "--count", "3"],
                environment: harness.environment,
                output: harness.directory.path + "/states.out"
            )
            try await Task.sleep(for: .milliseconds(300))
            let subnet = "127.80.\(Int.random(in: 1...250))"
            let deploy = try await harness.decnet([
                "deploy", "--loopback", "-n", "1", "--services", "redis", "--subnet", "\(subnet).0/24", "--ip-start",
                "\(subnet).10",
            ])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            let stop = try await harness.decnet(["lifecycle", "stop", "--id", "decky-01"])
            #expect(stop.status == 0, "\(stop.standardError)")
            _ = try await harness.decnet(["teardown", "--all"])
            try await Self.waitForExit(states)
            let lines = try String(contentsOfFile: harness.directory.path + "/states.out", encoding: .utf8)
                .split(separator: "\n")
            let published = lines.compactMap { line -> String? in
                guard line.hasPrefix("decky.decky-01.state "),
                    let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(21).utf8))
                        as? [String: Any]
                else { return nil }
                return object["state"] as? String
            }
            #expect(published.first == "running", "\(lines)")
            #expect(published.contains("stopped"), "\(lines)")
        }
    }

    /// nats-py, the NATS project's Python client, on `bus start --listen`: its wildcard subscriptions get what
    /// they match of what our side publishes, and what it publishes reaches a `bus sub` on the UNIX socket.
    @Test(
        .enabled(
            if: ExternalTool.isCI || ExternalTool.pythonCanImport("nats"),
            "needs nats-py (pip install nats-py; .ci/run installs it)"
        )
    )
    func aNATSClientLibraryOnTheLoopbackListener() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        try #require(ExternalTool.pythonCanImport("nats"), "nats-py is not installed (pip install nats-py)")
        let directory = try TemporaryDirectory()
        let environment = ["DECNET_STATE_DIR": directory.path]
        let refused = try await ProcessRunner.run(
            binary.path,
            ["bus", "start", "--foreground", "--listen", "10.0.0.1:4222"],
            environment: environment
        )
        #expect(refused.status != 0 && refused.standardError.contains("expected a loopback host:port"))
        // Without a broker, `bus pub` says so and fails: it exits 0 only once a broker has the message.
        let unserved = try await ProcessRunner.run(
            binary.path,
            ["bus", "pub", "attacker.observed", "{}"],
            environment: environment
        )
        #expect(unserved.status != 0 && unserved.standardError.contains("no broker answered"), "\(unserved)")
        let port = LoopbackPort.unused()
        try await Self.startBus(binary, ["--listen", "127.0.0.1:\(port)"], environment: environment)
        defer { Self.killBus(directory) }
        let fromNATS = try Self.subscriber(
            binary,
            ["credential.captured", "--count", "1"],
            environment: environment,
            output: directory.path + "/from-nats.out"
        )
        try await Self.waitForSubscribers(["credential.captured"], binary, environment)
        let script = PackageLayout.root.appendingPathComponent("Tests/DecnetCLITests/Scripts/nats_client.py").path
        let client = Process()
        client.executableURL = URL(fileURLWithPath: python)
        client.arguments = [script, String(port), "3"]
        let output = directory.path + "/nats-client.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        client.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        client.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try client.run()
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) } }
        var ready = false
        for _ in 0..<500 where !ready {
            ready = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").hasPrefix("ready\n")
            if !ready { try await Task.sleep(for: .milliseconds(20)) }
        }
        try #require(
            ready,
            "nats-py did not subscribe: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")"
        )
        // Two match `attacker.>`, one `decky.*.state`; the other two match neither.
        for (subject, payload) in [
            ("attacker.observed", "{\"n\":1}"), ("system.engine.health", "{\"n\":2}"),
            ("decky.web-01.state", "{\"n\":3}"), ("decky.web-01.extra.state", "{\"n\":4}"),
            ("attacker.session.started", "{\"n\":5}"),
        ] {
            let published = try await ProcessRunner.run(
                binary.path,
                ["bus", "pub", subject, payload],
                environment: environment
            )
            #expect(published.status == 0, "\(published.standardError)")
        }
        try await Self.waitForExit(client, seconds: 30)
        #expect(client.terminationStatus == 0)
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "ready", "attacker.observed {\"n\":1}", "decky.web-01.state {\"n\":3}",
                "attacker.session.started {\"n\":5}",
            ]
        )
        try await Self.waitForExit(fromNATS)
        let got = try String(contentsOfFile: directory.path + "/from-nats.out", encoding: .utf8)
        #expect(got == "credential.captured {\"from\":\"nats-py\"}\n", "\(got)")
        let stopped = try await ProcessRunner.run(binary.path, ["bus", "stop"], environment: environment)
        #expect(stopped.standardOutput.contains("stopped"))
    }
}
