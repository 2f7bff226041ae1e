import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Docker driver end to end, against a real engine: a private `dockerd` (Debian's docker.io) with no bridge
/// and no iptables rules, the project image built from the repository's Dockerfile by scripts/docker-image.sh
/// (base image made with debootstrap: no registry is reachable), and the deckies' macvlan network on a lab veth
/// whose other end is in the lab's switch. Nothing touches the machine's own NIC.
@Suite(.serialized) struct DockerDriverTests {
    static var usable: Bool { (getuid() == 0 && DockerDaemon.isInstalled) || ExternalTool.isCI }

    @Test(.enabled(if: usable, "needs root and docker.io (CI installs it and runs as root)"))
    func twoDeckiesOfTwoServicesAreAttackedStoredManagedAndTornDown() async throws {
        try #require(getuid() == 0, "network namespaces and dockerd need root")
        let redisCLI = try #require(ExternalTool.redisCLI.path, "\(ExternalTool.redisCLI.missingMessage)")
        let mariadb = try #require(ExternalTool.mariadb.path, "\(ExternalTool.mariadb.missingMessage)")
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        var harness = try NativeFleetHarness()
        let tag = harness.tag
        let engine = try await DockerDaemon.start(in: "/tmp/decnet-docker-\(tag)")
        let log = harness.directory.url.appendingPathComponent("logs/decnet.log").path
        harness.extraEnvironment = [
            "DOCKER_HOST": engine.host,
            "DECNET_INGEST_LOG_FILE": log,
            // No Dockerfile here: deploy uses the image built below instead of compiling one.
            "DECNET_SOURCE_DIR": harness.directory.path,
            // Debian's client (docker.io) first, where another docker client is also installed.
            "PATH": "/usr/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/bin"),
        ]
        let hostEnd = "decnet-\(tag)-h"
        do {
            try await Self.run(
                harness,
                engine: engine,
                binary: binary,
                hostEnd: hostEnd,
                log: log,
                tools: (redisCLI, mariadb)
            )
        } catch {
            await Self.cleanUp(harness, engine: engine, hostEnd: hostEnd)
            throw error
        }
        await Self.cleanUp(harness, engine: engine, hostEnd: hostEnd)
        #expect(try await harness.namespacesLeft().isEmpty)
    }

    static func run(
        _ harness: NativeFleetHarness,
        engine: DockerDaemon,
        binary: URL,
        hostEnd: String,
        log: String,
        tools: (redis: String, mariadb: String)
    ) async throws {
        let tag = harness.tag
        let (redisCLI, mariadb) = tools
        let attacker = harness.attacker
        // The project image, from the repository's Dockerfile with this build's binary.
        let image = try await ProcessRunner.run(
            PackageLayout.root.appendingPathComponent("scripts/docker-image.sh").path,
            ["project", binary.path],
            in: PackageLayout.root,
            environment: ["DOCKER_HOST": engine.host]
        )
        try #require(image.status == 0, "docker-image.sh: \(image.standardOutput.suffix(3000)) \(image.standardError)")

        // The lab, and a veth from the host into its switch: the macvlan parent of the deckies' network.
        let third = Int.random(in: 1...250)
        let net = "10.78.\(third)"
        let up = try await harness.decnet(["lab", "up", "--name", tag, "--subnet", "\(net).0/24"])
        try #require(up.status == 0, "\(up.standardError)")
        let peer = "decnet-\(tag)-p"
        for command in [
            ["link", "add", hostEnd, "type", "veth", "peer", "name", peer],
            ["link", "set", peer, "netns", "decnet-\(tag)-switch"],
            ["-n", "decnet-\(tag)-switch", "link", "set", peer, "master", "br0", "up"],
            ["link", "set", hostEnd, "up"],
        ] {
            let result = try await ProcessRunner.run("/usr/sbin/ip", command)
            try #require(result.status == 0, "ip \(command): \(result.standardError)")
        }
        let web = "\(tag)-web"
        let db = "\(tag)-db"
        let fleet = """
            [general]
            net = \(net).0/24
            gw = \(net).1
            interface = \(hostEnd)

            [\(web)]
            ip = \(net).10
            services = redis, http
            distro = debian

            [\(db)]
            ip = \(net).11
            services = mysql, ftp
            distro = debian
            """
        let config = harness.directory.url.appendingPathComponent("fleet.ini")
        try fleet.write(to: config, atomically: true, encoding: .utf8)
        let deploy = try await harness.decnet(["deploy", "--driver", "docker", "--config", config.path])
        try #require(deploy.status == 0, "\(deploy.standardOutput)\n\(deploy.standardError)")

        // Four service containers and two base containers, all running, seen by `status`.
        let status = try await harness.decnet(["status"])
        #expect(status.status == 0, "\(status.standardError)")
        #expect(status.standardOutput.contains("redis:running http:running"), "\(status.standardOutput)")
        #expect(status.standardOutput.contains("mysql:running ftp:running"), "\(status.standardOutput)")

        // Logins from the lab's attacker, to one service of each decky.
        var redis: ProcessResult?
        for _ in 0..<50 {
            let result = try await attacker([
                redisCLI, "-h", "\(net).10", "-a", "Winter2024", "--no-auth-warning", "PING",
            ])
            redis = result
            if !result.standardOutput.isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(redis?.status == 0 && redis?.standardOutput.isEmpty == false, "\(redis?.standardError ?? "")")
        let mysql = try await attacker([
            mariadb, "-h", "\(net).11", "-u", "root", "-pSummer2025!", "--connect-timeout=10", "-e", "select 1",
        ])
        #expect(mysql.status != 0 && mysql.standardError.contains("Access denied"), "\(mysql.standardError)")

        // The containers' events are in the host's event log, and the workers store them.
        let attackerAddress = "\(net).254"
        var lines: [String] = []
        for _ in 0..<100 {
            lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            if lines.contains(where: { $0.contains(" mysql - login.") }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(lines.contains { $0.contains(" redis - login.") && $0.contains("src_ip=\"\(attackerAddress)\"") })
        #expect(lines.contains { $0.contains(" mysql - login.") && $0.contains("src_ip=\"\(attackerAddress)\"") })
        let ingest = try await harness.decnet(["workers", "start", "--once"])
        #expect(ingest.status == 0 && ingest.standardOutput.contains("0 rejected"), "\(ingest.standardOutput)")
        let store = try SQLiteEventStore(path: harness.directory.url.appendingPathComponent("decnet.db").path)
        let logins = try await store.logs(LogQuery(eventType: .loginFailed, attackerIP: attackerAddress))
        #expect(Set(logins.map(\.decky)) == [web, db], "\(logins.map(\.decky))")
        #expect(Set(logins.map(\.service.rawValue)) == ["redis", "mysql"])

        // lifecycle: one decky off the wire and back; the other keeps serving.
        let stop = try await harness.decnet(["lifecycle", "stop", "--id", db])
        #expect(stop.status == 0 && stop.standardOutput.contains("mysql:exited ftp:exited"), "\(stop.standardOutput)")
        let down = try await attacker(["ping", "-c", "1", "-W", "1", "\(net).11"])
        #expect(down.status != 0, "the stopped decky still answers ping")
        let still = try await attacker([redisCLI, "-h", "\(net).10", "PING"])
        #expect(still.standardOutput.contains("PONG"), "\(still.standardOutput) \(still.standardError)")
        let start = try await harness.decnet(["lifecycle", "start", "--id", db])
        #expect(start.status == 0 && start.standardOutput.contains("mysql:running ftp:running"))

        // teardown leaves no container and no network on the engine.
        let teardown = try await harness.decnet(["teardown", "--all"])
        #expect(teardown.status == 0, "\(teardown.standardError)")
        let containers = try await engine.docker(["ps", "-aq"])
        #expect(containers.status == 0 && containers.standardOutput.isEmpty, "\(containers.standardOutput)")
        let networks = try await engine.docker(["network", "ls", "--format", "{{.Name}}"])
        #expect(Set(networks.standardOutput.split(separator: "\n").map(String.init)) == ["host", "none"])
        let labDown = try await harness.decnet(["lab", "down"])
        #expect(labDown.status == 0)
    }

    /// Whatever the test made: the engine (and its containers), the lab's namespaces, the host's veth end.
    static func cleanUp(_ harness: NativeFleetHarness, engine: DockerDaemon, hostEnd: String) async {
        _ = try? await engine.docker(
            ["rm", "-f", "-v"]
                + ((try? await engine.docker(["ps", "-aq"]))?.standardOutput
                    .split(separator: "\n").map(String.init) ?? [])
        )
        await engine.stop()
        _ = try? await ProcessRunner.run("/usr/sbin/ip", ["link", "del", hostEnd])
        await harness.cleanUp()
    }
}
