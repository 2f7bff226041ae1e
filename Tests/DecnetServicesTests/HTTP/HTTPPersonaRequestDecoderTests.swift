import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import DecnetServices

/// The web server honeypot's request parser: what nginx and Apache personas refuse, and how, at the byte level
/// (the figures are Debian 12's nginx 1.22 and Apache 2.4, measured in bench/differential), and that hostile input
/// ends in a request, a wait or a refusal, never a crash.
@Suite struct HTTPPersonaRequestDecoderTests {
    /// What one connection produced: the request parts, the bytes written back, whether it closed, the refusal.
    struct Outcome {
        var parts: [HTTPServerRequestPart] = []
        var written = ""
        var closed = false
        var rejection: HTTPRejection?

        var heads: [HTTPRequestHead] {
            self.parts.compactMap { if case .head(let head) = $0 { head } else { nil } }
        }
    }

    static func configuration(_ server: String) throws -> HTTPService.Configuration {
        try HTTPService(
            context: ServiceContext(
                decky: "d",
                hostname: "www01",
                service: "http",
                persona: ["server_header": server],
                sink: DiscardingEventSink()
            )
        ).configuration
    }

    static func run(_ server: String, _ chunks: [[UInt8]]) throws -> Outcome {
        let configuration = try Self.configuration(server)
        let decoder = HTTPPersonaRequestDecoder(family: configuration.family) { rejection in
            var responder = HTTPResponder(configuration: configuration, port: 80)
            responder.serverAddress = "10.1.2.3"
            let response = responder.error(rejection.status, host: rejection.host, method: rejection.method ?? "GET")
            return HTTPService.serialise(response, configuration: configuration, date: Date(timeIntervalSince1970: 0))
        }
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: 70_000))
        var outcome = Outcome()
        for chunk in chunks {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch let rejection as HTTPRejection {
                outcome.rejection = rejection
            }
            while let part = try channel.readInbound(as: HTTPServerRequestPart.self) { outcome.parts.append(part) }
        }
        while let bytes = try channel.readOutbound(as: ByteBuffer.self) {
            outcome.written += String(decoding: bytes.readableBytesView, as: UTF8.self)
        }
        outcome.closed = !channel.isActive
        _ = try? channel.finish()
        return outcome
    }

    static func run(_ server: String, _ text: String) throws -> Outcome { try self.run(server, [Array(text.utf8)]) }

    static let nginx = "nginx/1.22.1"
    static let apache = "Apache/2.4.71 (Debian)"

    @Test func nginxRefusesABinaryProbeAtItsFirstByteWithItsOwnPage() throws {
        // nmap's RPCCheck probe: no newline, so only a byte-by-byte parser answers it.
        let outcome = try Self.run(Self.nginx, [[0x80, 0, 0, 0x28, 0x72, 0xFE, 0x1D, 0x13]])
        #expect(outcome.parts.isEmpty && outcome.closed)
        #expect(
            outcome.written
                == "HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 157\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
        )
        #expect(outcome.rejection?.status == 400)
    }

    @Test func apacheWaitsForAWholeLineBeforeJudgingIt() throws {
        let silent = try Self.run(Self.apache, [[0x80, 0, 0, 0x28, 0x72, 0xFE, 0x1D, 0x13]])
        #expect(silent.parts.isEmpty && silent.written.isEmpty && !silent.closed)
        let help = try Self.run(Self.apache, "HELP\r\n")
        #expect(help.closed && help.written.hasPrefix("HTTP/1.1 400 Bad Request\r\nDate: "))
        #expect(
            help.written.contains("\r\nServer: Apache/2.4.71 (Debian)\r\nContent-Length: 340\r\nConnection: close\r\n")
        )
        #expect(help.written.contains("Content-Type: text/html; charset=iso-8859-1\r\n\r\n<!DOCTYPE HTML PUBLIC"))
        #expect(
            help.written.hasSuffix(
                "<address>Apache/2.4.71 (Debian) Server at 10.1.2.3 Port 80</address>\n</body></html>\n"
            )
        )
    }

    @Test func versionsAsEachServerTakesThem() throws {
        let nginx = try Self.run(Self.nginx, "GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        #expect(nginx.written.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n") && nginx.closed)
        let apache = try Self.run(Self.apache, "GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        #expect(apache.heads.first?.version == .http1_1 && apache.written.isEmpty)
        for server in [Self.nginx, Self.apache] {
            let rtsp = try Self.run(server, "OPTIONS / RTSP/1.0\r\n\r\n")
            #expect(rtsp.written.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && rtsp.heads.isEmpty, "\(server)")
            let old = try Self.run(server, "GET / HTTP/1.0\r\n\r\n")
            #expect(old.heads.first?.version == .http1_0 && old.heads.first?.isKeepAlive == false)
        }
        // nginx takes `OPTIONS *` for a bad target; Apache answers it (HTTPResponder).
        #expect(try Self.run(Self.nginx, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").rejection?.status == 400)
        #expect(try Self.run(Self.apache, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.uri == "*")
        // Apache takes any method token and answers FOO later; nginx takes capitals only.
        #expect(try Self.run(Self.apache, "FOO / HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.method.rawValue == "FOO")
        #expect(try Self.run(Self.nginx, "FOO / HTTP/1.1\r\nHost: x\r\n\r\n").heads.first?.method.rawValue == "FOO")
        #expect(try Self.run(Self.nginx, "get / HTTP/1.1\r\n").rejection?.status == 400)
    }

    @Test func requestsEitherServerRefuses() throws {
        for server in [Self.nginx, Self.apache] {
            let long = try Self.run(
                server,
                "GET /" + String(repeating: "A", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            #expect(long.rejection?.status == 414 && long.closed, "\(server)")
            let noHost = try Self.run(server, "GET / HTTP/1.1\r\n\r\n")
            #expect(noHost.rejection?.status == 400 && noHost.heads.isEmpty, "\(server)")
            let climb = try Self.run(server, "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(climb.rejection?.status == 400, "\(server)")
            #expect(try Self.run(server, "GET /a/%2E%2e/%2e./b HTTP/1.1\r\nHost: x\r\n\r\n").rejection?.status == 400)
            #expect(try Self.run(server, "GET /a/../b HTTP/1.1\r\nHost: x\r\n\r\n").heads.count == 1)
            let coding = try Self.run(server, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
            #expect(coding.rejection?.status == 501, "\(server)")
        }
        // Apache's page names the Host the client asked for.
        let climb = try Self.run(Self.apache, "GET /../x HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n")
        #expect(climb.written.contains("Server at shop.example Port 80</address>"))
    }

    @Test func bodiesByLengthAndByChunksArriveWhole() throws {
        let request = "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nuser=a&pw=b"
        let bytes = Array(request.utf8)
        // Split at every byte: the head waits for its empty line, the body arrives in pieces.
        let split = try Self.run(Self.nginx, bytes.map { [$0] })
        #expect(split.heads.count == 1 && split.rejection == nil)
        let body = split.parts.compactMap {
            if case .body(let chunk) = $0 { Array(chunk.readableBytesView) } else { nil }
        }
        #expect(Array(body.joined()) == Array("user=a&pw=b".utf8))
        if case .end = split.parts.last {} else { Issue.record("no end: \(split.parts)") }

        let chunked = try Self.run(
            Self.apache,
            "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        let chunks = chunked.parts.compactMap {
            if case .body(let chunk) = $0 { String(decoding: chunk.readableBytesView, as: UTF8.self) } else { nil }
        }
        #expect(chunks.joined() == "hello world" && chunked.heads.count == 2)
    }

    @Test func lyingAndHostileFramingIsRefused() throws {
        let cases = [
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n",
            // A sign is not a hex digit (the fuzzer's crash-49cbfb3d…: -2 was taken as a length).
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nhe\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nhe\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n: nameless\r\n\r\n",
            "GET /\u{0}x HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.x\r\nHost: x\r\n\r\n",
            "GET / HTTP/0.9\r\n\r\n",
        ]
        for text in cases {
            for server in [Self.nginx, Self.apache] {
                let outcome = try Self.run(server, text)
                #expect(outcome.rejection != nil && outcome.closed, "\(server): \(text.debugDescription)")
                #expect(outcome.written.hasPrefix("HTTP/1.1 4") || outcome.written.hasPrefix("HTTP/1.1 5"))
            }
        }
        // A header block that never ends is refused at 64 KiB, not kept.
        let flood = try Self.run(
            Self.nginx,
            [Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8)]
                + Array(repeating: Array("X-Pad: \(String(repeating: "a", count: 1000))\r\n".utf8), count: 70)
        )
        #expect(flood.rejection?.status == 400 && flood.closed)
    }

    /// Random bytes and random mutations of real requests: every outcome is a request, a wait or a refusal.
    @Test func randomInputNeverCrashes() throws {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\n\r\n",
            "POST /wp-login.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nlog=\r\n0\r\n\r\n",
            "OPTIONS * HTTP/1.0\r\n\r\n",
        ]
        for round in 0..<400 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            } else {
                for _ in 0..<Int.random(in: 1...6, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
            }
            for server in [Self.nginx, Self.apache] {
                let outcome = try Self.run(server, [bytes])
                #expect(outcome.rejection == nil || outcome.closed, "\(bytes)")
            }
        }
    }

    @Test func responseHeadersComeInEachServersOrder() throws {
        let nginx = try Self.configuration(Self.nginx)
        let page = HTTPResponder(configuration: nginx, port: 80).respond(
            to: .init(method: "GET", uri: "/", headers: [("Host", "x")], body: [])
        ).0
        let nginxNames = HTTPService.headerLines(
            page,
            configuration: nginx,
            date: Date(),
            keepAlive: true,
            http10: false
        ).map(\.0)
        #expect(
            nginxNames == [
                "Server", "Date", "Content-Type", "Content-Length", "Last-Modified", "Connection", "ETag",
                "Accept-Ranges",
            ]
        )

        let apache = try Self.configuration(Self.apache)
        let apachePage = HTTPResponder(configuration: apache, port: 80).respond(
            to: .init(method: "GET", uri: "/", headers: [("Host", "x")], body: [])
        ).0
        #expect(apachePage.payload.count == 10_701)
        #expect(
            ArtifactStore.sha256(apachePage.payload)
                == "f14e8167f12be74330c1b881b5aa3df95f5bd66d26f42cc03b87a7c38946c571"
        )
        let kept = HTTPService.headerLines(
            apachePage,
            configuration: apache,
            date: Date(),
            keepAlive: true,
            http10: false
        )
        #expect(
            kept.map(\.0) == [
                "Date", "Server", "Last-Modified", "ETag", "Accept-Ranges", "Content-Length", "Vary", "Content-Type",
            ]
        )
        let closed = HTTPService.headerLines(
            apachePage,
            configuration: apache,
            date: Date(),
            keepAlive: false,
            http10: true
        )
        #expect(closed.map(\.0).suffix(3) == ["Vary", "Connection", "Content-Type"])
        // The entity tag and time of the page are the same on every request and differ between hosts.
        #expect(kept.first { $0.0 == "ETag" }?.1.hasPrefix("\"29cd-") == true)
        let other = try HTTPService(
            context: ServiceContext(
                decky: "d",
                hostname: "www02",
                service: "http",
                persona: [:],
                sink: DiscardingEventSink()
            )
        ).configuration
        let again = try Self.configuration(Self.apache)
        #expect(other.installed != apache.installed && apache.installed == again.installed)

        // Apache's answers to OPTIONS and an unknown method.
        let responder = HTTPResponder(configuration: apache, port: 80)
        let options = responder.respond(to: .init(method: "OPTIONS", uri: "/", headers: [], body: [])).0
        #expect(options.status == 200 && options.headers.contains { $0 == ("Allow", "GET,POST,OPTIONS,HEAD") })
        let foo = responder.respond(to: .init(method: "FOO", uri: "/", headers: [("Host", "x")], body: [])).0
        #expect(
            foo.status == 501 && foo.close && foo.body.contains("<p>FOO not supported for current URL.<br />\n</p>")
        )
    }
}
