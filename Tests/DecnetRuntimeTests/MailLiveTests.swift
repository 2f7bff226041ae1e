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

    /// pop3s (995) and imaps (993) speak TLS from the first byte, as Dovecot does there: curl logs in over TLS, the
    /// credentials are captured and the client's TLS fingerprint is recorded.
    @Test(
        .enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"),
        arguments: [("pop3", "pop3s"), ("imap", "imaps")]
    )
    func implicitTLSPortsSpeakTLSAndCaptureTheLogin(_ slug: String, _ scheme: String) async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let service = try await LiveService.start(ServiceKind(slug), persona: ["users": "bob:hunter2"], tls: true)
        let base = "\(scheme)://127.0.0.1:\(service.port)/"
        let denied = try await ProcessRunner.run(curl, ["-sS", "-k", base, "--user", "eve:Tls-Secret1"])
        #expect(denied.status == 67, "\(denied.standardError)")
        let mailbox = slug == "imap" ? base + "INBOX;UID=1" : base + "1"
        let fetched = try await ProcessRunner.run(curl, ["-sS", "-k", mailbox, "--user", "bob:hunter2"])
        #expect(fetched.standardOutput.contains("Subject: VPN access for the new site"), "\(fetched.standardError)")
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 2 }
        await service.stop()

        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "eve" && failure[field: "password"] == "Tls-Secret1")
        let fingerprints = service.capture.events(.clientFingerprint)
        #expect(fingerprints.count == 2)
        #expect(fingerprints.allSatisfy { $0[field: "ja3"]?.count == 32 && $0[field: "ja4"]?.hasPrefix("t13") == true })
    }
}
