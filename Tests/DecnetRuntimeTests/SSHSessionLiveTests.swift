import DecnetCore
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import NIOCore
import Testing

/// Logins the persona accepts, and what comes after them, against real clients: Debian's ssh (through a pty,
/// through sshpass, as sftp and scp), paramiko and hydra.
@Suite struct SSHSessionLiveTests {
    static let sshpass = ExternalTool("sshpass", package: "sshpass")
    static let hydra = ExternalTool("hydra", package: "hydra")
    /// Debian's interpreter, which has python3-pexpect and python3-paramiko from apt.
    static let python = "/usr/bin/python3"
    static let sshKeyscan = ExternalTool("ssh-keyscan", package: "openssh-client")
    static var usable: Bool { (sshpass.path != nil && SSHLiveTests.ssh.path != nil) || ExternalTool.isCI }

    static let persona = ["users": "root:toor,admin:admin123", "password_delay_ms": "0"]
    static let options = [
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password", "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR",
    ]

    static func start(
        _ persona: [String: String] = persona,
        artifacts: TemporaryDirectory? = nil
    ) async throws
        -> LiveService
    {
        try await LiveService.start(
            "ssh",
            persona: persona,
            artifactDirectory: artifacts?.url.path,
            registry: [SSHService.self]
        )
    }

    static func withPassword(_ password: String, _ tool: String, _ arguments: [String]) async throws -> ProcessResult {
        let sshpass = try #require(Self.sshpass.path, "\(Self.sshpass.missingMessage)")
        return try await ProcessRunner.run(sshpass, ["-p", password, tool] + arguments)
    }

    static func python(_ script: String, _ arguments: [String], module: String) async throws -> ProcessResult {
        let probe = try await ProcessRunner.run(Self.python, ["-c", "import \(module)"])
        try #require(probe.status == 0, "\(Self.python) cannot import \(module) (apt-get install python3-\(module))")
        let path = PackageLayout.root.appendingPathComponent("Tests/DecnetRuntimeTests/Scripts/\(script)").path
        return try await ProcessRunner.run(Self.python, [path] + arguments)
    }

    /// The issue's session: through a pty, `uname -a; id`, `cat /etc/os-release`, a download; each command and
    /// its output captured, the answers those of the decky's persona, the session kept as a recording.
    @Test(.enabled(if: usable, "needs ssh, python3-pexpect (required under CI)"))
    func anInteractiveSessionIsCapturedAndAgreesWithThePersona() async throws {
        let artifacts = try TemporaryDirectory()
        defer { artifacts.remove() }
        let service = try await Self.start(artifacts: artifacts)
        let result = try await Self.python(
            "ssh_session.py",
            ["127.0.0.1", String(service.port), "root", "toor"],
            module: "pexpect"
        )
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        let shown = result.standardOutput
        #expect(shown.contains("Linux db-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64"))
        #expect(shown.contains("uid=0(root) gid=0(root) groups=0(root)"))
        #expect(shown.contains("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\""))
        #expect(shown.contains("wget: unable to resolve host address ‘example.invalid’"))
        #expect(shown.contains("root@db-01:/tmp# ") || shown.contains("/tmp\r\n"))
        await service.capture.wait { $0.contains { $0.id == .sessionRecorded } }
        await service.stop()

        let login = try #require(service.capture.events(.loginSuccess).first)
        #expect(login[field: "username"] == "root" && login[field: "password"] == "toor")
        let commands = service.capture.events(.commandInput).compactMap { $0[field: "command"] }
        #expect(commands == ["uname", "id", "cat", "wget", "cd", "pwd", "exit"], "\(commands)")
        #expect(service.capture.events(.commandInput).allSatisfy { $0[field: "elapsed_ms"] != nil })
        #expect(service.capture.events(.fileDownload).first?[field: "url"] == "http://example.invalid/x.sh")
        let session = try #require(service.capture.events(.clientFingerprint).first { $0[field: "program"] == "shell" })
        #expect(session[field: "terminal"] != nil && session[field: "window"] != nil)
        let recorded = try #require(service.capture.events(.sessionRecorded).first)
        let recording = try String(contentsOfFile: try #require(recorded[field: "path"]), encoding: .utf8)
        #expect(recording.contains("\"i\",\"cat /etc/os-release\\r\""), "\(recording.prefix(400))")
        #expect(recording.contains("bookworm"))
    }

    /// Keystroke timing: a line typed key by key at a person's pace carries one read per key, the gaps between
    /// them and the corrections; a pasted line arrives in one read.
    @Test(.enabled(if: usable, "needs ssh, python3-pexpect (required under CI)"))
    func typedLinesCarryTheirKeystrokeTiming() async throws {
        let service = try await Self.start()
        let result = try await Self.python(
            "ssh_typist.py",
            ["127.0.0.1", String(service.port), "root", "toor", "id", "uname -a", "+cat /etc/passwd"],
            module: "pexpect"
        )
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        await service.capture.wait { $0.filter { $0.id == .commandInput }.count >= 4 }
        await service.stop()
        let lines = service.capture.events(.commandInput)
        let typed = try #require(lines.first { $0[field: "command"] == "uname" })
        // "uname -a": eight keys sent 80-300 ms apart, a read each, seven gaps. On a loaded machine the client may
        // be late to read its pty and send two keys in one packet (a gap of a few ms after a long one), so the
        // test holds the typist to "key by key at a person's pace": most keys their own read, a median gap in
        // the typist's range.
        let reads = Int(typed[field: "keystrokes"] ?? "") ?? 0
        #expect((6...8).contains(reads), "\(typed.fields)")
        let gaps = (typed[field: "keystroke_ms"] ?? "").split(separator: ",").compactMap { Int($0) }.sorted()
        #expect(gaps.count == reads - 1 && gaps[gaps.count / 2] >= 60, "\(gaps)")
        let first = try #require(lines.first { $0[field: "command"] == "id" })
        #expect(first[field: "corrections"] == "1")
        // i, x, d: the erase is not a key that adds (two when the client sent two in one packet).
        #expect(["2", "3"].contains(first[field: "keystrokes"] ?? ""), "\(first.fields)")
        let pasted = try #require(lines.first { $0[field: "command"] == "cat" })
        #expect(pasted[field: "keystrokes"] == "1" && pasted[field: "keystroke_ms"] == "")
    }

    /// `ssh host 'cmd'` through sshpass: the output exactly as the persona's shell prints it, bash's exit
    /// statuses, the commands captured.
    @Test(.enabled(if: usable, "needs ssh and sshpass (required under CI)"))
    func execAnswersAsThePersonasShell() async throws {
        let service = try await Self.start()
        let port = ["-p", String(service.port)]
        // -C: zlib@openssh.com, which starts once the login succeeded.
        let ran = try await Self.withPassword(
            "toor",
            "ssh",
            port + ["-C"] + Self.options + ["root@127.0.0.1", "uname -a; id"]
        )
        let missing = try await Self.withPassword("toor", "ssh", port + Self.options + ["root@127.0.0.1", "nmap -V"])
        let refused = try await Self.withPassword("wrong", "ssh", port + Self.options + ["root@127.0.0.1", "id"])
        await service.capture.wait { $0.filter { $0.id == .commandInput }.count >= 3 }
        await service.stop()
        #expect(ran.status == 0, "\(ran.standardError)")
        #expect(
            ran.standardOutput
                == "Linux db-01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\nuid=0(root) gid=0(root) groups=0(root)\n"
        )
        #expect(missing.status == 127)
        #expect(refused.status == 5 && refused.standardError.contains("Permission denied"), "\(refused)")
        let commands = service.capture.events(.commandInput).compactMap { $0[field: "command"] }
        #expect(commands == ["uname", "id", "nmap"])
        #expect(service.capture.events(.loginSuccess).count == 2)
        #expect(service.capture.events(.loginFailed).contains { $0[field: "password"] == "wrong" })
    }

    /// Uploads by sftp, by scp (which speaks SFTP since OpenSSH 9.0) and by legacy scp (`-O`) are kept as
    /// artifacts under their SHA-256.
    @Test(.enabled(if: usable, "needs ssh, sftp, scp and sshpass (required under CI)"))
    func uploadsBySFTPAndSCPAreKept() async throws {
        let artifacts = try TemporaryDirectory()
        defer { artifacts.remove() }
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let payload = Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        let file = work.url.appendingPathComponent("x.sh")
        try payload.write(to: file)
        let batch = work.url.appendingPathComponent("batch")
        try "cd /tmp\nput \(file.path) bot.sh\nls -l\nmkdir .cache\n".write(
            to: batch,
            atomically: true,
            encoding: .utf8
        )
        let service = try await Self.start(artifacts: artifacts)
        let sftp = try await Self.withPassword(
            "toor",
            "sftp",
            // Our options before `-b`, whose BatchMode=yes would otherwise turn password logins off.
            ["-P", String(service.port), "-o", "BatchMode=no"] + Self.options + ["-b", batch.path, "root@127.0.0.1"]
        )
        let scp = try await Self.withPassword(
            "toor",
            "scp",
            ["-P", String(service.port)] + Self.options + [file.path, "root@127.0.0.1:/tmp/"]
        )
        let legacy = try await Self.withPassword(
            "toor",
            "scp",
            ["-O", "-P", String(service.port)] + Self.options + [file.path, "root@127.0.0.1:/var/tmp.sh"]
        )
        await service.capture.wait { $0.filter { $0.id == .fileUpload }.count >= 3 }
        await service.stop()
        #expect(sftp.status == 0, "\(sftp.standardOutput)\(sftp.standardError)")
        #expect(sftp.standardOutput.contains("bot.sh"), "the listing shows the upload: \(sftp.standardOutput)")
        #expect(scp.status == 0 && legacy.status == 0, "\(scp.standardError)\(legacy.standardError)")
        let uploads = service.capture.events(.fileUpload)
        #expect(uploads.compactMap { $0[field: "filename"] } == ["/tmp/bot.sh", "/tmp/x.sh", "/var/tmp.sh"])
        let digest = ArtifactStore.sha256(payload)
        #expect(uploads.allSatisfy { $0[field: "sha256"] == digest && $0[field: "size"] == "70000" })
        let stored = try #require(uploads.first?[field: "path"])
        #expect(FileManager.default.contents(atPath: stored) == payload)
        #expect(service.capture.events(.commandInput).contains { $0[field: "command"] == "mkdir" })
    }

    /// paramiko (its own transport: curve25519, aes-ctr or chacha, ETM MACs) logs in and runs a command.
    @Test(.enabled(if: ExternalTool.isCI || FileManager.default.fileExists(atPath: python), "needs python3-paramiko"))
    func paramikoLogsInAndRunsACommand() async throws {
        let service = try await Self.start()
        let result = try await Self.python(
            "ssh_paramiko.py",
            ["127.0.0.1", String(service.port), "admin", "admin123", "id; whoami"],
            module: "paramiko"
        )
        await service.stop()
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains("transport: SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"))
        #expect(result.standardOutput.contains("uid=1000(admin) gid=1000(admin) groups=1000(admin),27(sudo)\nadmin\n"))
        #expect(result.standardOutput.contains("status: 0"))
        let fingerprint = try #require(service.capture.events(.clientFingerprint).first { $0[field: "hassh"] != nil })
        #expect(fingerprint[field: "client_version"]?.contains("paramiko") == true)
    }

    /// hydra with 4 tasks: it finds the persona's password, and every password it tried is captured (its
    /// attempt count equals ours).
    @Test(.enabled(if: hydra.isUsable, "needs hydra (required under CI)"))
    func hydraFindsThePasswordAndEveryAttemptIsCaptured() async throws {
        let hydra = try #require(Self.hydra.path, "\(Self.hydra.missingMessage)")
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let wrong = ["123456", "password", "admin", "qwerty", "letmein", "dragon", "111111", "baseball"]
        let list = work.url.appendingPathComponent("passwords")
        try (wrong + ["toor"]).joined(separator: "\n").appending("\n").write(
            to: list,
            atomically: true,
            encoding: .utf8
        )
        let service = try await Self.start()
        let result = try await ProcessRunner.run(
            hydra,
            [
                "-t", "4", "-l", "root", "-P", list.path, "-I", "-o", work.url.appendingPathComponent("found").path,
                "ssh://127.0.0.1:\(service.port)",
            ]
        )
        await service.capture.wait { $0.filter { $0.id == .loginFailed }.count >= wrong.count }
        await service.stop()
        #expect(result.standardOutput.contains("password: toor"), "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains("1 valid password found"))
        let tried = service.capture.events(.loginFailed).filter { $0[field: "method"] == "password" }
        #expect(tried.count == wrong.count, "hydra tried \(wrong.count) wrong passwords; \(tried.count) captured")
        #expect(Set(tried.compactMap { $0[field: "password"] }) == Set(wrong))
        #expect(service.capture.events(.loginSuccess).contains { $0[field: "password"] == "toor" })
    }

    /// With `keyboard_interactive = yes`, the PAM-style prompt is offered, answered and captured.
    @Test(.enabled(if: SSHLiveTests.ssh.isUsable, "needs Debian's ssh client (required under CI)"))
    func keyboardInteractiveAnswersAreCaptured() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var persona = Self.persona
        persona["keyboard_interactive"] = "yes"
        let service = try await Self.start(persona)
        let result = try await SSHLiveTests.client(
            service,
            ["-o", "PreferredAuthentications=keyboard-interactive", "-o", "KbdInteractiveAuthentication=yes"],
            password: "toor",
            directory: directory
        )
        await service.capture.wait { $0.contains { $0.id == .connectionClose } }
        await service.stop()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardError.contains("Authentications that can continue: publickey,password,keyboard-interactive")
        )
        let login = try #require(service.capture.events(.loginSuccess).first)
        #expect(login[field: "method"] == "keyboard-interactive" && login[field: "password"] == "toor")
    }

    /// Forwarding through the decky is recorded and refused as sshd with forwarding disabled refuses it.
    @Test(.enabled(if: usable, "needs ssh and sshpass (required under CI)"))
    func forwardingIsRecordedAndRefused() async throws {
        let service = try await Self.start()
        let result = try await Self.withPassword(
            "toor",
            "ssh",
            // LogLevel=INFO (before ours) shows the refusal sshd sent.
            ["-p", String(service.port), "-o", "LogLevel=INFO"] + Self.options
                + ["-W", "198.51.100.7:3389", "root@127.0.0.1"]
        )
        await service.capture.wait { $0.contains { $0[field: "command"] == "direct-tcpip" } }
        await service.stop()
        #expect(result.status != 0)
        #expect(
            result.standardError.contains("open failed: administratively prohibited: open failed"),
            "\(result.standardError)"
        )
        let request = try #require(
            service.capture.events(.commandInput).first { $0[field: "command"] == "direct-tcpip" }
        )
        #expect(request[field: "args"] == "198.51.100.7:3389")
    }

    /// After a login the decky announces all its host keys as sshd does, and proves it holds them: a client with
    /// UpdateHostKeys adds the RSA and ECDSA keys to its known_hosts beside the Ed25519 key it met.
    @Test(.enabled(if: usable, "needs ssh and sshpass (required under CI)"))
    func aClientWithUpdateHostKeysLearnsEveryKey() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keys = directory.url.appendingPathComponent("keys")
        let service = try await LiveService.start(
            "ssh",
            persona: Self.persona,
            registry: [SSHService.self],
            keyDirectory: keys.path
        )
        // The decky announces its RSA key only once it exists. It is made in the background at start, behind every
        // other decky's of this process (the whole suite's, in a full run: minutes on two cores), or at once for a
        // client that asks for it, as ssh-keyscan does here.
        let keyscan = try #require(Self.sshKeyscan.path, "\(Self.sshKeyscan.missingMessage)")
        let scanned = try await ProcessRunner.run(
            keyscan,
            ["-t", "rsa", "-T", "120", "-p", String(service.port), "127.0.0.1"]
        )
        #expect(scanned.standardOutput.contains(" ssh-rsa "), "\(scanned.standardOutput)\(scanned.standardError)")
        let rsaKey = keys.appendingPathComponent("ssh-host-rsa.key").path
        try #require(FileManager.default.fileExists(atPath: rsaKey), "the RSA host key made for a client was not kept")
        let knownHosts = directory.url.appendingPathComponent("known_hosts").path
        // The first login meets the Ed25519 key (a client only updates keys of a host it already knows); the
        // second learns the others.
        var result: ProcessResult?
        for _ in 0..<2 {
            result = try await Self.withPassword(
                "toor",
                "ssh",
                [
                    "-p", String(service.port), "-o", "StrictHostKeyChecking=accept-new", "-o",
                    "UserKnownHostsFile=\(knownHosts)", "-o", "UpdateHostKeys=yes", "-o", "PubkeyAuthentication=no",
                    "-o", "PreferredAuthentications=password", "-o", "LogLevel=ERROR", "root@127.0.0.1", "true",
                ]
            )
        }
        await service.stop()
        #expect(result?.status == 0, "\(result?.standardError ?? "")")
        let lines = try String(contentsOfFile: knownHosts, encoding: .utf8).split(whereSeparator: \.isNewline)
        let types = Set(lines.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) })
        #expect(types == ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"], "\(lines)")
    }

    /// A connection that has not logged in within the grace time is closed, as sshd's LoginGraceTime does; one
    /// that logged in stays.
    @Test func aConnectionThatDoesNotLogInIsClosedAfterTheGraceTime() async throws {
        var persona = Self.persona
        persona["login_grace_time"] = "1"
        let service = try await Self.start(persona)
        // What the client sends, then silence: the server's bytes, whether it closed, and how long that took.
        // (Generous: on CI's loaded machine, twenty hydra bots and hashcat beside it, a 10 s wait ran out once.)
        func silence(after bytes: String) async throws -> ((bytes: [UInt8], closedByServer: Bool), Duration) {
            let started = ContinuousClock.now
            let exchange = try await RawTCP.exchange(port: service.port, send: Array(bytes.utf8), timeout: .seconds(30))
            return (exchange, ContinuousClock.now - started)
        }
        // Only the client's identification line.
        let (exchange, waited) = try await silence(after: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n")
        // A client that never says a word (the runtime sent the identification; no task serves it yet).
        let (silent, silentWaited) = try await silence(after: "")
        // One that sends part of an identification line and stops (a slow-loris flood's): the bytes that never
        // make a line do not put the deadline off.
        let (partial, partialWaited) = try await silence(after: "SSH-2.0-Open")
        await service.stop()
        #expect(String(decoding: exchange.bytes.prefix(21), as: UTF8.self) == "SSH-2.0-OpenSSH_9.2p1")
        #expect(exchange.closedByServer && waited >= .seconds(1), "closed after the grace time")
        #expect(String(decoding: silent.bytes, as: UTF8.self).hasPrefix("SSH-2.0-OpenSSH_9.2p1"))
        for (closed, waited) in [(silent.closedByServer, silentWaited), (partial.closedByServer, partialWaited)] {
            #expect(closed && waited >= .seconds(1) && waited < .seconds(20), "\(waited)")
        }
    }
}
