import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The rdp service against FreeRDP's xfreerdp (NLA), nmap's probe and its rdp-ntlm-info and rdp-enum-encryption
/// scripts, and hashcat.
@Suite struct RDPLiveTests {
    static let xfreerdp = ExternalTool("xfreerdp", package: "freerdp2-x11")
    /// xfreerdp opens its X display even for +auth-only.
    static let xvfbRun = ExternalTool("xvfb-run", package: "xvfb xauth")

    @Test(
        .enabled(
            if: xfreerdp.isUsable && xvfbRun.isUsable && ExternalTool.nmap.isUsable && SMBLiveTests.hashcat.isUsable,
            "needs xfreerdp, xvfb-run, nmap and hashcat (required under CI)"
        )
    )
    func freerdpsNLALoginIsCapturedAndCracksAndNmapSeesTheWindowsHost() async throws {
        let xfreerdp = try #require(Self.xfreerdp.path, "\(Self.xfreerdp.missingMessage)")
        let xvfbRun = try #require(Self.xvfbRun.path, "\(Self.xvfbRun.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "rdp",
            persona: ["os_version": "Windows Server 2019", "build": "17763", "workgroup": "CORP"],
            host: "127.77.19.8",
            port: 3389,
            osFamily: .windows,
            hostname: "TS01"
        )
        let login = try await ProcessRunner.run(
            xvfbRun,
            ["-a", xfreerdp, "/v:127.77.19.8", "/u:alice", "/p:Autumn2025!", "/d:CORP", "/cert:ignore", "+auth-only"]
        )
        // FreeRDP reads the TSRequest's errorCode as Windows' answer to a wrong password.
        #expect(
            (login.standardOutput + login.standardError).contains("ERRCONNECT_LOGON_FAILURE"),
            "\(login.standardOutput)\(login.standardError)"
        )
        let scan = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "3389", "--script", "rdp-ntlm-info,rdp-enum-encryption", "127.77.19.8"]
        )
        await service.stop()

        let output = scan.standardOutput
        #expect(output.contains("3389/tcp open  ms-wbt-server Microsoft Terminal Services"), "\(output)")
        for line in [
            "Target_Name: CORP", "NetBIOS_Domain_Name: CORP", "NetBIOS_Computer_Name: TS01",
            "DNS_Domain_Name: corp.local", "DNS_Computer_Name: TS01.corp.local", "Product_Version: 10.0.17763",
            // A Windows host that requires NLA: CredSSP (with and without Early User Authorization) and RDSTLS
            // succeed; plain TLS and standard RDP security are refused, so nmap lists neither.
            "CredSSP (NLA): SUCCESS", "CredSSP with Early User Auth: SUCCESS", "RDSTLS: SUCCESS",
        ] {
            #expect(output.contains(line), "\(line)\n\(output)")
        }
        let failure = try #require(
            service.capture.events(.loginFailed).first { $0[field: "username"] == "alice" },
            "\(login.standardOutput)\(login.standardError)"
        )
        #expect(failure[field: "domain"] == "CORP" && failure[field: "auth"] == "credssp")
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "cookie_user"] == "nmap" })

        let crack = try await Hashcat.crack(
            mode: 5600,
            hashes: [failure[field: "hashcat"] ?? ""],
            words: ["Summer2025", "Autumn2025!"]
        )
        #expect(crack.cracked.contains { $0.hasSuffix(":Autumn2025!") }, "\(crack.log)")
    }

    /// With NLA optional, a client that asks for TLS security alone (`xfreerdp /sec:tls`) gets it, says what it is
    /// in its MCS data, and hands over the password in its Client Info PDU.
    @Test(.enabled(if: xfreerdp.isUsable && xvfbRun.isUsable, "needs xfreerdp and xvfb-run (required under CI)"))
    func withoutNLAFreerdpsClientInfoPasswordIsCaptured() async throws {
        let xfreerdp = try #require(Self.xfreerdp.path, "\(Self.xfreerdp.missingMessage)")
        let xvfbRun = try #require(Self.xvfbRun.path, "\(Self.xvfbRun.missingMessage)")
        let service = try await LiveService.start(
            "rdp",
            persona: ["os_version": "Windows Server 2019", "build": "17763", "rdp_nla": "optional"],
            host: "127.77.19.25",
            port: 3389,
            osFamily: .windows,
            hostname: "TS02"
        )
        let run = try await ProcessRunner.run(
            xvfbRun,
            ["-a", xfreerdp, "/v:127.77.19.25", "/u:bob", "/p:Winter2025!", "/d:CORP", "/sec:tls", "/cert:ignore"]
        )
        await service.capture.wait { $0.contains { $0.id == .loginFailed } }
        await service.stop()
        let login = try #require(
            service.capture.events(.loginFailed).first,
            "\(run.standardOutput)\(run.standardError)"
        )
        #expect(login[field: "username"] == "bob" && login[field: "domain"] == "CORP")
        #expect(login[field: "password"] == "Winter2025!" && login[field: "auth"] == "rdp-tls")
        let fingerprints = service.capture.events(.clientFingerprint)
        #expect(fingerprints.contains { $0[field: "selected_protocol"] == "ssl" })
        #expect(
            fingerprints.contains {
                $0[field: "client"] == "rdp-mcs" && $0[field: "channels"]?.contains("cliprdr") == true
            }
        )
        #expect(service.capture.events(.clientMalformed).isEmpty)
    }

    /// The certificate RDP's TLS shows (after the X.224 negotiation, as a client reaches it): its subject is the
    /// decky's name as Windows names its self-signed RDP certificate (the DNS host name), and it is the same
    /// certificate after the service restarts, as a Windows host's is across reboots.
    @Test(.enabled(if: K8sLiveTests.openssl.isUsable, "needs openssl (required under CI)"))
    func theCertificateNamesTheHostAndOutlivesARestart() async throws {
        let openssl = try #require(K8sLiveTests.openssl.path, "\(K8sLiveTests.openssl.missingMessage)")
        let keys = try TemporaryDirectory()
        defer { keys.remove() }
        let persona = ["os_version": "Windows Server 2019", "build": "17763", "domain": "corp.local"]
        func certificate() async throws -> (subject: String, fingerprint: String) {
            let service = try await LiveService.start(
                "rdp",
                persona: persona,
                host: "127.77.19.26",
                port: 0,
                osFamily: .windows,
                hostname: "TS03",
                keyDirectory: keys.path
            )
            // A Connection Request asking for TLS and CredSSP, then TLS: the peer's certificate, DER, to stdout.
            let script = """
                import socket, ssl, sys
                s = socket.create_connection(('127.77.19.26', int(sys.argv[1])), timeout=10)
                s.sendall(bytes.fromhex('030000130ee000000000000100080003000000'))
                reply = s.recv(19)
                assert len(reply) == 19 and reply[11] == 2, reply.hex()
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                t = context.wrap_socket(s)
                sys.stdout.buffer.write(t.getpeercert(True))
                """
            let der = keys.path + "/peer.der"
            let fetched = try await ProcessRunner.run(
                "/bin/sh",
                ["-c", "python3 -c \"$SCRIPT\" \(service.port) > \(der)"],
                environment: ["SCRIPT": script]
            )
            await service.stop()
            #expect(fetched.status == 0, "\(fetched.standardError)")
            let shown = try await ProcessRunner.run(
                openssl,
                ["x509", "-inform", "DER", "-in", der, "-noout", "-subject", "-fingerprint", "-sha256"]
            )
            let lines = shown.standardOutput.split(separator: "\n").map(String.init)
            return (
                lines.first { $0.hasPrefix("subject=") } ?? shown.standardError,
                lines.first { $0.contains("Fingerprint=") } ?? ""
            )
        }
        let first = try await certificate()
        let again = try await certificate()
        #expect(first.subject == "subject=CN = TS03.corp.local", "\(first.subject)")
        #expect(!first.fingerprint.isEmpty && first.fingerprint == again.fingerprint, "\(first) \(again)")
    }
    /// Scanners read the Connection Confirm (or the certificate after it) and go without a word of TLS's goodbye:
    /// that is an ordinary close, so connection.close says `reason="closed"`, not "error". A client that sends
    /// no TLS at all where the handshake belongs still ends in "error".
    @Test(.enabled(if: ExternalTool.python3.isUsable, "needs python3 (required under CI)"))
    func aClientThatLeavesAfterTheConfirmOrTheHandshakeClosedTheConnection() async throws {
        let python3 = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        let service = try await LiveService.start(
            "rdp",
            persona: ["os_version": "Windows Server 2019", "build": "17763"],
            host: "127.77.19.27",
            port: 0,
            osFamily: .windows,
            hostname: "TS04"
        )
        // Three connections, one after another: gone after the confirm; gone after the handshake (Python closes
        // without close_notify); plain text where the ClientHello belongs.
        let script = """
            import socket, ssl, sys, time
            request = bytes.fromhex('030000130ee000000000000100080003000000')
            def confirmed():
                s = socket.create_connection(('127.77.19.27', int(sys.argv[1])), timeout=10)
                s.sendall(request)
                reply = s.recv(19)
                assert len(reply) == 19 and reply[11] == 2, reply.hex()
                return s
            confirmed().close()
            time.sleep(0.3)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.wrap_socket(confirmed()).close()
            time.sleep(0.3)
            s = confirmed()
            s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')
            s.recv(100)
            s.close()
            """
        let run = try await ProcessRunner.run(python3, ["-c", script, String(service.port)])
        #expect(run.status == 0, "\(run.standardError)")
        let closes = await service.capture.wait(for: .connectionClose, count: 3)
        await service.stop()
        #expect(closes.map { $0[field: "reason"] } == ["closed", "closed", "error"], "\(closes)")
    }
}
