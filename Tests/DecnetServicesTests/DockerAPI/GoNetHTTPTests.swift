import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import DecnetServices

/// What makes the docker_api honeypot's HTTP Go's: the request reader of net/http (the refusals dockerd's server
/// writes, byte for byte, and the waits: measured against Debian 12's dockerd 20.10 in bench/differential) and
/// JSON as encoding/json writes it. Hostile input ends in a request, a wait or a refusal.
@Suite struct GoNetHTTPTests {
    /// Feeds `bytes` to a Go-family reader: the heads it produced, what it wrote back, whether it closed.
    static func read(_ bytes: [UInt8]) throws -> (heads: [HTTPRequestHead], written: String, closed: Bool) {
        let decoder = HTTPPersonaRequestDecoder(family: .go, reject: DockerAPIService.goRefusal)
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2375)).wait()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: 1 << 21))
        do { try channel.writeInbound(ByteBuffer(bytes: bytes)) } catch is HTTPRejection {}
        var heads: [HTTPRequestHead] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .head(let head) = part { heads.append(head) }
        }
        var written = ""
        while let out = try channel.readOutbound(as: ByteBuffer.self) {
            written += String(decoding: out.readableBytesView, as: UTF8.self)
        }
        return (heads, written, !channel.isActive)
    }

    static func refusal(_ text: String) -> String {
        "HTTP/1.1 \(text)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n\(text)"
    }

    @Test func refusalsAreGosOwn() throws {
        let cases: [(String, String)] = [
            ("GET /version HTTP/1.1\r\n\r\n", "400 Bad Request: missing required Host header"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 Bad Request: too many Host headers"),
            ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505 HTTP Version Not Supported: unsupported protocol version"),
            ("\r\n\r\n", "400 Bad Request"),
            ("HELP\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", "400 Bad Request"),
            ("GET relative HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n", "400 Bad Request"),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400 Bad Request"),
        ]
        for (request, text) in cases {
            let outcome = try Self.read(Array(request.utf8))
            #expect(outcome.written == Self.refusal(text), "\(request.debugDescription)")
            #expect(outcome.closed && outcome.heads.isEmpty)
        }
        let te = try Self.read(Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".utf8))
        #expect(
            te.written
                == "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding"
        )
    }

    @Test func aProbeWithoutANewlineWaitsAndARequestPasses() throws {
        // nmap's RPCCheck and X11Probe carry no newline: Go is still reading the request line.
        let waiting = try Self.read([0x80, 0, 0, 0x28, 0x72, 0xFE, 0x1D, 0x13, 0, 0, 0, 0])
        #expect(waiting.written.isEmpty && !waiting.closed)
        let ok = try Self.read(Array("GET /v1.41/info HTTP/1.0\r\n\r\n".utf8))
        #expect(ok.heads.first?.uri == "/v1.41/info" && ok.heads.first?.version == .http1_0)
        let long = try Self.read(Array(repeating: UInt8(ascii: "A"), count: (1 << 20) + 5000))
        #expect(long.written == Self.refusal("431 Request Header Fields Too Large"))
    }

    @Test func randomBytesEndInARequestAWaitOrARefusal() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let count = Int.random(in: 0...300, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let outcome = try Self.read(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8) + bytes)
            #expect(outcome.written.isEmpty || outcome.written.hasPrefix("HTTP/1.1 "))
        }
    }

    @Test func jsonKeepsItsOrderAndEscapesAsGoDoes() {
        let document: GoJSON = [
            "Zeta": 1, "Alpha": ["b": true, "a": nil], "Text": "<a href=\"x\">&\u{2028}\u{08}\n\t\\",
            "List": .strings(nil), "Map": .sortedObject(["b": 2, "a": 1]),
        ]
        let text = String(decoding: document.bytes, as: UTF8.self)
        #expect(
            text
                == #"{"Zeta":1,"Alpha":{"b":true,"a":null},"Text":"\u003ca href=\"x\"\u003e\u0026\u2028\u0008\n\t\\","List":null,"Map":{"a":1,"b":2}}"#
        )
    }

    @Test func dockerStatusWordsFollowGosHumanDuration() {
        let words = [
            0: "Less than a second", 1: "1 second", 59: "59 seconds", 60: "About a minute",
            3_599: "59 minutes", 3_600: "About an hour", 5_399: "About an hour", 5_400: "2 hours",
            47 * 3_600: "47 hours", 48 * 3_600: "2 days", 21 * 86_400: "3 weeks", 90 * 86_400: "3 months",
        ]
        for (seconds, expected) in words {
            #expect(DockerEngineAPI.humanDuration(seconds) == expected, "\(seconds) s")
        }
    }
}
