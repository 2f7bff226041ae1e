import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// SIP over TCP framed by Content-Length, the digest against known answers (RFC 2617's own example and
/// hashcat's self-test hash), and the captured hostile inputs replayed through decoder and responder.
@Suite struct SIPStreamTests {
    static let options = Array(
        ("OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\nFrom: <sip:nm@nm>;tag=root\r\n"
            + "To: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n"
            + "Contact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n").utf8
    )
    static let message = Array(
        ("MESSAGE sip:100@pbx SIP/2.0\r\nv: SIP/2.0/TCP 10.0.0.66;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\n"
            + "t: <sip:100@pbx>\r\ni: m1\r\nCSeq: 1 MESSAGE\r\nc: text/plain\r\nl: 5\r\n\r\nhello").utf8
    )

    @Test func messagesAreFramedByContentLengthWhateverTheSplit() throws {
        try SplitVerifier.verify(
            Array("\r\n\r\n".utf8) + Self.options + Self.message,
            produces: [SIPStreamFrame.message(Self.options), .message(Self.message)],
            decoder: { SIPStreamDecoder() }
        )
    }

    @Test func anUnusableContentLengthIsAnswered400AndEndsTheStream() throws {
        let head =
            "INVITE sip:1@pbx SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\n"
            + "To: <sip:1@pbx>\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 12x"
        try SplitVerifier.verify(
            Array((head + "\r\n\r\n").utf8) + Self.options,
            produces: [SIPStreamFrame.badLength(head: Array(head.utf8), problem: "invalid Content-Length 12x")],
            decoder: { SIPStreamDecoder() }
        )
        let huge = head.replacingOccurrences(of: "12x", with: "999999")
        try SplitVerifier.verify(
            Array((huge + "\r\n\r\n").utf8),
            produces: [
                SIPStreamFrame.badLength(head: Array(huge.utf8), problem: "Content-Length 999999 over the limit")
            ],
            decoder: { SIPStreamDecoder() }
        )
        let responder = SIPTests.responder()
        let reply = responder.badFraming(Array(head.utf8), problem: "x", peer: SIPTests.tcp, now: SIPTests.now)
        #expect(
            SIPTests.text(reply).hasPrefix("SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2;received=")
        )
        #expect(responder.badFraming(Array("GET / HTTP/1.0".utf8), problem: "x", peer: SIPTests.tcp, now: 0) == nil)
    }

    @Test func notSIPOrAnEndlessHeaderSectionClosesTheStream() throws {
        let http = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        try SplitVerifier.verify(
            http,
            produces: [SIPStreamFrame.invalid("not a SIP message", Array("GET / HTTP/1.0\r\n".utf8))],
            decoder: { SIPStreamDecoder() }
        )
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(SIPStreamDecoder(), maximumBufferSize: SIPStreamDecoder.maximumBuffer)
        )
        try channel.writeInbound(ByteBuffer(bytes: Array("OPTIONS sip:x SIP/2.0\r\nX: ".utf8)))
        try channel.writeInbound(ByteBuffer(bytes: [UInt8](repeating: 0x41, count: 17_000)))
        guard case .invalid(let problem, _) = try channel.readInbound(as: SIPStreamFrame.self) else {
            Issue.record("no invalid frame")
            return
        }
        #expect(problem == "header section over 16384 bytes")
        try channel.writeInbound(ByteBuffer(bytes: Self.options))
        #expect(try channel.readInbound(as: SIPStreamFrame.self) == nil)
        _ = try? channel.finish()
    }

    /// RFC 2617 §3.5: Mufasa, "Circle Of Life", GET /dir/index.html.
    @Test func theDigestMatchesRFC2617sExampleAndHashcatsSelfTest() throws {
        let rfc = try #require(
            SIPDigest(
                header: "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                    + "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, nc=00000001, "
                    + "cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", "
                    + "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
            )
        )
        #expect(rfc.proves(password: "Circle Of Life", method: "GET"))
        #expect(!rfc.proves(password: "circle of life", method: "GET"))
        #expect(rfc.opaque == "5ccc069c403ebaf9f0171e9517f40e41")
        // hashcat -m 11400's self-test hash (password "hashcat"): method 342210558720, URI
        // 737232616:1215344588738747:8867133055, nonce 65600, no qop. Our line splits the URI at its first colon,
        // which hashcat hashes back into the same method:uri.
        let selfTest = try #require(
            SIPDigest(
                header: "Digest username=\"\", realm=\"\", nonce=\"65600\", "
                    + "uri=\"737232616:1215344588738747:8867133055\", response=\"e9980869221f9d1182c83b0d5e56a7db\""
            )
        )
        #expect(selfTest.proves(password: "hashcat", method: "342210558720"))
        #expect(
            selfTest.hashcatLine(method: "342210558720", server: "72087", client: "1215344588738747")
                == "$sip$*72087*1215344588738747***342210558720*737232616*1215344588738747:8867133055**65600****MD5*"
                + "e9980869221f9d1182c83b0d5e56a7db"
        )
        let star = try #require(
            SIPDigest(header: "Digest username=\"a*b\", nonce=\"1\", uri=\"sip:x\", response=\"00\"")
        )
        #expect(star.hashcatLine(method: "REGISTER", server: "s", client: "c") == nil)
        #expect(SIPDigest(header: "Basic YTpi") == nil)
        #expect(SIPDigest(header: "Digest username=\"x\"") == nil)
        let escaped = try #require(
            SIPDigest(header: "digest  username=\"a\\\"b\",nonce=n,uri=\"sip:x\",response=r,,,junk,qop=\"auth\"")
        )
        #expect(escaped.username == "a\"b" && escaped.nonce == "n" && escaped.qop == "auth" && !escaped.usesQop)
    }

    @Test func replaysDoNotCrash() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Replays/sip")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".b64") }
        #expect(!names.isEmpty)
        let responder = SIPTests.responder()
        for name in names.sorted() {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let bytes = try #require(Data(base64Encoded: text.filter { !$0.isWhitespace }), "\(name) is not base64")
            _ = responder.respond(to: Array(bytes), peer: SIPTests.udp, now: SIPTests.now, byteBound: bytes.count * 3)
            let channel = EmbeddedChannel(
                handler: ByteToMessageHandler(SIPStreamDecoder(), maximumBufferSize: SIPStreamDecoder.maximumBuffer)
            )
            _ = try? channel.writeInbound(ByteBuffer(bytes: Array(bytes)))
            while let frame = try? channel.readInbound(as: SIPStreamFrame.self) {
                switch frame {
                case .message(let message):
                    _ = responder.respond(to: message, peer: SIPTests.tcp, now: SIPTests.now, stream: true)
                case .badLength(let head, let problem):
                    _ = responder.badFraming(head, problem: problem, peer: SIPTests.tcp, now: SIPTests.now)
                case .invalid: break
                }
            }
            _ = try? channel.finish()
        }
    }
}
