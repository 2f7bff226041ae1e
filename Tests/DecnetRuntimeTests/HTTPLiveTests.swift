import DecnetCore
import DecnetTesting
import Foundation
import NIOCore
import Testing

/// http against the real `curl`, and raw hostile requests.
@Suite struct HTTPLiveTests {
    @Test(.enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"))
    func curlPostsAWordPressLoginAndItIsCaptured() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let service = try await LiveService.start(
            "http",
            persona: ["fake_app": "wordpress", "users": "editor:Spring2024"]
        )
        let base = "http://127.0.0.1:\(service.port)"
        let home = try await ProcessRunner.run(curl, ["-sS", "-i", base + "/"])
        #expect(
            home.standardOutput.hasPrefix("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"),
            "\(home.standardOutput.prefix(200))"
        )
        let failed = try await ProcessRunner.run(
            curl,
            ["-sS", "-A", "hydra", "-d", "log=admin&pwd=letmein", base + "/wp-login.php"]
        )
        #expect(failed.standardOutput.contains("is incorrect"))
        let good = try await ProcessRunner.run(
            curl,
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-d", "log=editor&pwd=Spring2024", base + "/wp-login.php"]
        )
        #expect(good.standardOutput == "302")
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 3 }
        await service.stop()

        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "admin" && failure[field: "password"] == "letmein")
        #expect(failure.service == "http" && failure.decky == "decky-test" && failure.source.ip == "127.0.0.1")
        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "editor" && success[field: "password"] == "Spring2024")
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "user_agent"] == "hydra" })
    }

    @Test func garbageGetsA400AndOversizedHeadersAClose() async throws {
        let service = try await LiveService.start("http", persona: [:])
        // The close is what is tested, not its speed: a loaded CI machine gets 15 s.
        let garbage = try await RawTCP.exchange(
            port: service.port,
            send: Array("\u{1}\u{2}GARBAGE \u{0}\r\n\r\n".utf8),
            timeout: .seconds(15)
        )
        #expect(String(decoding: garbage.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(garbage.closedByServer)
        let huge = try await RawTCP.exchange(
            port: service.port,
            send: Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200_000)).utf8)
        )
        #expect(huge.closedByServer)
        await service.capture.wait { $0.contains { $0.id == .clientMalformed } }
        await service.stop()
        #expect(service.capture.events(.clientMalformed).count >= 1)
    }
}

/// https: the decky's own certificate, and the client's JA3/JA4 taken from its ClientHello.
@Suite struct HTTPSLiveTests {
    @Test(.enabled(if: ExternalTool.curl.isUsable, "needs curl (required under CI)"))
    func curlOverTLSIsServedAndFingerprinted() async throws {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let service = try await LiveService.start(
            "http",
            persona: ["server_header": "Apache/2.4.57 (Debian)", "fake_app": "admin", "users": "ops:Autumn2024"],
            tls: true
        )
        let port = service.port
        let result = try await ProcessRunner.run(
            curl,
            ["-sS", "-k", "-v", "--resolve", "db-01:\(port):127.0.0.1", "https://db-01:\(port)/login"]
        )
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("Administration - Sign in"))
        #expect(result.standardError.contains("subject: CN=db-01"), "\(result.standardError)")
        let login = try await ProcessRunner.run(
            curl,
            [
                "-sS", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-d", "username=ops&password=Autumn2024",
                "https://127.0.0.1:\(port)/login",
            ]
        )
        #expect(login.standardOutput == "302", "\(login.standardError)")
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 2 }
        await service.stop()
        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "ops" && success[field: "password"] == "Autumn2024")
        #expect(success.service == "http" && success.decky == "decky-test" && success.source.ip == "127.0.0.1")
        let fingerprint = try #require(service.capture.events(.clientFingerprint).first { $0[field: "ja3"] != nil })
        #expect(fingerprint[field: "ja3"]?.count == 32)
        #expect(
            fingerprint[field: "ja4"]?.range(
                of: "^t1[23]d[0-9]{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$",
                options: .regularExpression
            ) != nil,
            "\(fingerprint[field: "ja4"] ?? "")"
        )
        #expect(fingerprint[field: "sni"] == "db-01")
        #expect(fingerprint[field: "alpn"]?.contains("http/1.1") == true)
    }
}
