import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The vnc service against hydra's vnc module and nmap's VNC probes and scripts.
@Suite struct VNCLiveTests {
    @Test(
        .enabled(
            if: SSHSessionLiveTests.hydra.isUsable && ExternalTool.nmap.isUsable,
            "needs hydra and nmap (required under CI)"
        )
    )
    func hydrasEveryPasswordIsCapturedAndNmapSeesRFB38() async throws {
        let hydra = try #require(SSHSessionLiveTests.hydra.path, "\(SSHSessionLiveTests.hydra.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "vnc",
            persona: ["vnc_password": "Tr0ub4dor"],
            host: "127.77.19.6",
            port: 5900,
            hostname: "ws01"
        )
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let words = directory.url.appendingPathComponent("words.txt")
        let guesses = ["123456", "Winter2024", "qwerty", "Tr0ub4dor"]
        try (guesses.joined(separator: "\n") + "\n").write(to: words, atomically: true, encoding: .utf8)
        let run = try await ProcessRunner.run(hydra, ["-P", words.path, "-t", "1", "vnc://127.77.19.6"])
        #expect(run.standardOutput.contains("password: Tr0ub4dor"), "\(run.standardOutput)\(run.standardError)")
        let scan = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "5900", "--script", "vnc-info", "127.77.19.6"]
        )
        await service.stop()

        #expect(scan.standardOutput.contains("5900/tcp open  vnc     VNC (protocol 3.8)"), "\(scan.standardOutput)")
        #expect(scan.standardOutput.contains("|_    VNC Authentication (2)"), "\(scan.standardOutput)")
        let failures = service.capture.events(.loginFailed).filter {
            $0[field: "method"] == "vnc-auth" && $0[field: "response_hex"] != nil
        }
        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "password"] == "Tr0ub4dor")
        // Every guess hydra made left its challenge and response; the weak ones are named at once.
        #expect(failures.count == 3, "\(failures)")
        #expect(Set(failures.compactMap { $0[field: "password"] }) == ["123456", "qwerty"])
        #expect(
            failures.allSatisfy { $0[field: "challenge_hex"]?.count == 32 && $0[field: "response_hex"]?.count == 32 }
        )
        #expect(Set(failures.compactMap { $0[field: "challenge_hex"] }).count == 3, "a fresh challenge per connection")
    }
}
