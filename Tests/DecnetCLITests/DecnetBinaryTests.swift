import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `decnet` binary, run as a user runs it.
@Suite struct DecnetBinaryTests {
    static func decnet(_ arguments: [String], in directory: TemporaryDirectory? = nil) async throws -> ProcessResult {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        var environment = ["DECNET_STATE_DIR": directory?.path ?? "/nonexistent-decnet-state"]
        environment["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
        return try await ProcessRunner.run(binary.path, arguments, in: directory?.url, environment: environment)
    }

    static func json(_ arguments: [String]) async throws -> [[String: Any]] {
        let result = try await Self.decnet(arguments)
        #expect(result.status == 0, "\(result.standardError)")
        return try #require(
            try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]]
        )
    }

    @Test func servicesListsTheTwentyFiveWithPorts() async throws {
        let rows = try await Self.json(["services", "--json"])
        // The seed's 25, then DECNET-Swift's additions (canary).
        let catalogue = ServiceCatalogue.all + ServiceCatalogue.additions
        #expect(rows.count == 25 + ServiceCatalogue.additions.count && rows.count == catalogue.count)
        for (row, definition) in zip(rows, catalogue) {
            #expect(row["slug"] as? String == definition.kind.rawValue)
            #expect(row["ports"] as? [Int] == definition.ports.map { Int($0.number) })
        }
        let implemented = Set(rows.filter { $0["implemented"] as? Bool == true }.compactMap { $0["slug"] as? String })
        #expect(implemented == Set(catalogue.map(\.kind.rawValue)), "every slug has an emulator")
        let table = try await Self.decnet(["services"])
        #expect(table.status == 0)
        for definition in catalogue {
            #expect(table.standardOutput.contains("\n" + definition.kind.rawValue + " "), "\(definition.kind)")
        }
    }

    /// The seed's agent mode: with DECNET_MODE=agent (in the environment or in .env.local) the master-only
    /// commands are refused with a message saying why, and `--help` does not list them; the rest work.
    @Test func anAgentHidesAndRefusesTheMastersCommands() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let state = ["DECNET_STATE_DIR": directory.path]
        let agent = state.merging(["DECNET_MODE": "agent"]) { $1 }
        let help = try await ProcessRunner.run(binary.path, ["--help"], environment: agent)
        let listed = Set(
            help.standardOutput.split(separator: "\n").compactMap { line -> String? in
                line.hasPrefix("  ") ? line.split(separator: " ").first.map(String.init) : nil
            }
        )
        #expect(
            listed.isDisjoint(with: ["api", "web", "swarm", "swarmctl", "updater", "workers", "profiler"]),
            "\(listed)"
        )
        #expect(listed.isSuperset(of: ["deploy", "status", "agent", "bus", "forwarder", "sniffer"]), "\(listed)")
        let master = try await ProcessRunner.run(binary.path, ["--help"], environment: state)
        #expect(master.standardOutput.contains("  updater ") && master.standardOutput.contains("  swarmctl "))
        for command in [["api", "start"], ["swarm", "list"], ["updater", "push", "--host", "x"]] {
            let refused = try await ProcessRunner.run(binary.path, command, environment: agent)
            #expect(refused.status == 64, "\(command): \(refused.standardError)")
            #expect(
                refused.standardError.contains(
                    "error: decnet \(command[0]) runs on the master; this host is an agent (DECNET_MODE=agent)"
                ),
                "\(refused.standardError)"
            )
        }
        // From .env.local, as an operator's deployment sets it.
        try "DECNET_MODE=agent\n".write(toFile: directory.path + "/.env.local", atomically: true, encoding: .utf8)
        let fromFile = try await ProcessRunner.run(
            binary.path,
            ["swarm", "list"],
            in: directory.url,
            environment: state
        )
        #expect(
            fromFile.status == 64 && fromFile.standardError.contains("this host is an agent"),
            "\(fromFile.standardError)"
        )
        let allowed = try await ProcessRunner.run(
            binary.path,
            ["status", "--json"],
            in: directory.url,
            environment: state
        )
        #expect(allowed.status == 0, "\(allowed.standardError)")
    }

    @Test func archetypesListsTheFifteenWithServicesAndOS() async throws {
        let rows = try await Self.json(["archetypes", "--json"])
        #expect(rows.map { $0["slug"] as? String } == ArchetypeCatalogue.all.map(\.slug))
        #expect(rows.map { $0["osFamily"] as? String } == ArchetypeCatalogue.all.map(\.osFamily.rawValue))
        #expect(rows.map { $0["services"] as? [String] } == ArchetypeCatalogue.all.map { $0.services.map(\.rawValue) })
        #expect(try await Self.decnet(["archetypes"]).standardOutput.contains("domain-controller"))
    }

    @Test func distrosListsTheNine() async throws {
        let rows = try await Self.json(["distros", "--json"])
        #expect(rows.map { $0["slug"] as? String } == DistroCatalogue.all.map(\.slug))
        #expect(rows.map { $0["image"] as? String } == DistroCatalogue.all.map(\.image))
        #expect(try await Self.decnet(["distros"]).standardOutput.contains("Ubuntu 22.04 LTS (Jammy)"))
    }

    /// The acceptance run: a dry run writes state and a compose file docker-compose accepts, and
    /// `status` then shows the fleet.
    @Test(.enabled(if: ExternalTool.dockerCompose.isUsable, "needs docker-compose (required under CI)"))
    func dryRunsWriteAComposeFileDockerComposeAccepts() async throws {
        let compose = try #require(ExternalTool.dockerCompose.path, "\(ExternalTool.dockerCompose.missingMessage)")
        let testFull = PackageLayout.root.appendingPathComponent("test-full.ini").path
        let runs: [[String]] = [
            [
                "deploy", "--mode", "unihost", "--deckies", "5", "--randomize-services", "--dry-run", "--subnet",
                "10.77.0.0/24",
            ],
            ["deploy", "--mode", "unihost", "--deckies", "5", "--randomize-services", "--dry-run"],
            ["deploy", "--config", testFull, "--dry-run"],
        ]
        for arguments in runs {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let before = try await Self.decnet(["status"], in: directory)
            #expect(before.standardOutput.hasPrefix("Nothing is deployed"))

            let deploy = try await Self.decnet(arguments, in: directory)
            #expect(deploy.status == 0, "\(arguments): \(deploy.standardError)")
            let composeFile = directory.url.appendingPathComponent("docker-compose.yml").path
            let check = try await ProcessRunner.run(
                compose,
                ["-f", composeFile, "config", "--services"],
                in: directory.url
            )
            #expect(check.status == 0, "\(check.standardError)")

            let state = try #require(try FleetState.read(fromDirectory: directory.path))
            #expect(state.deployed == false)
            let containers = Set(check.standardOutput.split(separator: "\n").map(String.init))
            #expect(
                containers.count == state.fleet.deckies.count + state.fleet.deckies.reduce(0) { $0 + $1.services.count }
            )
            for decky in state.fleet.deckies {
                #expect(containers.contains(decky.name))
            }
            let status = try await Self.decnet(["status"], in: directory)
            #expect(status.status == 0)
            #expect(status.standardOutput.contains("planned only (dry run)"))
            for decky in state.fleet.deckies {
                #expect(
                    status.standardOutput.contains(decky.name) && status.standardOutput.contains(decky.ip.description)
                )
            }
        }
    }

    @Test func badConfigExitsNonZeroNamingEveryProblem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("bad.ini")
        try
            "[general]\nnet = 10.0.0.0/33\ngw = 10.0.0.1\n[decky-01]\nservices = ssh, warp\n[decky-01.ssh]\ncolour = blue\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let result = try await Self.decnet(["deploy", "--config", file.path, "--dry-run"], in: directory)
        #expect(result.status == 64)
        #expect(result.standardError.contains("\(file.path):2: [general] net: '10.0.0.0/33' is not a subnet"))
        #expect(result.standardError.contains("\(file.path):7: [decky-01.ssh] colour: unknown persona key"))
        #expect(
            !FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("docker-compose.yml").path)
        )
    }

    @Test func withoutDryRunAndWithoutAnEngineTheDockerDriverSaysSo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try await Self.decnet(
            ["deploy", "--driver", "docker", "-n", "2", "--services", "ssh", "--subnet", "10.77.0.0/24"],
            in: directory
        )
        #expect(result.status == 1)
        #expect(
            result.standardError.contains(
                "the Docker driver cannot deploy: no Docker engine: /nonexistent/docker.sock does not exist"
            )
        )
        #expect(result.standardError.contains("--dry-run"))
    }

    @Test func initCreatesADeploymentDirectoryThatDeploys() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let target = directory.url.appendingPathComponent("site").path
        let result = try await Self.decnet(["init", target], in: directory)
        #expect(result.status == 0, "\(result.standardError)")
        let env = try String(contentsOfFile: target + "/.env.local", encoding: .utf8)
        #expect(env.range(of: "DECNET_JWT_SECRET=[0-9a-f]{64}\n", options: .regularExpression) != nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: target + "/.env.local")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try await Self.decnet(["init", target], in: directory).status != 0, "refuses to overwrite")
        let deploy = try await Self.decnet(["deploy", "--config", target + "/decnet.ini", "--dry-run"], in: directory)
        #expect(deploy.status == 0, "\(deploy.standardError)")
        #expect(deploy.standardOutput.contains("corp-workstations-03"))
    }
}

/// `decnet service run` as a process: it serves, and on SIGTERM writes every captured event before exiting.
@Suite struct ServiceRunBinaryTests {
    @Test(.enabled(if: ExternalTool.redisCLI.isUsable, "needs redis-cli (required under CI)"))
    func serviceRunCapturesToItsLogFileAndFlushesOnTerm() async throws {
        let redisCLI = try #require(ExternalTool.redisCLI.path, "\(ExternalTool.redisCLI.missingMessage)")
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.url.appendingPathComponent("events.log").path
        let port = Int.random(in: 20_000...40_000)
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "service", "run", "redis", "--bind", "127.0.0.1:\(port)", "--quiet", "--log-file", log, "--decky",
            "decky-09",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var answered = false
        for _ in 0..<100 where !answered {
            let ping = try await ProcessRunner.run(redisCLI, ["-p", String(port), "PING"])
            answered = ping.standardOutput == "PONG\n"
            if !answered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answered)
        for attempt in 0..<20 {
            _ = try await ProcessRunner.run(
                redisCLI,
                ["-p", String(port), "-a", "guess\(attempt)", "--no-auth-warning", "PING"]
            )
        }
        process.terminate()
        var iterator = exited.stream.makeAsyncIterator()
        let status = await iterator.next()
        #expect(status == 0)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        let failures = lines.filter { $0.contains(" login.failed [decnet@32473 ") }
        #expect(failures.count == 20, "every AUTH captured before exit")
        #expect(failures.allSatisfy { $0.contains("decky=\"decky-09\"") && $0.contains("service=\"redis\"") })
        #expect(
            lines.filter { $0.contains(" connection.close [") }.count
                == lines.filter { $0.contains(" connection.open [") }.count
        )
    }
}

/// `decnet lab` as a user runs it (root; CI runs as root).
@Suite struct LabBinaryTests {
    @Test(.enabled(if: getuid() == 0 || ExternalTool.isCI, "needs root to make network namespaces (CI runs as root)"))
    func labUpExecDownLeavesNothingBehind() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let name = "b\(UInt16.random(in: 1000...9999))"
        let up = try await DecnetBinaryTests.decnet(
            ["lab", "up", "--name", name, "--subnet", "10.78.3.0/24"],
            in: directory
        )
        #expect(up.status == 0, "\(up.standardError)")
        let exec = try await DecnetBinaryTests.decnet(
            ["lab", "exec", "--", "ip", "-4", "-brief", "addr", "show", "eth0"],
            in: directory
        )
        #expect(exec.standardOutput.contains("10.78.3.254/24"), "\(exec.standardOutput)\(exec.standardError)")
        let status = try await DecnetBinaryTests.decnet(["lab", "status"], in: directory)
        #expect(status.standardOutput.contains("up; attacker 10.78.3.254"))
        #expect(try await DecnetBinaryTests.decnet(["lab", "down"], in: directory).status == 0)
        #expect(
            try await DecnetBinaryTests.decnet(["lab", "down"], in: directory).standardOutput.contains("no lab is up")
        )
        let namespaces = try await ProcessRunner.run("/usr/sbin/ip", ["netns", "list"])
        #expect(!namespaces.standardOutput.contains(name))
    }
}
