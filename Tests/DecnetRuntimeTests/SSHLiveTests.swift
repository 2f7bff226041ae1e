import Crypto
import DecnetCore
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import Testing

/// The SSH transport as far as it goes (issue 4), against Debian's OpenSSH 9.2p1 client.
@Suite struct SSHLiveTests {
    static let ssh = ExternalTool("ssh", package: "openssh-client")

    /// Options that make the client pick what the transport implements today.
    static let implemented = [
        "-o", "KexAlgorithms=curve25519-sha256", "-o", "Ciphers=aes128-ctr",
        "-o", "MACs=hmac-sha2-256-etm@openssh.com", "-o", "HostKeyAlgorithms=ssh-ed25519",
    ]

    /// No failure delay, for tests that only count attempts.
    static let fast = ["password_delay_ms": "0"]

    static func client(
        _ service: LiveService,
        _ options: [String],
        password: String,
        directory: TemporaryDirectory
    ) async throws -> ProcessResult {
        let ssh = try #require(Self.ssh.path, "\(Self.ssh.missingMessage)")
        // The password comes from an askpass program, as for a user at a terminal with no tty here.
        // A child process writes it: a file this (many-threaded) process had open for writing could be
        // inherited by a child another test forks meanwhile, and exec then fails with "Text file busy".
        let askpass = directory.url.appendingPathComponent("askpass.sh")
        let written = try await ProcessRunner.run(
            "/bin/sh",
            [
                "-c", "printf '%s\\n' '#!/bin/sh' \"echo '$1'\" >\"$2\" && chmod 700 \"$2\"", "sh", password,
                askpass.path,
            ]
        )
        try #require(written.status == 0, "askpass: \(written.standardError)")
        return try await ProcessRunner.run(
            "/usr/bin/setsid",
            [
                // The caller's options first: ssh keeps the first value it reads for each.
                "--wait", ssh, "-v", "-p", "\(service.port)",
            ] + options + [
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o",
                "NumberOfPasswordPrompts=2", "-o", "ConnectTimeout=30", "root@127.0.0.1", "true",
            ],
            environment: ["SSH_ASKPASS": askpass.path, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
        )
    }

    @Test(.enabled(if: ssh.isUsable, "needs Debian's ssh client (required under CI)"))
    func passwordsAreCapturedOverCurve25519AndAESCTR() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let service = try await LiveService.start(
            "ssh",
            persona: Self.fast,
            registry: [SSHService.self],
            keyDirectory: directory.url.appendingPathComponent("keys").path
        )
        let result = try await Self.client(service, Self.implemented, password: "Sup3r-s3cret", directory: directory)
        #expect(
            result.standardError.contains(
                "Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2+deb12u10"
            )
        )
        #expect(result.standardError.contains("kex: algorithm: curve25519-sha256"))
        #expect(result.standardError.contains("SSH2_MSG_SERVICE_ACCEPT received"))
        #expect(result.standardError.contains("Authentications that can continue: publickey,password"))
        #expect(result.standardError.contains("Permission denied"))
        await service.capture.wait { $0.filter { $0.id == .loginFailed }.count >= 2 }
        let logins = service.capture.events(.loginFailed)
        #expect(logins.count == 2, "two prompts, two passwords")
        #expect(logins.allSatisfy { $0[field: "username"] == "root" && $0[field: "password"] == "Sup3r-s3cret" })
        let fingerprint = try #require(service.capture.events(.clientFingerprint).first)
        #expect(fingerprint[field: "client_version"]?.hasPrefix("SSH-2.0-OpenSSH_9.2p1 Debian") == true)

        // The host key is kept: a second service on the same directory shows the same key.
        let first = result.standardError.split(whereSeparator: \.isNewline).first {
            $0.contains("Server host key: ssh-ed25519")
        }
        await service.stop()
        let again = try await LiveService.start(
            "ssh",
            persona: Self.fast,
            registry: [SSHService.self],
            keyDirectory: directory.url.appendingPathComponent("keys").path
        )
        let second = try await Self.client(again, Self.implemented, password: "x", directory: directory)
        await again.stop()
        let repeated = second.standardError.split(whereSeparator: \.isNewline).first {
            $0.contains("Server host key: ssh-ed25519")
        }
        #expect(first != nil && first == repeated, "\(first ?? "none") vs \(repeated ?? "none")")
    }

    /// With only the key exchange chosen for it, the client keeps its own first cipher,
    /// chacha20-poly1305@openssh.com (libsodium's ChaCha20 and Poly1305).
    @Test(.enabled(if: ssh.isUsable, "needs Debian's ssh client (required under CI)"))
    func theClientsOwnChaCha20Poly1305Works() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let service = try await LiveService.start("ssh", persona: Self.fast, registry: [SSHService.self])
        let result = try await Self.client(
            service,
            ["-o", "KexAlgorithms=curve25519-sha256"],
            password: "chacha-pass",
            directory: directory
        )
        #expect(result.standardError.contains("kex: server->client cipher: chacha20-poly1305@openssh.com"))
        #expect(result.standardError.contains("Authentications that can continue: publickey,password"))
        let logins = await service.capture.wait(for: .loginFailed, count: 2)
        await service.stop()
        #expect(logins.count == 2)
        #expect(logins.allSatisfy { $0[field: "password"] == "chacha-pass" })
    }

    /// A client that asks for the ECDSA host key gets one, signed as RFC 5656 says.
    @Test(.enabled(if: ssh.isUsable, "needs Debian's ssh client (required under CI)"))
    func theECDSAHostKeyWorks() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let service = try await LiveService.start("ssh", persona: Self.fast, registry: [SSHService.self])
        let result = try await Self.client(
            service,
            ["-o", "HostKeyAlgorithms=ecdsa-sha2-nistp256"],
            password: "ecdsa-pass",
            directory: directory
        )
        #expect(
            result.standardError.contains("Server host key: ecdsa-sha2-nistp256 SHA256:"),
            "\(result.standardError)"
        )
        let logins = await service.capture.wait(for: .loginFailed, count: 2)
        await service.stop()
        #expect(logins.count == 2 && logins.allSatisfy { $0[field: "password"] == "ecdsa-pass" })
    }

    /// Debian 12's client with its defaults: sntrup761x25519-sha512, chacha20-poly1305, Ed25519 (its first
    /// choices against the Debian 12 profile), fingerprinted and its passwords captured.
    @Test(.enabled(if: ssh.isUsable, "needs Debian's ssh client (required under CI)"))
    func aDefaultClientNegotiatesAsWithRealOpenSSHAndIsCaptured() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let service = try await LiveService.start("ssh", registry: [SSHService.self])
        let result = try await Self.client(service, [], password: "default-pass", directory: directory)
        #expect(result.standardError.contains("kex: algorithm: sntrup761x25519-sha512"), "\(result.standardError)")
        #expect(result.standardError.contains("kex: host key algorithm: ssh-ed25519"))
        #expect(result.standardError.contains("kex: server->client cipher: chacha20-poly1305@openssh.com"))
        #expect(result.standardError.contains("Authentications that can continue: publickey,password"))
        let logins = await service.capture.wait(for: .loginFailed, count: 2)
        await service.stop()
        #expect(logins.count == 2 && logins.allSatisfy { $0[field: "password"] == "default-pass" })
        let fingerprint = try #require(service.capture.events(.clientFingerprint).first)
        #expect(fingerprint[field: "hassh"] == "472b5de333ad665af5cbf10ff892c4df")
        // PAM's failure delay (2 s ± 25 %) separates the two attempts, as on a real Debian host.
        let gap = logins[1].time.timeIntervalSince(logins[0].time)
        #expect(gap >= 1.4, "\(gap) s between attempts")
    }

    /// Each algorithm the profile offers, picked by the client one at a time: the login prompt is reached and
    /// the password captured.
    @Test(
        .enabled(if: ssh.isUsable, "needs Debian's ssh client (required under CI)"),
        arguments: [
            ["KexAlgorithms=ecdh-sha2-nistp256"], ["KexAlgorithms=ecdh-sha2-nistp384"],
            ["KexAlgorithms=ecdh-sha2-nistp521"], ["KexAlgorithms=curve25519-sha256@libssh.org"],
            ["KexAlgorithms=diffie-hellman-group14-sha256"], ["KexAlgorithms=diffie-hellman-group16-sha512"],
            ["KexAlgorithms=diffie-hellman-group18-sha512"], ["KexAlgorithms=diffie-hellman-group-exchange-sha256"],
            ["Ciphers=aes128-gcm@openssh.com"], ["Ciphers=aes256-gcm@openssh.com"],
            ["Ciphers=aes192-ctr", "MACs=hmac-sha2-512"], ["Ciphers=aes256-ctr", "MACs=hmac-sha2-256"],
            ["Ciphers=aes128-ctr", "MACs=hmac-sha1"], ["Ciphers=aes128-ctr", "MACs=hmac-sha1-etm@openssh.com"],
            ["Ciphers=aes256-ctr", "MACs=hmac-sha2-512-etm@openssh.com"],
            ["HostKeyAlgorithms=rsa-sha2-512"], ["HostKeyAlgorithms=rsa-sha2-256"],
            ["Ciphers=aes128-ctr", "MACs=umac-64-etm@openssh.com"],
            ["Ciphers=aes256-ctr", "MACs=umac-128-etm@openssh.com"],
            ["Ciphers=aes128-ctr", "MACs=umac-64@openssh.com"], ["Ciphers=aes192-ctr", "MACs=umac-128@openssh.com"],
        ]
    )
    func eachOfferedAlgorithmWorks(_ choice: [String]) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let service = try await LiveService.start("ssh", persona: Self.fast, registry: [SSHService.self])
        let result = try await Self.client(
            service,
            choice.flatMap { ["-o", $0] },
            password: "pick",
            directory: directory
        )
        let logins = await service.capture.wait(for: .loginFailed, count: 2)
        await service.stop()
        #expect(logins.count == 2 && logins.allSatisfy { $0[field: "password"] == "pick" }, "\(result.standardError)")
        for option in choice {
            let name = String(option.split(separator: "=")[1])
            #expect(result.standardError.contains(name), "\(option) negotiated")
        }
    }

    /// The RSA host key is made when first needed (the client waits), kept, and the same after a restart.
    @Test(.enabled(if: ssh.isUsable, "needs Debian's ssh client (required under CI)"))
    func theRSAHostKeyIsMadeOnceAndKept() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keys = directory.url.appendingPathComponent("keys").path
        var seen: [String] = []
        for _ in 0..<2 {
            let service = try await LiveService.start(
                "ssh",
                persona: Self.fast,
                registry: [SSHService.self],
                keyDirectory: keys
            )
            let result = try await Self.client(
                service,
                ["-o", "HostKeyAlgorithms=rsa-sha2-512"],
                password: "x",
                directory: directory
            )
            await service.capture.wait(for: .loginFailed, count: 2)
            await service.stop()
            let line = result.standardError.split(whereSeparator: \.isNewline).first {
                $0.contains("Server host key: ssh-rsa SHA256:")
            }
            seen.append(line.map(String.init) ?? "none: \(result.standardError)")
        }
        #expect(seen[0].contains("ssh-rsa") && seen[0] == seen[1], "\(seen)")
        let attributes = try FileManager.default.attributesOfItem(atPath: keys + "/ssh-host-rsa.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    /// What nmap sees: the claimed version from `-sV`, the claimed release's exact lists from
    /// `ssh2-enum-algos` (their HASSH-server is the real server's), and the host keys `ssh-hostkey` can fetch.
    @Test(
        .enabled(if: ExternalTool.nmap.isUsable, "needs nmap (required under CI)"),
        arguments: [
            ("debian", "127.77.1.16", "9.2p1 Debian 2+deb12u10", "425d29fe50d8e4f5e37efb6e24bcf660"),
            ("ubuntu22", "127.77.1.17", "8.9p1 Ubuntu 3ubuntu0.6", "41ff3ecd1458b0bf86e1b4891636213e"),
        ]
    )
    func nmapSeesTheClaimedOpenSSH(
        _ distro: String,
        _ host: String,
        _ version: String,
        _ hasshServer: String
    )
        async throws
    {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let service = try await LiveService.start(
            "ssh",
            host: host,
            port: 22,
            distro: distro,
            registry: [SSHService.self],
            keyDirectory: directory.url.path
        )
        let result = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "22", "--script", "ssh2-enum-algos,ssh-hostkey", host]
        )
        await service.stop()
        let output = result.standardOutput
        #expect(output.contains("22/tcp open  ssh     OpenSSH \(version) ("), "\(output)")
        // The lists as nmap prints them, one name per line under each heading.
        var lists: [String: [String]] = [:]
        var current: String?
        for line in output.split(whereSeparator: \.isNewline) {
            let text = line.drop { $0 == "|" || $0 == "_" || $0 == " " }
            if let heading = text.split(separator: ":").first, text.hasSuffix(")"), text.contains(": (") {
                current = String(heading)
                lists[String(heading)] = []
            } else if let name = current, line.hasPrefix("|       ") || line.hasPrefix("|_      ") {
                lists[name, default: []].append(String(text))
            } else {
                current = nil
            }
        }
        let text = ["kex_algorithms", "encryption_algorithms", "mac_algorithms", "compression_algorithms"]
            .map { (lists[$0] ?? []).joined(separator: ",") }.joined(separator: ";")
        #expect(SSHHASSH.md5(text) == hasshServer, "\(lists)")
        #expect(
            lists["server_host_key_algorithms"] == [
                "rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256", "ssh-ed25519",
            ]
        )
        let keys = output.split(whereSeparator: \.isNewline).filter {
            $0.hasSuffix("(RSA)") || $0.hasSuffix("(ECDSA)") || $0.hasSuffix("(ED25519)")
        }
        // nmap 7.93 asks for `ssh-rsa` (SHA-1), which OpenSSH 8.8 and later no longer offer: a real 9.2 or 8.9
        // shows it the ECDSA and Ed25519 keys only, and so does a decky.
        #expect(keys.count == 2 && keys[0].hasPrefix("|   256 ") && keys[0].hasSuffix("(ECDSA)"), "\(output)")
        #expect(keys.last?.hasSuffix("(ED25519)") == true)
    }
}

/// HASSH's MD5, computed here from what nmap printed, independently of the service's own code.
enum SSHHASSH {
    static func md5(_ text: String) -> String {
        Insecure.MD5.hash(data: Array(text.utf8)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
