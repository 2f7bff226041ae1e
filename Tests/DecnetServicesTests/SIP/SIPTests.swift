import DecnetCore
import DecnetServiceKit
import Foundation
import Testing

@testable import DecnetServices

/// The SIP responder as chan_sip answers: OPTIONS (nmap's probe, svmap), REGISTER's digest challenge and
/// verification, INVITE's 100/407, the enumeration policy, and the digest captured for offline cracking.
@Suite struct SIPTests {
    static let now = 1_790_000_000
    static let udp = SIPResponder.Peer(
        transport: .udp,
        source: Endpoint(ip: "10.0.0.66", port: 40_123),
        local: Endpoint(ip: "10.0.0.20", port: 5060)
    )
    static let tcp = SIPResponder.Peer(
        transport: .tcp,
        source: Endpoint(ip: "10.0.0.66", port: 40_124),
        local: Endpoint(ip: "10.0.0.20", port: 5060)
    )

    static func responder(_ persona: [String: String] = [:], hostname: String = "pbx01.corp.example") -> SIPResponder {
        var keys = [
            "sip_domain": "voip.corp.local", "users": "100:secret,101:Winter2024", "sip_extensions": "100-105,200",
        ]
        for (key, value) in persona { keys[key] = value }
        return SIPResponder(persona: SIPPersona(persona: keys, hostname: hostname), secret: "test-secret")
    }

    /// nmap's UDP SIPOptions probe, byte for byte (nmap-service-probes).
    static let nmapProbe =
        "OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/UDP nm;branch=foo;rport\r\nFrom: <sip:nm@nm>;tag=root\r\n"
        + "To: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n"
        + "Contact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n"

    static func request(
        _ method: String,
        uri: String = "sip:10.0.0.20",
        to: String = "<sip:100@10.0.0.20>",
        from: String = "<sip:100@10.0.0.20>;tag=a1b2",
        callID: String = "c0ffee@10.0.0.66",
        cseq: Int = 1,
        extra: [String] = [],
        body: String = ""
    ) -> [UInt8] {
        var lines = [
            "\(method) \(uri) SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.66:5060;branch=z9hG4bK-1234;rport",
            "From: \(from)", "To: \(to)", "Call-ID: \(callID)", "CSeq: \(cseq) \(method)", "Max-Forwards: 70",
            "User-Agent: Zoiper rev.1234",
        ]
        lines += extra
        lines.append("Content-Length: \(body.utf8.count)")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    static func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "" }

    static func header(_ name: String, in reply: String) -> String? {
        for line in reply.components(separatedBy: "\r\n") where line.lowercased().hasPrefix(name.lowercased() + ": ") {
            return String(line.dropFirst(name.count + 2))
        }
        return nil
    }

    static func fields(_ outcome: SIPResponder.Outcome, _ id: EventID) -> [String: String]? {
        guard let event = outcome.events.first(where: { $0.0 == id }) else { return nil }
        return Dictionary(event.1.fields.map { ($0.name, $0.value) }) { first, _ in first }
    }

    /// The Authorization a client computes for a challenge (RFC 2617 §3.2.2, qop=auth), written independently
    /// of SIPDigest's own response code path except for MD5.
    static func authorization(
        _ challenge: String,
        user: String,
        password: String,
        method: String = "REGISTER",
        uri: String = "sip:10.0.0.20",
        realm: String = "voip.corp.local"
    ) -> String {
        let nonce = challenge.components(separatedBy: "nonce=\"")[1].prefix(8)
        let ha1 = SIPDigest.md5Hex("\(user):\(realm):\(password)")
        let ha2 = SIPDigest.md5Hex("\(method):\(uri)")
        let response = SIPDigest.md5Hex("\(ha1):\(nonce):00000001:deadbeef:auth:\(ha2)")
        return "Digest username=\"\(user)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\", "
            + "response=\"\(response)\", algorithm=MD5, cnonce=\"deadbeef\", qop=auth, nc=00000001"
    }

    /// The WWW-Authenticate of a first REGISTER (extension 100, no credentials).
    static func registerChallenge(_ responder: SIPResponder) throws -> String {
        try #require(
            Self.header(
                "WWW-Authenticate",
                in: Self.text(
                    responder.respond(to: Self.request("REGISTER"), peer: Self.udp, now: Self.now).replies.last
                )
            )
        )
    }

    @Test func nmapsProbeGetsAsterisksAnswerThatItsMatchLinesName() throws {
        let outcome = Self.responder().respond(to: Array(Self.nmapProbe.utf8), peer: Self.udp, now: Self.now)
        let reply = Self.text(outcome.replies.last)
        let lines = reply.components(separatedBy: "\r\n")
        #expect(lines[0] == "SIP/2.0 200 OK")
        #expect(lines[1] == "Via: SIP/2.0/UDP nm;branch=foo;received=10.0.0.66;rport=40123")
        #expect(lines[2] == "From: <sip:nm@nm>;tag=root")
        #expect(
            lines[3].hasPrefix("To: <sip:nm2@nm2>;tag=as") && lines[3].count == "To: <sip:nm2@nm2>;tag=as".count + 8
        )
        #expect(
            lines[4...8] == [
                "Call-ID: 50000", "CSeq: 42 OPTIONS", "Server: Asterisk PBX 18.20.0",
                "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE",
                "Supported: replaces, timer",
            ]
        )
        #expect(
            lines[9...] == ["Contact: <sip:10.0.0.20:5060>", "Accept: application/sdp", "Content-Length: 0", "", ""]
        )
        // nmap-service-probes' sip-proxy line for Asterisk (the 200 OK line wants chan_sip 1.8's list, without MESSAGE).
        let pattern = try NSRegularExpression(
            pattern: "^SIP/2\\.0 (?:[^\\r\\n]*\\r\\n(?!\\r\\n))*?Server: Asterisk PBX ([\\w._+~-]+)\\r\\n",
            options: [.dotMatchesLineSeparators]
        )
        let match = try #require(pattern.firstMatch(in: reply, range: NSRange(reply.startIndex..., in: reply)))
        #expect((reply as NSString).substring(with: match.range(at: 1)) == "18.20.0")
        #expect(Self.fields(outcome, .clientFingerprint)?["tool"] == "nmap")
        #expect(Self.fields(outcome, .commandInput)?["response"] == "200")
        // The same probe twice gets the same tag (retransmissions are answered alike).
        let again = Self.responder().respond(to: Array(Self.nmapProbe.utf8), peer: Self.udp, now: Self.now + 1)
        #expect(Self.text(again.replies.last) == reply)
    }

    @Test func optionsEnumeratesLikeChanSip() {
        let responder = Self.responder()
        let known = responder.respond(
            to: Self.request("OPTIONS", uri: "sip:101@10.0.0.20"),
            peer: Self.udp,
            now: Self.now
        )
        #expect(Self.text(known.replies.last).hasPrefix("SIP/2.0 200 OK\r\n"))
        #expect(Self.header("Contact", in: Self.text(known.replies.last)) == "<sip:101@10.0.0.20:5060>")
        let unknown = responder.respond(
            to: Self.request("OPTIONS", uri: "sip:999@10.0.0.20"),
            peer: Self.udp,
            now: Self.now
        )
        let text = Self.text(unknown.replies.last)
        #expect(text.hasPrefix("SIP/2.0 404 Not Found\r\n") && text.contains("\r\nAccept: application/sdp\r\n"))
        #expect(!text.contains("Contact:"))
        let viaTCP = responder.respond(to: Self.request("OPTIONS"), peer: Self.tcp, now: Self.now, stream: true)
        #expect(Self.header("Contact", in: Self.text(viaTCP.replies.last)) == "<sip:10.0.0.20:5060;transport=tcp>")
    }

    @Test func registerChallengesKnownExtensionsAndRefusesUnknownOnes() throws {
        let responder = Self.responder()
        let unknown = responder.respond(
            to: Self.request("REGISTER", to: "<sip:999@10.0.0.20>", from: "<sip:999@10.0.0.20>;tag=1"),
            peer: Self.udp,
            now: Self.now
        )
        #expect(Self.text(unknown.replies.last).hasPrefix("SIP/2.0 404 Not found\r\n"))
        let first = responder.respond(to: Self.request("REGISTER"), peer: Self.udp, now: Self.now)
        let challenge = try #require(Self.header("WWW-Authenticate", in: Self.text(first.replies.last)))
        #expect(Self.text(first.replies.last).hasPrefix("SIP/2.0 401 Unauthorized\r\n"))
        #expect(challenge.hasPrefix("Digest algorithm=MD5, realm=\"voip.corp.local\", nonce=\""))
        #expect(challenge.hasSuffix("\", qop=\"auth\""))
        // An extension without a known password is challenged too: it exists.
        let noPassword = responder.respond(
            to: Self.request("REGISTER", to: "<sip:200@10.0.0.20>", from: "<sip:200@10.0.0.20>;tag=1"),
            peer: Self.udp,
            now: Self.now
        )
        #expect(Self.text(noPassword.replies.last).hasPrefix("SIP/2.0 401 Unauthorized\r\n"))
    }

    @Test func aRightDigestRegistersAndAWrongOneIsForbiddenBothCapturedForHashcat() throws {
        let responder = Self.responder()
        let challenge = try Self.registerChallenge(responder)
        let good = Self.authorization(challenge, user: "100", password: "secret")
        let ok = responder.respond(
            to: Self.request(
                "REGISTER",
                cseq: 2,
                extra: ["Authorization: " + good, "Contact: <sip:100@10.0.0.66:5060>", "Expires: 3600"]
            ),
            peer: Self.udp,
            now: Self.now + 5
        )
        let okText = Self.text(ok.replies.last)
        #expect(okText.hasPrefix("SIP/2.0 200 OK\r\n"), "\(okText)")
        #expect(Self.header("Expires", in: okText) == "3600")
        #expect(Self.header("Contact", in: okText) == "<sip:100@10.0.0.66:5060>;expires=3600")
        #expect(Self.header("Date", in: okText)?.hasSuffix(" GMT") == true)
        let success = try #require(Self.fields(ok, .loginSuccess))
        #expect(success["username"] == "100" && success["password"] == "secret" && success["method"] == "digest")
        #expect(success["hashcat_mode"] == "11400")
        let nonce = try #require(success["nonce"])
        #expect(
            success["hashcat"]
                == "$sip$*10.0.0.20*10.0.0.66*100*voip.corp.local*REGISTER*sip*10.0.0.20**\(nonce)*deadbeef*00000001*auth*MD5*"
                + (success["response"] ?? "")
        )
        // The captured fields alone reproduce the response with the password (what an offline cracker does).
        let ha1 = SIPDigest.md5Hex("100:\(success["realm"]!):secret")
        let ha2 = SIPDigest.md5Hex("\(success["sip_method"]!):\(success["uri"]!)")
        #expect(
            SIPDigest.md5Hex("\(ha1):\(nonce):\(success["nc"]!):\(success["cnonce"]!):\(success["qop"]!):\(ha2)")
                == success["response"]
        )
        let bad = Self.authorization(challenge, user: "101", password: "letmein")
        let refused = responder.respond(
            to: Self.request(
                "REGISTER",
                to: "<sip:101@10.0.0.20>",
                from: "<sip:101@10.0.0.20>;tag=9",
                cseq: 2,
                extra: ["Authorization: " + bad]
            ),
            peer: Self.udp,
            now: Self.now
        )
        // The nonce was issued for this Call-ID: a wrong password is 403, a right one would have been 200.
        #expect(Self.text(refused.replies.last).hasPrefix("SIP/2.0 403 Forbidden\r\n"))
        let failed = try #require(Self.fields(refused, .loginFailed))
        #expect(failed["username"] == "101" && failed["reason"] == "wrong password" && failed["password"] == nil)
        #expect(failed["hashcat"]?.hasPrefix("$sip$*10.0.0.20*10.0.0.66*101*voip.corp.local*REGISTER*sip*") == true)
    }

    @Test func staleNoncesAndMismatchedUsernamesAreAnsweredAsChanSipDoes() throws {
        let responder = Self.responder()
        let challenge = try Self.registerChallenge(responder)
        let good = Self.authorization(challenge, user: "100", password: "secret")
        let late = responder.respond(
            to: Self.request("REGISTER", cseq: 2, extra: ["Authorization: " + good]),
            peer: Self.udp,
            now: Self.now + 3 * SIPResponder.nonceWindow
        )
        let lateText = Self.text(late.replies.last)
        #expect(lateText.hasPrefix("SIP/2.0 401 Unauthorized\r\n") && lateText.contains(", stale=true\r\n"))
        let other = Self.authorization(challenge, user: "101", password: "Winter2024")
        let mismatch = responder.respond(
            to: Self.request("REGISTER", cseq: 2, extra: ["Authorization: " + other]),
            peer: Self.udp,
            now: Self.now
        )
        #expect(Self.text(mismatch.replies.last).hasPrefix("SIP/2.0 404 Not found\r\n"))
        #expect(Self.fields(mismatch, .loginFailed)?["reason"] == "username does not match the account")
        // A Basic credential (no SIP client sends one, brute forcers do) is recorded and challenged.
        let basic = responder.respond(
            to: Self.request("REGISTER", extra: ["Authorization: Basic MTAwOmh1bnRlcjI="]),
            peer: Self.udp,
            now: Self.now
        )
        #expect(Self.fields(basic, .loginFailed)?["password"] == "hunter2")
        #expect(Self.text(basic.replies.last).hasPrefix("SIP/2.0 401 Unauthorized\r\n"))
    }

    @Test func inviteIsTriedThenChallengedAndTheTollFraudAttemptRecorded() throws {
        let responder = Self.responder()
        let sdp =
            "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n"
            + "m=audio 18000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
        let invite = Self.request(
            "INVITE",
            uri: "sip:900972599123456@10.0.0.20",
            to: "<sip:900972599123456@10.0.0.20>",
            from: "\"100\" <sip:100@10.0.0.20>;tag=77",
            extra: ["Contact: <sip:100@203.0.113.9:5060>", "Content-Type: application/sdp"],
            body: sdp
        )
        let first = responder.respond(to: invite, peer: Self.tcp, now: Self.now, stream: false)
        #expect(first.replies.count == 2)
        let trying = Self.text(first.replies.first)
        #expect(
            trying.hasPrefix("SIP/2.0 100 Trying\r\n")
                && Self.header("To", in: trying) == "<sip:900972599123456@10.0.0.20>"
        )
        let challengeText = Self.text(first.replies.last)
        #expect(challengeText.hasPrefix("SIP/2.0 407 Proxy Authentication Required\r\n"))
        let challenge = try #require(Self.header("Proxy-Authenticate", in: challengeText))
        let command = try #require(Self.fields(first, .commandInput))
        #expect(
            command["command"] == "INVITE" && command["dialed"] == "900972599123456" && command["call_to"] == "external"
        )
        #expect(command["response"] == "407")
        let payload = try #require(Self.fields(first, .payloadReceived))
        #expect(payload["kind"] == "sdp" && payload["media_ip"] == "203.0.113.9" && payload["media_port"] == "18000")
        let credentials = Self.authorization(
            challenge,
            user: "100",
            password: "secret",
            method: "INVITE",
            uri: "sip:900972599123456@10.0.0.20"
        )
        let second = responder.respond(
            to: Self.request(
                "INVITE",
                uri: "sip:900972599123456@10.0.0.20",
                to: "<sip:900972599123456@10.0.0.20>",
                from: "\"100\" <sip:100@10.0.0.20>;tag=77",
                cseq: 2,
                extra: ["Proxy-Authorization: " + credentials],
                body: sdp
            ),
            peer: Self.tcp,
            now: Self.now
        )
        #expect(
            second.replies.map { Self.text($0).components(separatedBy: "\r\n")[0] } == [
                "SIP/2.0 100 Trying", "SIP/2.0 404 Not Found",
            ]
        )
        #expect(Self.fields(second, .loginSuccess)?["sip_method"] == "INVITE")
        // An unknown caller is challenged as well, and refused once it answers.
        let stranger = responder.respond(
            to: Self.request("INVITE", uri: "sip:101@10.0.0.20", from: "<sip:anonymous@evil>;tag=5"),
            peer: Self.udp,
            now: Self.now
        )
        #expect(Self.text(stranger.replies.last).hasPrefix("SIP/2.0 407 Proxy Authentication Required\r\n"))
        #expect(Self.fields(stranger, .commandInput)?["call_to"] == "extension")
    }

    @Test func otherMethodsGetChanSipsOutOfDialogAnswers() {
        let responder = Self.responder()
        let cases: [(String, String)] = [
            ("BYE", "481 Call leg/transaction does not exist"), ("CANCEL", "481 Call leg/transaction does not exist"),
            ("MESSAGE", "405 Method Not Allowed"), ("NOTIFY", "489 Bad event"), ("PUBLISH", "489 Bad Event"),
            ("REFER", "603 Declined (No dialog)"), ("SUBSCRIBE", "489 Bad Event"),
            ("FOOBAR", "501 Method Not Implemented"),
        ]
        for (method, status) in cases {
            let outcome = responder.respond(to: Self.request(method), peer: Self.udp, now: Self.now)
            #expect(Self.text(outcome.replies.last).hasPrefix("SIP/2.0 \(status)\r\n"), "\(method)")
        }
        let ack = responder.respond(to: Self.request("ACK"), peer: Self.udp, now: Self.now)
        #expect(ack.replies.isEmpty && Self.fields(ack, .commandInput)?["command"] == "ACK")
    }

    @Test func compactFormsFoldedLinesAndBareLineFeedsAreRead() {
        let message =
            "OPTIONS sip:100@pbx SIP/2.0\nv: SIP/2.0/UDP 10.0.0.66:5060;branch=z9hG4bK1\nf: <sip:a@b>;tag=1\n"
            + "t: <sip:100@pbx>\ni: compact-1\nCSeq: 7\n OPTIONS\nl: 0\n\n"
        let outcome = Self.responder().respond(to: Array(message.utf8), peer: Self.udp, now: Self.now)
        let reply = Self.text(outcome.replies.last)
        #expect(
            reply.hasPrefix(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.66:5060;branch=z9hG4bK1;received=10.0.0.66;rport=40123\r\n"
            )
        )
        #expect(reply.contains("\r\nFrom: <sip:a@b>;tag=1\r\n") && reply.contains("\r\nCall-ID: compact-1\r\n"))
        #expect(reply.contains("\r\nCSeq: 7 OPTIONS\r\n"))
    }

    @Test func viaIsAnsweredWithReceivedAndRportOnlyWhenAskedOrBehindNAT() {
        #expect(
            SIPVia.answered("SIP/2.0/UDP 10.0.0.66:40123;branch=z9hG4bK1", source: "10.0.0.66", port: 40123)
                == "SIP/2.0/UDP 10.0.0.66:40123;branch=z9hG4bK1;received=10.0.0.66"
        )
        #expect(
            SIPVia.answered("SIP/2.0/TCP nm;branch=foo", source: "10.0.0.66", port: 5555)
                == "SIP/2.0/TCP nm;branch=foo;received=10.0.0.66;rport=5555"
        )
        #expect(
            SIPVia.answered("SIP/2.0/UDP a:1;rport;branch=x, SIP/2.0/UDP b", source: "1.2.3.4", port: 9)
                == "SIP/2.0/UDP a:1;branch=x;received=1.2.3.4;rport=9, SIP/2.0/UDP b"
        )
        // Parameter names in any case and with spaces around them; an old received= is replaced, not repeated.
        #expect(
            SIPVia.answered("SIP/2.0/UDP a:1; RPort ;Received=9.9.9.9;branch=x", source: "1.2.3.4", port: 9)
                == "SIP/2.0/UDP a:1;branch=x;received=1.2.3.4;rport=9"
        )
        // "rport=5" is not a bare rport, and "rports" is another parameter.
        #expect(
            SIPVia.answered("SIP/2.0/UDP 1.2.3.4:9;rport=5;rports", source: "1.2.3.4", port: 9)
                == "SIP/2.0/UDP 1.2.3.4:9;rport=5;rports;received=1.2.3.4"
        )
    }

    @Test func hostileInputGetsAProtocolErrorOrSilence() {
        let responder = Self.responder()
        let garbage = responder.respond(
            to: [0x16, 0x03, 0x01, 0x00, 0xFF, 0x00, 0x0A, 0x0A],
            peer: Self.udp,
            now: Self.now
        )
        #expect(garbage.replies.isEmpty && Self.fields(garbage, .clientMalformed) != nil)
        let huge =
            Array("OPTIONS sip:nm SIP/2.0\r\nX-Pad: ".utf8) + Array(repeating: 0x41, count: 20_000)
            + Array("\r\n\r\n".utf8)
        #expect(responder.respond(to: huge, peer: Self.udp, now: Self.now).replies.isEmpty)
        let noCallID = Array(
            "OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCSeq: 1 OPTIONS\r\n\r\n"
                .utf8
        )
        #expect(
            Self.text(responder.respond(to: noCallID, peer: Self.udp, now: Self.now).replies.last).hasPrefix(
                "SIP/2.0 400 Bad Request\r\n"
            )
        )
        let beyond = Array(
            ("OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\n"
                + "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 999\r\n\r\nv=0\r\n").utf8
        )
        let short = responder.respond(to: beyond, peer: Self.udp, now: Self.now)
        #expect(Self.text(short.replies.last).hasPrefix("SIP/2.0 400 Bad Request\r\n"))
        let badLength = Array(
            Self.text(Self.request("OPTIONS")).replacingOccurrences(of: "Content-Length: 0", with: "Content-Length: -5")
                .utf8
        )
        #expect(
            Self.text(responder.respond(to: badLength, peer: Self.udp, now: Self.now).replies.last).hasPrefix(
                "SIP/2.0 400 Bad Request\r\n"
            )
        )
        let version = Array(
            Self.text(Self.request("OPTIONS")).replacingOccurrences(of: " SIP/2.0\r\n", with: " SIP/3.0\r\n").utf8
        )
        #expect(
            Self.text(responder.respond(to: version, peer: Self.udp, now: Self.now).replies.last).hasPrefix(
                "SIP/2.0 505 Version Not Supported\r\n"
            )
        )
        let mismatch = Array(
            Self.text(Self.request("OPTIONS")).replacingOccurrences(of: "CSeq: 1 OPTIONS", with: "CSeq: 1 INVITE").utf8
        )
        #expect(
            Self.text(responder.respond(to: mismatch, peer: Self.udp, now: Self.now).replies.last).hasPrefix(
                "SIP/2.0 400 Bad Request\r\n"
            )
        )
        let response = responder.respond(
            to: Array("SIP/2.0 200 OK\r\nVia: x\r\n\r\n".utf8),
            peer: Self.udp,
            now: Self.now
        )
        #expect(response.replies.isEmpty)
        #expect(responder.respond(to: Array("\r\n\r\n".utf8), peer: Self.udp, now: Self.now).events.isEmpty)
        #expect(responder.respond(to: [], peer: Self.udp, now: Self.now).replies.isEmpty)
        let nulls = Array(
            "INVITE sip:\0@x SIP/2.0\r\nVia: \0\r\nFrom: \0\r\nTo: \0\r\nCall-ID: \0\r\nCSeq: 1 INVITE\r\n\r\n".utf8
        )
        #expect(responder.respond(to: nulls, peer: Self.udp, now: Self.now).replies.count == 2)
    }

    @Test func aUDPReplyIsNeverMoreThanThreeTimesItsRequest() {
        let responder = Self.responder()
        let tiny = Array(
            "OPTIONS sip:x SIP/2.0\r\nv:SIP/2.0/UDP h\r\nf:<sip:a@b>\r\nt:<sip:c@d>\r\ni:1\r\nCSeq:1 OPTIONS\r\n\r\n"
                .utf8
        )
        let bound = tiny.count * SIPDatagramService.amplification
        let outcome = responder.respond(to: tiny, peer: Self.udp, now: Self.now, byteBound: bound)
        let reply = outcome.replies.last
        #expect((reply?.count ?? .max) <= bound)
        #expect(Self.text(reply).contains("Server: Asterisk PBX 18.20.0"))
        let unbound = responder.respond(to: tiny, peer: Self.udp, now: Self.now)
        #expect((unbound.replies.last?.count ?? 0) > bound)
        let impossible = responder.respond(to: tiny, peer: Self.udp, now: Self.now, byteBound: 40)
        #expect(impossible.replies.isEmpty)
    }

    @Test func scannersAreFingerprinted() throws {
        let responder = Self.responder()
        let svmap = Array(
            Self.text(Self.request("OPTIONS")).replacingOccurrences(of: "Zoiper rev.1234", with: "friendly-scanner")
                .utf8
        )
        let fields = try #require(
            Self.fields(responder.respond(to: svmap, peer: Self.udp, now: Self.now), .clientFingerprint)
        )
        #expect(fields["tool"] == "sipvicious" && fields["user_agent"] == "friendly-scanner")
        let plain = try #require(
            Self.fields(
                responder.respond(to: Self.request("OPTIONS"), peer: Self.udp, now: Self.now),
                .clientFingerprint
            )
        )
        #expect(plain["client"] == "Zoiper rev.1234" && plain["tool"] == nil)
        // The User-Agent fragments anywhere, in any case; a fragment cut short or absent is not a match.
        for (agent, tool) in [
            ("SIPp/3.6.1", "sipp"), ("x sIpSaK 0.9.8", "sipsak"), ("VaxSIPUserAgent/3.1", "vaxsip"),
            ("pplsip", "pplsip"), ("sipp", nil), ("Asterisk PBX 18.20.0", nil), ("smaP", "smap"), ("", nil),
        ] as [(String, String?)] {
            let request = Array(
                Self.text(Self.request("OPTIONS")).replacingOccurrences(of: "Zoiper rev.1234", with: agent).utf8
            )
            let found = Self.fields(responder.respond(to: request, peer: Self.udp, now: Self.now), .clientFingerprint)
            #expect(found?["tool"] == tool, "\(agent)")
        }
    }

    @Test func personaDefaultsAndDialects() {
        let plain = SIPPersona(persona: [:], hostname: "pbx01.corp.example")
        #expect(
            plain.realm == "corp.example" && plain.server == "Asterisk PBX 18.20.0" && plain.serverHeader == "Server"
        )
        #expect(plain.extensions == Set((100...119).map(String.init)))
        #expect(SIPPersona(persona: [:], hostname: "voicebox").realm == "voicebox")
        let freeswitch = SIPPersona(
            persona: ["sip_server": "FreeSWITCH-mod_sofia/1.10.10-release", "users": "alice:pw"],
            hostname: "x"
        )
        #expect(freeswitch.serverHeader == "User-Agent" && freeswitch.allow.hasPrefix("INVITE, ACK, BYE, CANCEL"))
        #expect(freeswitch.extensions.contains("alice"))
        #expect(SIPPersona.extensions("0100-0102, 7 ,x").sorted() == ["0100", "0101", "0102", "7", "x"])
        #expect(SIPPersona.extensions("1-99999999").count == SIPPersona.maximumExtensions)
        let hostile = SIPPersona(persona: ["sip_server": "Evil\r\nX: 1", "sip_domain": "a\"b\r\n"], hostname: "x")
        #expect(hostile.server == "EvilX: 1" && hostile.realm == "ab")
    }
}
