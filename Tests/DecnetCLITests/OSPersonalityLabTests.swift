import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// OS personalities judged from outside, as an attacker would: one decky per personality on a lab LAN, each
/// with an open TCP port, scanned by `nmap -O` from the lab's attacker and watched by p0f while a client
/// connects; a Windows decky with `os_shaping = off`, which nmap must then not call Windows; and the queues
/// failing open when the engine dies.
@Suite(.serialized) struct OSPersonalityLabTests {
    static var ready: Bool {
        NativeEngineTests.rootOrCI && [ExternalTool.nmap, .p0f, SMBLiveTestsTool.smbclient].allSatisfy(\.isUsable)
    }

    /// decky → (fleet section body, what nmap's best guess must contain, what p0f must say or nil).
    static let deckies: [(name: String, section: String, nmap: String, p0f: String?)] = [
        ("lin", "services = ssh\nnmap_os = linux", "Linux", "Linux"),
        ("win", "archetype = windows-workstation", "Windows", "Windows"),
        ("srv", "archetype = windows-server", "Windows", "Windows"),
        ("bsd", "services = ssh\nnmap_os = bsd", "FreeBSD", "FreeBSD"),
        ("prn", "archetype = printer", "printer", nil),
        ("rtr", "services = telnet, ssh\nnmap_os = cisco", "Cisco", nil),
    ]

    @Test(.enabled(if: ready, "needs root, nmap and p0f (CI installs them)"))
    func nmapAndP0fNameEachPersonalitysOS() async throws {
        try #require(getuid() == 0, "network namespaces need root")
        let nmap = try #require(ExternalTool.nmap.path)
        let p0fTool = try #require(ExternalTool.p0f.path, "\(ExternalTool.p0f.missingMessage)")
        let smbclient = try #require(SMBLiveTestsTool.smbclient.path)
        try await NativeFleetHarness.with { harness in
            let tag = harness.tag
            let net = "10.76.\(Int.random(in: 1...250))"
            var fleet = "[general]\nnet = \(net).0/24\n"
            for (index, decky) in Self.deckies.enumerated() {
                fleet += "\n[\(tag)-\(decky.name)]\nip = \(net).\(10 + index)\n\(decky.section)\n"
            }
            fleet += "\n[\(tag)-off]\nip = \(net).20\narchetype = windows-workstation\nos_shaping = off\n"
            let file = harness.directory.url.appendingPathComponent("fleet.ini")
            try fleet.write(to: file, atomically: true, encoding: .utf8)
            let deploy = try await harness.decnet(["deploy", "--config", file.path, "--lab", "--lab-name", tag])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")

            // nmap -O (its OS guesses even below a perfect match) against every decky at once.
            let targets = (0..<Self.deckies.count).map { "\(net).\(10 + $0)" } + ["\(net).20"]
            let scan = try await harness.attacker(
                [nmap, "-O", "--osscan-guess", "-n", "-Pn", "-T4", "-oX", "-"] + targets
            )
            let hosts = try NmapXML(scan.standardOutput).hosts
            for (index, decky) in Self.deckies.enumerated() {
                let host = hosts.first { $0.address == "\(net).\(10 + index)" }
                let best = host?.osMatches.first ?? "no guess"
                #expect(best.contains(decky.nmap), "\(decky.name): nmap's best guess is \(best)")
            }
            // The same Windows decky with its packets left as Linux sends them is not Windows to nmap.
            let off = hosts.first { $0.address == "\(net).20" }?.osMatches.first ?? "no guess"
            #expect(!off.contains("Windows"), "os_shaping = off: nmap's best guess is \(off)")

            // p0f on the attacker reads each decky's SYN-ACK to a plain client's connection. A loaded machine may
            // start p0f late or miss a packet, so each decky p0f has not yet named is connected to again, until
            // every one is named or 30 s have passed.
            let p0fLog = harness.directory.url.appendingPathComponent("p0f.log").path
            let p0fPID = harness.directory.url.appendingPathComponent("p0f.pid").path
            async let p0f = ProcessRunner.run(
                "/usr/sbin/ip",
                [
                    "netns", "exec", "decnet-\(tag)-attacker", "bash", "-c",
                    "echo $$ > \(p0fPID); exec timeout -s KILL 40 \(p0fTool) -i eth0 -o \(p0fLog)",
                ]
            )
            func p0fSays(_ index: Int) -> String? {
                let lines = ((try? String(contentsOfFile: p0fLog, encoding: .utf8)) ?? "").split(separator: "\n")
                let seen = lines.first { $0.contains("|srv=\(net).\(10 + index)/") && $0.contains("|subj=srv|") }
                return seen?.split(separator: "|").first { $0.hasPrefix("os=") }.map(String.init)
            }
            try await Task.sleep(for: .seconds(2))
            let watched = Self.deckies.indices.filter { Self.deckies[$0].p0f != nil }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, watched.contains(where: { p0fSays($0) == nil }) {
                for index in watched where p0fSays(index) == nil {
                    let name = Self.deckies[index].name
                    let port = name == "win" || name == "srv" ? "445" : "22"
                    _ = try await harness.attacker([
                        "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/\(net).\(10 + index)/\(port); sleep 0.3",
                    ])
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            // A real client's whole SMB exchange still works through the shaped handshake.
            let login = try await harness.attacker([
                smbclient, "-L", "//\(net).11", "-U", "alice%Spring2026!", "-m", "SMB3",
            ])
            #expect(login.standardOutput.contains("NT_STATUS_LOGON_FAILURE"), "\(login.standardOutput)")
            if let pid = Int32(
                ((try? String(contentsOfFile: p0fPID, encoding: .utf8)) ?? "").trimmingCharacters(
                    in: .whitespacesAndNewlines
                )
            ) {
                kill(pid, SIGTERM)
            }
            _ = try await p0f
            for index in watched {
                let os = p0fSays(index) ?? "os=(none)"
                let decky = Self.deckies[index]
                #expect(os.contains(decky.p0f ?? ""), "\(decky.name): p0f says \(os)")
            }

            // What the layer did, per decky, in the engine's status.
            let status = try await harness.decnet(["status", "--json"])
            #expect(status.standardOutput.contains("\"personality\" : \"windows-server\""), "\(status.standardOutput)")

            // Fail-open: with the engine killed, no queue has a reader, and the shaped deckies' packets still leave
            // (unshaped): an echo reply, and the RST of a port nobody listens on any more.
            // (Packets queued at the very moment the reader dies are dropped by the kernel with its queue, so the
            // checks start once the queue is gone.)
            let engine = try #require(harness.enginePID)
            kill(engine, SIGKILL)
            var queues = "?"
            for _ in 0..<100 where !queues.isEmpty {
                try await Task.sleep(for: .milliseconds(50))
                queues = try await ProcessRunner.run(
                    "/usr/sbin/ip",
                    ["netns", "exec", "decnet-\(tag)-win", "cat", "/proc/net/netfilter/nfnetlink_queue"]
                ).standardOutput
            }
            #expect(queues.isEmpty, "the queue outlived the engine: \(queues)")
            let ping = try await harness.attacker(["ping", "-c", "1", "-W", "2", "\(net).11"])
            #expect(ping.status == 0, "no echo reply with the engine gone: \(ping.standardOutput)")
            let probe = try await harness.attacker([nmap, "-sS", "-n", "-Pn", "-p", "445", "-oX", "-", "\(net).11"])
            let state = try NmapXML(probe.standardOutput).ports.first?.state
            #expect(state == "closed", "445 with the engine gone reads \(state ?? "nothing"): its RST must still leave")
        }
    }
}
