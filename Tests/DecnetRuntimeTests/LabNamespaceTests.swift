import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A decky made of a network namespace on a lab LAN of namespaces, its redis socket opened inside it by this
/// process, scanned and logged into from the lab's attacker namespace. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN);
/// CI runs as root.
@Suite(.serialized) struct LabNamespaceTests {
    static var isRoot: Bool { getuid() == 0 }

    @Test(.enabled(if: isRoot || ExternalTool.isCI, "needs root to make network namespaces (CI runs as root)"))
    func aDeckyNamespaceServesTheLabAndLooksLikeItsOSFamily() async throws {
        try #require(Self.isRoot, "network namespaces need root")
        let tag = "t\(UInt16.random(in: 1000...9999))"
        let subnet = try #require(IPv4Network("10.79.\(Int.random(in: 1...250)).0/24"))
        let lab = LabNetwork(name: "lab\(tag)", subnet: subnet)
        let decky = Decky(
            name: "\(tag)-win",
            ip: IPv4Address(subnet.network.value + 10),
            mac: try #require(MACAddress("00:15:5d:12:34:56")),
            hostname: "DESKTOP-7Q2K1LX",
            distro: "debian",
            osFamily: .windows,
            archetype: nil,
            services: []
        )
        let namespace = DeckyNamespace(decky: decky)
        defer {
            // Teardown runs even when an expectation failed: nothing of ours may outlive the test.
            let cleanup = Task {
                await namespace.delete()
                await lab.down()
            }
            _ = cleanup
        }
        try await lab.up()
        try await namespace.create(on: lab, prefixLength: subnet.prefixLength, gateway: nil)

        let capture = EventCapture()
        let context = ServiceContext(
            decky: decky.name,
            hostname: decky.hostname,
            service: "redis",
            persona: ["redis_password": "pw"],
            sink: capture
        )
        let listener = try await ServiceLauncher.bind(
            "redis",
            registry: .builtin,
            context: context,
            host: decky.ip.description,
            port: 6379,
            namespace: namespace.namespace
        )
        let serving = Task { await listener.run() }

        let redisCLI = try #require(ExternalTool.redisCLI.path)
        let ping = try await ProcessRunner.run(
            "/usr/sbin/ip",
            [
                "netns", "exec", lab.attackerNamespace, redisCLI, "-h", decky.ip.description, "-a", "guess",
                "--no-auth-warning", "PING",
            ]
        )
        #expect(
            ping.standardOutput.contains("WRONGPASS") || ping.standardOutput.contains("NOAUTH"),
            "\(ping.standardOutput)\(ping.standardError)"
        )
        // The host's own namespace cannot reach the decky: it lives only on the lab LAN.
        let fromHost = try await ProcessRunner.run(redisCLI, ["-h", decky.ip.description, "PING"])
        #expect(fromHost.status != 0 || !fromHost.standardOutput.contains("PONG"))
        let icmp = try await ProcessRunner.run(
            "/usr/sbin/ip",
            ["netns", "exec", lab.attackerNamespace, "ping", "-c", "1", "-W", "2", decky.ip.description]
        )
        #expect(icmp.standardOutput.contains("ttl=128"), "the Windows family's TTL: \(icmp.standardOutput)")
        let neighbour = try await ProcessRunner.run(
            "/usr/sbin/ip",
            ["-n", lab.attackerNamespace, "neigh", "show", decky.ip.description]
        )
        #expect(neighbour.standardOutput.contains("00:15:5d:12:34:56"), "\(neighbour.standardOutput)")

        await capture.wait { $0.contains { $0.id == .loginFailed } }
        await listener.close()
        await serving.value
        let login = try #require(capture.events(.loginFailed).first)
        #expect(login.decky == decky.name)
        #expect(login.source.ip == lab.attackerAddress.description)
        #expect(login.destination.ip == decky.ip.description && login.destination.port == 6379)

        await namespace.delete()
        await lab.down()
        let left = await IPRoute.namespaces().filter { $0.contains(tag) }
        #expect(left.isEmpty, "teardown left \(left)")
    }
}

/// `ip -batch` as the engine uses it: every line is tried, and failures come back by line with ip's message.
@Suite struct IPRouteBatchTests {
    @Test(.enabled(if: getuid() == 0 || ExternalTool.isCI, "needs root to make network namespaces (CI runs as root)"))
    func failuresAreReportedByLineAndTheRestIsDone() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let scratch = "decnet-t\(UInt16.random(in: 1000...9999))-batch"
        try await IPRoute.ip("netns", "add", scratch)
        let failures = try await IPRoute.batch(
            [
                "link set lo up", "link set nosuchdev0 up", "link add v0 type veth peer name v1",
                "link del nosuchdev1",
            ],
            namespace: scratch
        )
        let links = try await IPRoute.ip("-n", scratch, "-brief", "link")
        // A line ip cannot even parse stops the run: that is an error of the whole batch, never a silent skip.
        await #expect {
            _ = try await IPRoute.batch(["addr add bogus dev v0", "link set v0 up"], namespace: scratch)
        } throws: { error in
            "\(error)".contains("ip -batch stopped") && "\(error)".contains("bogus")
        }
        await IPRoute.ipIgnoringFailure("netns", "del", scratch)
        #expect(Set(failures.keys) == [1, 3], "\(failures)")
        #expect(failures[1]?.contains("nosuchdev0") == true, "\(failures)")
        #expect(links.contains("v0@v1") && links.contains("lo"), "\(links)")
        #expect(!(await IPRoute.namespaces()).contains(scratch))
    }
}
