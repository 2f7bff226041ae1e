import Crypto
import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import Testing

/// The sip service on UDP and TCP 5060 against sipsak (OPTIONS, REGISTER with a digest, a toll-fraud INVITE),
/// SIPVicious (svmap, svwar, svcrack) and nmap (-sV on both transports, sip-methods, sip-enum-users); every
/// captured digest is verified offline and cracked by hashcat.
@Suite(.serialized) struct SIPLiveTests {
    static let sipsak = ExternalTool("sipsak", package: "sipsak")
    static let svmap = ExternalTool("sipvicious_svmap", package: "sipvicious (PyPI; .ci/run pip-installs it)")
    static let svwar = ExternalTool("sipvicious_svwar", package: "sipvicious (PyPI; .ci/run pip-installs it)")
    static let svcrack = ExternalTool("sipvicious_svcrack", package: "sipvicious (PyPI; .ci/run pip-installs it)")

    static let persona = [
        "sip_domain": "voip.corp.local", "users": "100:secret,101:Winter2024", "sip_extensions": "100-105,200",
    ]

    /// The service on a loopback address: a UDP listener like the engine's, and the TCP one through the registry.
    struct Running {
        let udp: UDPListener<SIPDatagramService>
        let udpEvents: EventCapture
        let udpTask: Task<Void, Never>
        let tcp: LiveService?

        func stop() async {
            await self.udp.close()
            await self.udpTask.value
            await self.tcp?.stop()
        }
    }

    static func start(host: String, tcp: Bool) async throws -> Running {
        let capture = EventCapture()
        let context = ServiceContext(
            decky: "decky-pbx",
            hostname: "pbx01.corp.local",
            service: "sip",
            persona: Self.persona,
            sink: capture,
            address: host
        )
        let listener = try await UDPListener.bind(
            try SIPDatagramService(context: context),
            host: host,
            port: 5060,
            context: context,
            limits: UDPLimits(datagramsPerSecond: 2_000, burst: 4_000)
        )
        let task = Task { await listener.run() }
        let stream = tcp ? try await LiveService.start("sip", persona: Self.persona, host: host, port: 5060) : nil
        return Running(udp: listener, udpEvents: capture, udpTask: task, tcp: stream)
    }

    /// The digest response recomputed from the captured fields alone and `password` (RFC 2617 §3.2.2.1), with
    /// swift-crypto's MD5 rather than the service's code.
    static func verifies(_ event: HoneypotEvent, password: String) -> Bool {
        func md5(_ text: String) -> String {
            Insecure.MD5.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        }
        guard let user = event[field: "username"], let realm = event[field: "realm"],
            let nonce = event[field: "nonce"], let uri = event[field: "uri"], let method = event[field: "sip_method"],
            let response = event[field: "response"]
        else { return false }
        let ha1 = md5("\(user):\(realm):\(password)")
        let ha2 = md5("\(method):\(uri)")
        if let qop = event[field: "qop"], let nc = event[field: "nc"], let cnonce = event[field: "cnonce"] {
            return md5("\(ha1):\(nonce):\(nc):\(cnonce):\(qop):\(ha2)") == response.lowercased()
        }
        return md5("\(ha1):\(nonce):\(ha2)") == response.lowercased()
    }

    @Test(
        .enabled(
            if: sipsak.isUsable && Hashcat.tool.isUsable,
            "needs sipsak and hashcat (required under CI)"
        )
    )
    func sipsakRegistersWithADigestThatVerifiesOfflineAndCracks() async throws {
        let sipsak = try #require(Self.sipsak.path, "\(Self.sipsak.missingMessage)")
        let host = "127.77.50.1"
        let running = try await Self.start(host: host, tcp: true)
        let udpEvents = running.udpEvents
        let options = try await ProcessRunner.run(sipsak, ["-vv", "-s", "sip:100@\(host)"])
        #expect(options.status == 0, "\(options.standardOutput)\(options.standardError)")
        #expect(options.standardOutput.contains("SIP/2.0 200 OK"), "\(options.standardOutput)")
        #expect(options.standardOutput.contains("Server: Asterisk PBX 18.20.0"), "\(options.standardOutput)")
        let missing = try await ProcessRunner.run(sipsak, ["-vv", "-s", "sip:999@\(host)"])
        #expect(missing.standardOutput.contains("SIP/2.0 404 Not Found"), "\(missing.standardOutput)")
        let register = try await ProcessRunner.run(
            sipsak,
            ["-U", "-vv", "-s", "sip:100@\(host)", "-a", "secret", "-x", "600"]
        )
        #expect(register.status == 0, "\(register.standardOutput)\(register.standardError)")
        #expect(register.standardOutput.contains("All usrloc tests completed successful"), "\(register.standardOutput)")
        let wrong = try await ProcessRunner.run(sipsak, ["-U", "-s", "sip:101@\(host)", "-a", "letmein", "-x", "600"])
        #expect(wrong.status != 0, "\(wrong.standardOutput)")
        // chan_sip's minimum expiry: sipsak's default 15 s is too brief once the digest is right.
        let brief = try await ProcessRunner.run(sipsak, ["-U", "-vvv", "-s", "sip:100@\(host)", "-a", "secret"])
        // sipsak reports a final answer it cannot use on stderr.
        #expect(brief.standardError.contains("SIP/2.0 423 Interval too small"), "\(brief.standardError)")
        #expect(brief.status != 0)
        let overTCP = try await ProcessRunner.run(sipsak, ["-E", "tcp", "-vv", "-s", "sip:101@\(host)"])
        #expect(overTCP.standardOutput.contains("SIP/2.0 200 OK"), "\(overTCP.standardOutput)")
        #expect(overTCP.standardOutput.contains("transport=tcp"), "\(overTCP.standardOutput)")
        let success = try #require(udpEvents.events(.loginSuccess).first { $0[field: "sip_method"] == "REGISTER" })
        #expect(success[field: "username"]?.hasPrefix("100") == true && success[field: "qop"] == "auth")
        #expect(success[field: "realm"] == "voip.corp.local" && success[field: "cnonce"] != nil)
        #expect(Self.verifies(success, password: "secret") && !Self.verifies(success, password: "secret1"))
        let failure = try #require(
            udpEvents.events(.loginFailed).first { $0[field: "username"]?.hasPrefix("101") == true }
        )
        #expect(failure[field: "reason"] == "wrong password")
        #expect(Self.verifies(failure, password: "letmein") && !Self.verifies(failure, password: "Winter2024"))
        let lines = [success, failure].compactMap { $0[field: "hashcat"] }
        #expect(lines.count == 2 && [success, failure].allSatisfy { $0[field: "hashcat_mode"] == "11400" })
        let (cracked, log) = try await Hashcat.crack(
            mode: 11400,
            hashes: lines,
            words: ["123456", "password", "letmein", "Winter2024", "secret"]
        )
        #expect(cracked.contains { $0.hasSuffix(":secret") } && cracked.contains { $0.hasSuffix(":letmein") }, "\(log)")
        let tcpEvents = try #require(running.tcp).capture
        #expect(tcpEvents.events(.commandInput).contains { $0[field: "transport"] == "TCP" })
        #expect(udpEvents.events(.clientFingerprint).contains { $0[field: "tool"] == "sipsak" })
        await running.stop()
    }

    @Test(.enabled(if: sipsak.isUsable, "needs sipsak (required under CI)"))
    func aTollFraudInviteIsTriedChallengedAndRecordedOnBothTransports() async throws {
        let sipsak = try #require(Self.sipsak.path, "\(Self.sipsak.missingMessage)")
        let host = "127.77.50.4"
        let running = try await Self.start(host: host, tcp: true)
        let udpEvents = running.udpEvents
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let sdp =
            "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n"
            + "m=audio 18000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
        for transport in ["UDP", "TCP"] {
            let invite = [
                "INVITE sip:900972599123456@\(host) SIP/2.0",
                "Via: SIP/2.0/\(transport) 127.0.0.1:5099;branch=z9hG4bK776asdhds",
                "From: \"100\" <sip:100@\(host)>;tag=1928301774", "To: <sip:900972599123456@\(host)>",
                "Call-ID: a84b4c76e66710-\(transport)@127.0.0.1", "CSeq: 1 INVITE", "Contact: <sip:100@127.0.0.1:5099>",
                "Max-Forwards: 70", "User-Agent: sipcli/v1.8", "Content-Type: application/sdp",
                "Content-Length: \(sdp.utf8.count)", "", sdp,
            ].joined(separator: "\r\n")
            let file = directory.url.appendingPathComponent("invite-\(transport).sip")
            try invite.write(to: file, atomically: true, encoding: .utf8)
            let call = try await ProcessRunner.run(
                sipsak,
                [
                    "-vv", "-E", transport.lowercased(), "-f", file.path, "-s", "sip:900972599123456@\(host)", "-u",
                    "100",
                    "-a", "secret",
                ]
            )
            #expect(call.standardOutput.contains("SIP/2.0 404 Not Found"), "\(transport): \(call.standardOutput)")
            if transport == "TCP" {
                #expect(call.standardOutput.contains("SIP/2.0 100 Trying"), "\(call.standardOutput)")
            }
        }
        let tcpEvents = try #require(running.tcp).capture
        for capture in [udpEvents, tcpEvents] {
            let invites = capture.events(.commandInput).filter { $0[field: "command"] == "INVITE" }
            #expect(invites.map { $0[field: "response"] } == ["407", "404"], "\(invites)")
            #expect(
                invites.allSatisfy { $0[field: "dialed"] == "900972599123456" && $0[field: "call_to"] == "external" }
            )
            #expect(invites.first?[field: "to"] == "<sip:900972599123456@\(host)>")
            let sdpEvent = try #require(capture.events(.payloadReceived).first)
            #expect(sdpEvent[field: "kind"] == "sdp" && sdpEvent[field: "media_ip"] == "203.0.113.9")
            let login = try #require(capture.events(.loginSuccess).first)
            #expect(login[field: "sip_method"] == "INVITE" && Self.verifies(login, password: "secret"))
            #expect(capture.events(.clientFingerprint).contains { $0[field: "tool"] == "sipcli" })
        }
        await running.stop()
    }

    @Test(
        .enabled(
            if: svmap.isUsable && svwar.isUsable && svcrack.isUsable,
            "needs SIPVicious (required under CI)"
        )
    )
    func sipviciousMapsEnumeratesAndCracks() async throws {
        let svmap = try #require(Self.svmap.path, "\(Self.svmap.missingMessage)")
        let svwar = try #require(Self.svwar.path, "\(Self.svwar.missingMessage)")
        let svcrack = try #require(Self.svcrack.path, "\(Self.svcrack.missingMessage)")
        let host = "127.77.50.2"
        let running = try await Self.start(host: host, tcp: false)
        let events = running.udpEvents
        let local = ["-b", "127.0.0.1", "-x", "127.0.0.1"]
        let map = try await ProcessRunner.run(svmap, local + ["-P", "15160", host])
        #expect(
            map.standardOutput.contains("\(host):5060") && map.standardOutput.contains("Asterisk PBX 18.20.0"),
            "\(map.standardOutput)\(map.standardError)"
        )
        let war = try await ProcessRunner.run(svwar, local + ["-P", "15161", "-e", "98-110,200,300", host])
        let found = Set(Self.tableColumn(war.standardOutput))
        #expect(
            found == ["100", "101", "102", "103", "104", "105", "200"],
            "\(war.standardOutput)\(war.standardError)"
        )
        #expect(war.standardOutput.contains("reqauth"))
        let compact = try await ProcessRunner.run(
            svwar,
            local + ["-P", "15162", "-c", "-m", "OPTIONS", "-e", "99-101", host]
        )
        #expect(
            Set(Self.tableColumn(compact.standardOutput)) == ["100", "101"],
            "\(compact.standardOutput)\(compact.standardError)"
        )
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let words = directory.url.appendingPathComponent("words.txt")
        try "123456\npassword\n101\nqwerty\nWinter2024\nletmein\n".write(to: words, atomically: true, encoding: .utf8)
        let crack = try await ProcessRunner.run(svcrack, local + ["-P", "15163", "-u", "101", "-d", words.path, host])
        #expect(crack.standardOutput.contains("Winter2024"), "\(crack.standardOutput)\(crack.standardError)")
        let success = try #require(events.events(.loginSuccess).first)
        #expect(success[field: "username"] == "101" && Self.verifies(success, password: "Winter2024"))
        let failures = events.events(.loginFailed).filter { $0[field: "username"] == "101" }
        #expect(failures.count >= 4 && failures.allSatisfy { $0[field: "hashcat"] != nil })
        #expect(events.events(.clientFingerprint).contains { $0[field: "tool"] == "sipvicious" })
        // One fingerprint per source flow, not one per request of the scan.
        #expect(events.events(.clientFingerprint).count < 10)
        #expect(events.events(.commandInput).contains { $0[field: "response"] == "404" })
        await running.stop()
    }

    @Test(.enabled(if: ExternalTool.nmap.isUsable, "needs nmap (required under CI)"))
    func nmapNamesThePersonaOnUDPAndTCP() async throws {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let host = "127.77.50.3"
        let running = try await Self.start(host: host, tcp: true)
        let events = running.udpEvents
        let udp = try await ProcessRunner.run(nmap, ["-sU", "-sV", "-Pn", "-n", "-p", "5060", host, "-oX", "-"])
        let tcp = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "5060", host, "-oX", "-"])
        let scripts = try await ProcessRunner.run(
            nmap,
            [
                "-sU", "-Pn", "-n", "-p", "5060", "--script", "sip-methods,sip-enum-users", "--script-args",
                "sip-enum-users.minext=98,sip-enum-users.maxext=106", host,
            ]
        )
        await running.stop()
        for (result, proto) in [(udp, "udp"), (tcp, "tcp")] {
            let port = try #require(
                try NmapXML(result.standardOutput).ports.first { $0.port == 5060 && $0.proto == proto },
                "\(result.standardOutput)"
            )
            #expect(
                port.state == "open" && port.product == "Asterisk PBX" && port.version == "18.20.0",
                "\(result.standardOutput)"
            )
        }
        #expect(
            scripts.standardOutput.contains(
                "sip-methods: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE"
            ),
            "\(scripts.standardOutput)"
        )
        for extensionNumber in 100...105 {
            #expect(scripts.standardOutput.contains("\(extensionNumber): Auth required"), "\(scripts.standardOutput)")
        }
        #expect(!scripts.standardOutput.contains("106: "), "\(scripts.standardOutput)")
        #expect(events.events(.clientFingerprint).contains { $0[field: "tool"] == "nmap" })
    }

    /// The first column of SIPVicious's result table (`| 100 | reqauth |`), header excluded.
    static func tableColumn(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("|") else { return nil }
            let cell = line.split(separator: "|").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return cell.isEmpty || cell == "Extension" ? nil : cell
        }
    }
}
