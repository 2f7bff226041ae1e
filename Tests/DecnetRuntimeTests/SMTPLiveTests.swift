import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The smtp emulator against the real `curl`.
@Suite struct SMTPLiveTests {
    @Test(.enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"))
    func curlLogsInAndSendsAMessageThatIsStored() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let artifacts = try TemporaryDirectory()
        defer { artifacts.remove() }
        let service = try await LiveService.start(
            "smtp",
            persona: ["users": "alice:Spring2024"],
            artifactDirectory: artifacts.path
        )
        let url = "smtp://127.0.0.1:\(service.port)"
        let message = artifacts.url.appendingPathComponent("message.txt")
        try "Subject: invoice\r\n\r\nPlease see attached.\r\n".write(to: message, atomically: true, encoding: .utf8)
        let sent = try await ProcessRunner.run(
            curl,
            [
                "-sS", url, "--mail-from", "eve@evil.example", "--mail-rcpt", "root@db-01.localdomain", "--upload-file",
                message.path, "--user", "alice:Spring2024",
            ]
        )
        #expect(sent.status == 0, "\(sent.standardError)")
        let relay = try await ProcessRunner.run(
            curl,
            [
                "-sS", url, "--mail-from", "eve@evil.example", "--mail-rcpt", "victim@example.com", "--upload-file",
                message.path, "--user", "mallory:letmein",
            ]
        )
        #expect(relay.status != 0)
        #expect(
            relay.standardError.contains("535") || relay.standardError.contains("Login denied"),
            "\(relay.standardError)"
        )
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 2 }
        await service.stop()

        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "alice" && success[field: "password"] == "Spring2024")
        #expect(success.service == "smtp" && success.decky == "decky-test" && success.source.ip == "127.0.0.1")
        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "mallory" && failure[field: "password"] == "letmein")
        let payload = try #require(service.capture.events(.payloadReceived).first)
        #expect(payload[field: "from"] == "eve@evil.example")
        let path = try #require(payload[field: "path"])
        let stored = try String(contentsOfFile: path, encoding: .utf8)
        #expect(stored == "Subject: invoice\r\n\r\nPlease see attached.\r\n")
        #expect(payload[field: "sha256"] == URL(fileURLWithPath: path).lastPathComponent)
    }
}
