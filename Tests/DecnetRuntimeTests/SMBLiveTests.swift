import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The smb service against Samba's `smbclient`, impacket's `smbclient.py`, nmap's SMB scripts and hashcat: each
/// client's login is refused as Windows refuses it, and the hash it leaves behind cracks to its password.
@Suite(.serialized) struct SMBLiveTests {
    static let smbclient = ExternalTool("smbclient", package: "smbclient")
    static let hashcat = Hashcat.tool
    static let impacket = ExternalTool("smbclient.py", package: "impacket (PyPI; .ci/run pip-installs it)")
    static let persona = ["os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP"]

    static func start(host: String, port: Int) async throws -> LiveService {
        try await LiveService.start(
            "smb",
            persona: Self.persona,
            host: host,
            port: port,
            osFamily: .windows,
            hostname: "srv01"
        )
    }

    @Test(.enabled(if: smbclient.isUsable && hashcat.isUsable, "needs smbclient and hashcat (required under CI)"))
    func smbclientsHashIsCapturedAndCracksToItsPassword() async throws {
        let client = try #require(Self.smbclient.path, "\(Self.smbclient.missingMessage)")
        let service = try await Self.start(host: "127.77.19.1", port: 0)
        let port = String(service.port)
        for (protocolLimit, password) in [("SMB3", "Winter2024!"), ("SMB2", "Spring2025")] {
            let run = try await ProcessRunner.run(
                client,
                ["-L", "//127.77.19.1", "-p", port, "-U", "CORP\\alice%\(password)", "-m", protocolLimit]
            )
            #expect(run.standardOutput.contains("NT_STATUS_LOGON_FAILURE"), "\(run.standardOutput)\(run.standardError)")
        }
        let logins = await service.capture.wait(for: .loginFailed, count: 2)
        await service.stop()
        #expect(logins.map { $0[field: "dialect"] } == ["3.1.1", "2.1"])
        for login in logins {
            #expect(login[field: "username"] == "alice" && login[field: "domain"] == "CORP")
            #expect(login[field: "method"] == "ntlmv2" && login[field: "hashcat_mode"] == "5600")
            #expect(login.source.ip == "127.0.0.1" && login.service == "smb")
        }
        #expect(
            service.capture.events(.clientFingerprint).contains {
                $0[field: "client"] == "smb2" && $0[field: "dialects"] == "2.0.2,2.1,3.0,3.0.2,3.1.1"
            }
        )

        // hashcat, given the captured line and a word list holding the password, finds it: the capture is exact.
        let crack = try await Hashcat.crack(
            mode: 5600,
            hashes: logins.compactMap { $0[field: "hashcat"] },
            words: ["letmein", "Winter2024!", "Password1", "Spring2025"]
        )
        let cracked = crack.cracked.filter { $0.hasPrefix("ALICE::CORP:") }
        #expect(cracked.count == 2, "\(crack.log)")
        #expect(cracked.contains { $0.hasSuffix(":Winter2024!") } && cracked.contains { $0.hasSuffix(":Spring2025") })
    }

    @Test(.enabled(if: impacket.isUsable, "needs impacket's smbclient.py (required under CI)"))
    func impacketNegotiatesThroughSMB1AndItsLoginIsCaptured() async throws {
        let client = try #require(Self.impacket.path, "\(Self.impacket.missingMessage)")
        let service = try await Self.start(host: "127.77.19.2", port: 445)
        let run = try await ProcessRunner.run(
            client,
            ["CORP/bob:Summer2025@127.77.19.2"]
        )
        #expect(run.standardOutput.contains("STATUS_LOGON_FAILURE"), "\(run.standardOutput)\(run.standardError)")
        let login = try #require(await service.capture.wait(for: .loginFailed).first)
        await service.stop()
        #expect(login[field: "username"] == "bob" && login[field: "method"] == "ntlmv2")
        #expect(login[field: "hashcat"]?.hasPrefix("bob::CORP:") == true)
        let fingerprints = service.capture.events(.clientFingerprint)
        #expect(
            fingerprints.contains {
                $0[field: "client"] == "smb1" && $0[field: "dialects"]?.contains("SMB 2.???") == true
            }
        )
        #expect(fingerprints.contains { $0[field: "client"] == "smb2" })
    }

    /// On 139 a session request comes first: smbclient tries the address as the called name, is refused, then
    /// asks for *SMBSERVER, as with Windows. nmap names the port as Windows' NetBIOS session service.
    @Test(
        .enabled(if: smbclient.isUsable && ExternalTool.nmap.isUsable, "needs smbclient and nmap (required under CI)")
    )
    func port139SpeaksTheNetBIOSSessionService() async throws {
        let client = try #require(Self.smbclient.path, "\(Self.smbclient.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await Self.start(host: "127.77.19.3", port: 139)
        let run = try await ProcessRunner.run(
            client,
            ["-L", "//127.77.19.3", "-p", "139", "-U", "CORP\\carol%Autumn2023"]
        )
        #expect(run.standardOutput.contains("NT_STATUS_LOGON_FAILURE"), "\(run.standardOutput)\(run.standardError)")
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "139", "127.77.19.3", "-oX", "-"])
        await service.stop()
        let port = try #require(
            try NmapXML(scan.standardOutput).ports.first { $0.port == 139 },
            "\(scan.standardOutput)"
        )
        #expect(port.product == "Microsoft Windows netbios-ssn", "\(scan.standardOutput)")
        let names = service.capture.events(.clientFingerprint).compactMap { $0[field: "called_name"] }
        #expect(names.starts(with: ["127.77.19.3", "*SMBSERVER"]), "\(names)")
        #expect(service.capture.events(.loginFailed).first?[field: "username"] == "carol")
    }

    /// nmap's SMB2 scripts read the negotiate as they read Windows Server 2019's: no SMB1, dialects 2.0.2 to
    /// 3.1.1, signing enabled but not required, the server's time; `-sV` cannot name a host without SMB1
    /// ("microsoft-ds?"), as with the real one.
    @Test(.enabled(if: ExternalTool.nmap.isUsable, "needs nmap (required under CI)"))
    func nmapsSMBScriptsSeeWindowsServer2019() async throws {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await Self.start(host: "127.77.19.4", port: 445)
        let scan = try await ProcessRunner.run(
            nmap,
            [
                "-sV", "-Pn", "-n", "-p", "445", "--script", "smb-protocols,smb2-security-mode,smb2-time",
                "127.77.19.4",
            ]
        )
        await service.stop()
        let output = scan.standardOutput
        #expect(output.contains("445/tcp open  microsoft-ds?"), "\(output)")
        #expect(output.contains("|     202\n|     210\n|     300\n|     302\n|_    311"), "\(output)")
        #expect(output.contains("Message signing enabled but not required"), "\(output)")
        #expect(output.contains("|_  start_date: N/A"), "\(output)")
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(output.contains("|   date: \(year)-"), "\(output)")
    }

    /// A Windows Server 2016 persona has SMB1 on, as the release had: nmap -sV names it from the SMB1 negotiate,
    /// smb-os-discovery reads its OS, names and domain through a null session, and hydra's SMB1 logins are
    /// captured as NetNTLMv1 lines that hashcat cracks.
    @Test(
        .enabled(
            if: ExternalTool.nmap.isUsable && SSHSessionLiveTests.hydra.isUsable && hashcat.isUsable,
            "needs nmap, hydra and hashcat (required under CI)"
        )
    )
    func aServer2016PersonaSpeaksSMB1ToNmapAndHydra() async throws {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let hydra = try #require(SSHSessionLiveTests.hydra.path, "\(SSHSessionLiveTests.hydra.missingMessage)")
        let service = try await LiveService.start(
            "smb",
            persona: ["os_version": "Windows Server 2016 Standard 14393", "workgroup": "CORP"],
            host: "127.77.19.5",
            port: 445,
            osFamily: .windows,
            hostname: "FS01"
        )
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-sC", "-Pn", "-n", "-p", "445", "127.77.19.5"])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let words = directory.url.appendingPathComponent("words.txt")
        try "admin\nWinter2024\nPassword1\n".write(to: words, atomically: true, encoding: .utf8)
        _ = try await ProcessRunner.run(
            hydra,
            ["-l", "administrator", "-P", words.path, "-t", "1", "smb://127.77.19.5"]
        )
        await service.capture.wait {
            $0.filter { $0.id == .loginFailed && $0[field: "username"] == "administrator" }.count >= 3
        }
        await service.stop()
        let logins = service.capture.events(.loginFailed)

        let output = scan.standardOutput
        #expect(
            output.contains(
                "445/tcp open  microsoft-ds Windows Server 2016 Standard 14393 microsoft-ds (workgroup: CORP)"
            ),
            "\(output)"
        )
        #expect(
            output.contains("OS: Windows Server 2016 Standard 14393 (Windows Server 2016 Standard 6.3)"),
            "\(output)"
        )
        #expect(output.contains("FQDN: FS01.corp.local") && output.contains("Domain name: corp.local"), "\(output)")
        #expect(output.contains("Service Info: Host: FS01; OS: Windows"), "\(output)")

        let attempts = logins.filter { $0.id == .loginFailed && $0[field: "username"] == "administrator" }
        #expect(attempts.count == 3 && attempts.allSatisfy { $0[field: "hashcat_mode"] == "5500" })
        let crack = try await Hashcat.crack(
            mode: 5500,
            hashes: attempts.compactMap { $0[field: "hashcat"] },
            words: ["admin", "Winter2024", "Password1"]
        )
        let cracked = crack.cracked.compactMap { $0.split(separator: ":").last.map(String.init) }
        #expect(Set(cracked) == ["admin", "Winter2024", "Password1"], "\(crack.log)")
    }

    /// A login the persona accepts opens a real session: smbclient lists the shares over srvsvc and reads a bait
    /// file, verifying every signature the server writes (AES-CMAC keyed from the 3.1.1 pre-authentication hash,
    /// AES-CMAC of 3.0, HMAC-SHA256 of 2.1); an upload is refused, and everything is an event.
    @Test(.enabled(if: smbclient.isUsable, "needs smbclient (required under CI)"))
    func anAcceptedLoginListsTheSharesAndReadsBaitFilesUnderEverySigningScheme() async throws {
        let client = try #require(Self.smbclient.path, "\(Self.smbclient.missingMessage)")
        var persona = Self.persona
        persona["users"] = "alice:Winter2024!"
        let service = try await LiveService.start(
            "smb",
            persona: persona,
            host: "127.77.19.21",
            port: 0,
            osFamily: .windows,
            hostname: "srv01"
        )
        let port = String(service.port)
        for protocolLimit in ["SMB3", "SMB3_00", "SMB2"] {
            let run = try await ProcessRunner.run(
                client,
                ["-L", "//127.77.19.21", "-p", port, "-U", "CORP\\alice%Winter2024!", "-m", protocolLimit]
            )
            let output = run.standardOutput
            #expect(
                output.contains("IPC$            IPC       Remote IPC"),
                "\(protocolLimit): \(output)\(run.standardError)"
            )
            #expect(output.contains("ADMIN$") && output.contains("Shared          Disk"), "\(output)")
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let copy = directory.url.appendingPathComponent("accounts.txt")
        let session = try await ProcessRunner.run(
            client,
            [
                "//127.77.19.21/Shared", "-p", port, "-U", "CORP\\alice%Winter2024!", "-c",
                "ls; cd IT; get service-accounts.txt \(copy.path); put /etc/hostname dropper.exe",
            ]
        )
        let text = try String(contentsOf: copy, encoding: .utf8)
        #expect(
            text.contains("svc_backup   CORP\\svc_backup   Backup2023!"),
            "\(session.standardOutput)\(session.standardError)"
        )
        #expect(
            (session.standardOutput + session.standardError).contains("NT_STATUS_ACCESS_DENIED opening remote file")
        )
        await service.capture.wait {
            $0.contains { $0.id == .fileDownload } && $0.filter { $0.id == .loginSuccess }.count >= 4
        }
        await service.stop()
        let logins = service.capture.events(.loginSuccess)
        #expect(logins.map { $0[field: "dialect"] } == ["3.1.1", "3.0", "2.1", "3.1.1"])
        #expect(logins.allSatisfy { $0[field: "login_type"] == "user" && $0[field: "username"] == "alice" })
        let download = try #require(service.capture.events(.fileDownload).first)
        #expect(download[field: "filename"] == "IT\\service-accounts.txt")
        #expect(download[field: "url"] == "smb://SRV01/Shared/IT/service-accounts.txt")
        let commands = service.capture.events(.commandInput).compactMap { $0[field: "command"] }
        #expect(commands.filter { $0 == "srvsvc.NetrShareEnum" }.count == 3)
        #expect(
            service.capture.events(.commandInput).contains {
                $0[field: "command"] == "CREATE" && $0[field: "args"]?.contains("dropper.exe") == true
            }
        )
    }

    /// impacket encrypts every request once a cipher is agreed, as it does with Windows: the server decrypts them
    /// (AES-128-CCM, the only cipher impacket offers) and answers in kind, so its share listing and reads work.
    @Test(.enabled(if: impacket.isUsable, "needs impacket's smbclient.py (required under CI)"))
    func impacketsEncryptedSessionListsAndReadsTheShares() async throws {
        let client = try #require(Self.impacket.path, "\(Self.impacket.missingMessage)")
        var persona = Self.persona
        persona["users"] = "bob:Summer2025"
        persona["smb_shares"] = "Finance,Public"
        let service = try await LiveService.start(
            "smb",
            persona: persona,
            host: "127.77.19.22",
            port: 445,
            osFamily: .windows,
            hostname: "fs02"
        )
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let commands = directory.url.appendingPathComponent("commands.txt")
        try "shares\nuse Finance\nls\ncat IT\\network-notes.txt\nexit\n".write(
            to: commands,
            atomically: true,
            encoding: .utf8
        )
        let run = try await ProcessRunner.run(
            client,
            ["-inputfile", commands.path, "CORP/bob:Summer2025@127.77.19.22"]
        )
        await service.stop()
        let output = run.standardOutput
        #expect(
            output.contains("IPC$                      IPC (SPECIAL)   Remote IPC"),
            "\(output)\(run.standardError)"
        )
        #expect(output.contains("Finance") && output.contains("Public"), "\(output)")
        #expect(output.contains("VPN          vpn.corp.local"), "\(output)")
        #expect(service.capture.events(.clientMalformed).isEmpty)
        #expect(service.capture.events(.fileDownload).first?[field: "filename"] == "IT\\network-notes.txt")
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "ciphers"] == "1" })
    }

    /// With `smb_guest`, as Samba's "map to guest = bad user", anyone gets in as a guest: `smbclient -N` lists the
    /// shares of a Samba persona, whose IPC$ names the Samba release.
    @Test(.enabled(if: smbclient.isUsable, "needs smbclient (required under CI)"))
    func aGuestPersonaLetsAnyoneListItsShares() async throws {
        let client = try #require(Self.smbclient.path, "\(Self.smbclient.missingMessage)")
        let service = try await LiveService.start(
            "smb",
            persona: ["os_version": "Samba", "smb_guest": "true", "smb_shares": "public,scans"],
            host: "127.77.19.23",
            port: 0,
            osFamily: .linux,
            hostname: "nas01"
        )
        let run = try await ProcessRunner.run(client, ["-L", "//127.77.19.23", "-p", String(service.port), "-N"])
        await service.capture.wait {
            $0.contains { $0.id == .commandInput && $0[field: "command"] == "srvsvc.NetrShareEnum" }
        }
        await service.stop()
        let output = run.standardOutput
        #expect(
            output.contains("IPC$            IPC       IPC Service (Samba 4.17.12-Debian)"),
            "\(output)\(run.standardError)"
        )
        #expect(output.contains("public          Disk") && output.contains("scans           Disk"), "\(output)")
        #expect(service.capture.events(.loginSuccess).first?[field: "login_type"] == "guest")
    }
}
