import DecnetCore
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// RDP's negotiation and CredSSP, with nmap's probe, TSRequests as FreeRDP and mstsc frame them, and hostile bytes.
@Suite struct RDPTests {
    static let identity = WindowsIdentity(
        persona: ["os_version": "Windows Server 2019", "build": "17763", "workgroup": "CORP"],
        hostname: "TS01",
        osFamily: .windows
    )

    static func machine(challenge: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]) -> RDPStateMachine {
        RDPStateMachine(identity: Self.identity, random: { challenge }, now: { 133_777_000_000_000_000 })
    }

    /// nmap's TerminalServerCookie probe (nmap-service-probes): "Cookie: mstshash=nmap", SSL|HYBRID requested.
    static let nmapProbe: [UInt8] =
        [0x03, 0x00, 0x00, 0x2a, 0x25, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00]
        + Array("Cookie: mstshash=nmap\r\n".utf8) + [0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]

    static func frames(_ bytes: [UInt8], negotiated: Bool = false) throws -> [RDPInbound] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RDPFrameDecoder()))
        if negotiated {
            try channel.writeInbound(ByteBuffer(bytes: nmapProbe))
            _ = try channel.readInbound(as: RDPInbound.self)
        }
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        var frames: [RDPInbound] = []
        while let frame = try channel.readInbound(as: RDPInbound.self) { frames.append(frame) }
        _ = try channel.finish()
        return frames
    }

    /// A client TSRequest (the server's shape, which is the client's too): version and one nego token.
    static func tsRequest(_ token: [UInt8], version: Int = 6) -> [UInt8] {
        RDP.tsResponse(version: version, negoToken: token)
    }

    static func fields(_ actions: [RDPStateMachine.Action], _ id: EventID) -> [String: String] {
        for case .emit(id, let fields) in actions {
            return Dictionary(fields.fields.map { ($0.name, $0.value) }) { first, _ in first }
        }
        return [:]
    }

    /// A Connection Request with `variable` as its variable part (TPKT and TPDU header made to fit).
    static func request(_ variable: [UInt8]) -> [UInt8] {
        let total = 11 + variable.count
        return [0x03, 0x00, UInt8(total >> 8), UInt8(total & 0xFF), UInt8(total - 5), 0xE0, 0, 0, 0, 0, 0] + variable
    }

    @Test func theCookieIsWhatFollowsItsFirstEqualsSignUpToTheFirstCRLF() {
        let negotiation: [UInt8] = [0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]
        let cases: [(String, String?)] = [
            ("Cookie: mstshash=bench-7\r\n", "bench-7"),
            ("Cookie: msts=a=b\r\n", "a=b"),  // a routing token's value may hold "="
            ("Cookie:mstshash=x\r\n", "x"),
            ("Cookie: mstshash=\r\n", ""),
            ("Cookie: no-equals\r\n", "Cookie: no-equals"),
            ("Cookie: mstshash=never-ended", nil),  // no CRLF: no cookie, and no crash
            ("Cookie: mstshash=cr-only\r", nil),
            ("cookie: mstshash=lower\r\n", nil),  // the prefix is matched as MS-RDPBCGR writes it
        ]
        for (text, cookie) in cases {
            let request = RDP.connectionRequest(Self.request(Array(text.utf8) + negotiation))
            #expect(request?.cookie == cookie, "\(text.debugDescription)")
        }
        let parsed = RDP.connectionRequest(Self.request(Array("Cookie: mstshash=u\r\n".utf8) + negotiation))
        #expect(parsed?.requestedProtocols == 3)
        // Only the TPDU's declared length is read: a CRLF past it does not end the cookie.
        var truncated = Self.request(Array("Cookie: mstshash=u".utf8))
        truncated += Array("\r\n".utf8)
        #expect(RDP.connectionRequest(truncated)?.cookie == nil)
        #expect(RDP.connectionRequest(Self.request([])) == RDP.ConnectionRequest())
    }

    @Test func nmapsProbeGetsTheConfirmItsTerminalServicesLineReads() throws {
        var machine = Self.machine()
        let frame = try #require(try Self.frames(Self.nmapProbe).first)
        let actions = machine.received(frame)
        #expect(
            actions.contains(
                .startTLS([
                    0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x1f,
                    0x08, 0x00, 0x02, 0x00, 0x00, 0x00,
                ])
            )
        )
        let fingerprint = Self.fields(actions, .clientFingerprint)
        #expect(fingerprint["cookie_user"] == "nmap" && fingerprint["requested_protocols"] == "ssl,hybrid")
        #expect(fingerprint["selected_protocol"] == "hybrid")
    }

    @Test func clientsThatWillNotDoNLAAreToldItIsRequired() {
        for requested in [0, 1] as [UInt8] {
            var machine = Self.machine()
            var probe = Self.nmapProbe
            probe[probe.count - 4] = requested
            let actions = machine.received(.tpkt(probe))
            #expect(
                actions.contains(
                    .send([
                        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x03, 0x00,
                        0x08, 0x00, 0x05, 0x00, 0x00, 0x00,
                    ])
                )
            )
            #expect(actions.last == .close)
        }
        var early = Self.machine()
        var probe = Self.nmapProbe
        probe[probe.count - 4] = 0x0B  // SSL | HYBRID | HYBRID_EX, as mstsc asks
        #expect(Self.fields(early.received(.tpkt(probe)), .clientFingerprint)["selected_protocol"] == "hybrid_ex")
    }

    @Test func credSSPsNTLMExchangeIsCapturedAndAnsweredWithLogonFailure() throws {
        // impacket's AUTHENTICATE for bob / Summer2025, answering challenge 06cbe542a3962867 (Replays/smb).
        let (smbFrames, password, challenge) = try SMBTests.replay("impacket-bob-Summer2025-06cbe542a3962867")
        let authenticate = try #require(NTLMTestMessages.authenticate(in: smbFrames))
        var machine = Self.machine(challenge: challenge)
        _ = machine.received(.tpkt(Self.nmapProbe))
        let negotiate = NTLM.signature + [1, 0, 0, 0, 0x35, 0x82, 0x08, 0x60] + [UInt8](repeating: 0, count: 16)
        let first = machine.received(.tsRequest(Self.tsRequest(negotiate)))
        guard case .send(let reply) = first.last else {
            Issue.record("no TSRequest")
            return
        }
        let response = try #require(RDP.tsRequest(reply))
        #expect(response.version == 6 && NTLM.messageType(response.negoToken ?? []) == .challenge)
        #expect(Array(response.negoToken![24..<32]) == challenge)
        let second = machine.received(.tsRequest(Self.tsRequest(authenticate)))
        let login = Self.fields(second, .loginFailed)
        #expect(login["username"] == "bob" && login["auth"] == "credssp" && login["hashcat_mode"] == "5600")
        #expect(NTLM.verifiesV2(try NTLM.authenticate(authenticate), serverChallenge: challenge, password: password))
        // errorCode [4] INTEGER 0xC000006D (negative in DER), after version [0] 6.
        #expect(
            second.contains(
                .send([0x30, 0x0d, 0xa0, 0x03, 0x02, 0x01, 0x06, 0xa4, 0x06, 0x02, 0x04, 0xc0, 0x00, 0x00, 0x6d])
            )
        )
        #expect(second.last == .close)
    }

    @Test func hostileBytesAreClosed() throws {
        #expect(
            try Self.frames(Array("GET / HTTP/1.1\r\n".utf8)).first
                == .invalid("not a TPKT (first byte 71)", Array("GET / HTTP/1.1\r\n".utf8))
        )
        #expect(try Self.frames([3, 0, 0, 4]).first == .invalid("TPKT of 4 bytes", [3, 0, 0, 4]))
        if case .invalid(let problem, _) = try Self.frames([0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF], negotiated: true).first
        {
            #expect(problem == "DER length of 4 bytes")
        } else {
            Issue.record("a four-byte DER length was accepted")
        }
        var machine = Self.machine()
        _ = machine.received(.tpkt(Self.nmapProbe))
        #expect(machine.received(.tsRequest([0x30, 0x03, 0x02, 0x01, 0x06])).last == .close)
        var generator = SeededGenerator(seed: 3389)
        let negotiate = Self.tsRequest(NTLM.signature + [1, 0, 0, 0, 0x35, 0x82, 0x08, 0x60])
        for _ in 0..<3000 {
            var machine = Self.machine()
            var probe = Self.nmapProbe
            var token = negotiate
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                probe[Int.random(in: 0..<probe.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                token[Int.random(in: 0..<token.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = machine.received(.tpkt(probe))
            _ = machine.received(.tsRequest(token))
            _ = machine.received(.tsRequest(Array(token.prefix(Int.random(in: 0...token.count, using: &generator)))))
        }
    }
}
