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

        // Offline, with OpenSSL's DES rather than ours: each captured pair verifies against exactly the guess
        // hydra made with it, the one the service could not name ("Winter2024") included.
        var verified: [String] = []
        for failure in failures {
            let challenge = failure[field: "challenge_hex"] ?? ""
            let response = failure[field: "response_hex"] ?? ""
            for guess in guesses
            where try await Self.opensslVNCResponse(challenge: challenge, password: guess) == response {
                verified.append(guess)
            }
        }
        #expect(verified.sorted() == ["123456", "Winter2024", "qwerty"], "\(verified)")
    }

    /// VNC authentication's response computed by OpenSSL (DES-ECB from its legacy provider, the key the password's
    /// first eight bytes with each byte's bits reversed, as RFB does), in hex.
    static func opensslVNCResponse(challenge: String, password: String) async throws -> String {
        let key = Array(password.utf8.prefix(8)) + [UInt8](repeating: 0, count: max(0, 8 - password.utf8.count))
        let reversed = key.map { byte in (0..<8).reduce(UInt8(0)) { $0 | (((byte >> $1) & 1) << (7 - $1)) } }
        let keyHex = reversed.map { String(format: "%02x", $0) }.joined()
        let run = try await ProcessRunner.run(
            "/bin/sh",
            [
                "-c",
                "python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' \"$CHALLENGE\" | openssl enc -des-ecb -K \"$KEY\" -nopad -provider legacy -provider default | python3 -c 'import sys; print(sys.stdin.buffer.read().hex())'",
            ],
            environment: ["CHALLENGE": challenge, "KEY": keyHex]
        )
        return run.standardOutput.filter { !$0.isWhitespace }
    }

    /// `vnc_version` 003.003 and 003.007 speak those versions: the greeting, 3.3's security type chosen by the
    /// server with the challenge at once, 3.7's list of types, and a failure without 3.8's reason string.
    @Test func olderVersionsGreetAndFrameAsTheirRFB() async throws {
        let client = """
            import socket, sys
            s = socket.create_connection(('127.77.19.7', int(sys.argv[1])), timeout=30)
            def read(n):
                data = b''
                while len(data) < n:
                    chunk = s.recv(n - len(data))
                    if not chunk:
                        break
                    data += chunk
                return data
            greeting = read(12)
            s.sendall(greeting)
            if greeting == b'RFB 003.003\\n':
                security = read(4)
            else:
                security = read(2)
                s.sendall(b'\\x02')
            challenge = read(16)
            s.sendall(bytes(16))
            result = read(4)
            rest = read(64)
            print(greeting.hex(), security.hex(), len(challenge), result.hex(), rest.hex())
            """
        for (version, security) in [("003.003", "00000002"), ("003.007", "0102")] {
            let service = try await LiveService.start(
                "vnc",
                persona: ["vnc_version": version],
                host: "127.77.19.7",
                port: 0,
                hostname: "ws02"
            )
            let run = try await ProcessRunner.run(
                "/bin/sh",
                ["-c", "python3 -c \"$CLIENT\" \(service.port)"],
                environment: ["CLIENT": client]
            )
            await service.capture.wait { $0.contains { $0.id == .loginFailed } }
            await service.stop()
            let greeting = Array("RFB \(version)\n".utf8).map { String(format: "%02x", $0) }.joined()
            // The greeting, the security handshake, a 16-byte challenge, failed (1), then the close: no reason.
            #expect(
                run.standardOutput == "\(greeting) \(security) 16 00000001 \n",
                "\(version): \(run.standardOutput)\(run.standardError)"
            )
            let failure = try #require(service.capture.events(.loginFailed).first)
            #expect(
                failure[field: "challenge_hex"]?.count == 32
                    && failure[field: "response_hex"] == String(repeating: "0", count: 32)
            )
        }
    }
}
