import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// pop3 and imap against the real `curl`: a login with known credentials, a failed one, and a fetch.
@Suite struct MailLiveTests {
    @Test(.enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"), arguments: ["pop3", "imap"])
    func curlLogsInFetchesAndFailedLoginsAreCaptured(_ slug: String) async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let service = try await LiveService.start(ServiceKind(slug), persona: ["users": "bob:hunter2"])
        let base = "\(slug)://127.0.0.1:\(service.port)/"
        let mailbox = slug == "imap" ? base + "INBOX;UID=1" : base + "1"
        let fetched = try await ProcessRunner.run(curl, ["-sS", mailbox, "--user", "bob:hunter2"])
        #expect(fetched.status == 0, "\(fetched.standardError)")
        #expect(fetched.standardOutput.contains("Subject: VPN access for the new site"))
        let denied = try await ProcessRunner.run(curl, ["-sS", base, "--user", "admin:P@ss w0rd"])
        #expect(denied.status == 67, "\(denied.standardError)")
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 2 }
        await service.stop()

        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "bob" && success[field: "password"] == "hunter2")
        #expect(
            success.service == ServiceKind(slug) && success.decky == "decky-test" && success.source.ip == "127.0.0.1"
        )
        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "admin" && failure[field: "password"] == "P@ss w0rd")
        #expect(!service.capture.events(.fileDownload).isEmpty)
    }
}
