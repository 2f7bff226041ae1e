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
        let service = try await LiveService.start("telnet", persona: ["users": "admin:admin"])
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
    }
}
