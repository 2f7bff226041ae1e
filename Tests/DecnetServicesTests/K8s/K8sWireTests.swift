import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import DecnetServices

/// The bytes on the wire: Go's header order and framing, Go's own 400s for junk, the WebSocket and SPDY framing of
/// exec, and hostile frames.
@Suite struct K8sWireTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The fake shell of the control-plane decky the exec tests run commands in.
    static var shellProfile: ShellProfile {
        ShellProfile(
            context: ServiceContext(
                decky: "d",
                hostname: "k8s-master-01",
                service: "k8s",
                persona: [:],
                sink: DiscardingEventSink(),
                distro: "debian"
            )
        )
    }

    /// An exec request as the API hands it over: by default a non-interactive SPDY v4 one with all three streams.
    static func execRequest(
        _ command: [String],
        namespace: String = "d",
        pod: String = "p",
        container: String = "c",
        stdin: Bool = true,
        stderr: Bool = true,
        tty: Bool = false,
        transport: K8sExecRequest.Transport = .spdy(protocolName: "v4.channel.k8s.io"),
        image: String = "alpine",
        podIP: String = "10.244.1.3"
    ) -> K8sExecRequest {
        K8sExecRequest(
            namespace: namespace,
            pod: pod,
            container: container,
            command: command,
            stdin: stdin,
            stdout: true,
            stderr: stderr,
            tty: tty,
            transport: transport,
            image: image,
            podIP: podIP
        )
    }

    @Test func responsesAreFramedAsGoFramesThem() {
        let date = Date(timeIntervalSince1970: 1_780_000_000)
        let head = Self.text(
            K8sGoHTTP.head(
                status: 403,
                headers: [
                    ("X-Kubernetes-Pf-Flowschema-Uid", "u"), ("Content-Type", "application/json"), ("Audit-Id", "a"),
                    ("Cache-Control", "no-cache, private"),
                ],
                framing: .length(5),
                http10: false,
                close: true,
                date: date
            )
        )
        #expect(
            head
                == "HTTP/1.1 403 Forbidden\r\nAudit-Id: a\r\nCache-Control: no-cache, private\r\nContent-Type: application/json\r\nX-Kubernetes-Pf-Flowschema-Uid: u\r\nConnection: close\r\nDate: \(HTTPService.httpDate(date))\r\nContent-Length: 5\r\n\r\n"
        )
        let large = Self.text(
            K8sGoHTTP.response(
                status: 200,
                headers: [("Content-Type", "application/json")],
                body: Array(repeating: 0x61, count: 3000),
                head: false,
                http10: false,
                close: false
            )
        )
        #expect(
            large.contains("Transfer-Encoding: chunked\r\nDate: ") && !large.contains("Content-Length")
                && large.hasSuffix("\r\nbb8\r\n" + String(repeating: "a", count: 3000) + "\r\n0\r\n\r\n")
        )
        let small = Self.text(
            K8sGoHTTP.response(status: 200, headers: [], body: Array("ok".utf8), head: true, http10: true, close: true)
        )
        #expect(small.hasPrefix("HTTP/1.0 200 OK\r\nDate: ") && small.hasSuffix("Content-Length: 2\r\n\r\n"))
        #expect(
            Self.text(K8sGoHTTP.error(400))
                == "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
        )
        #expect(
            Self.text(K8sGoHTTP.error(400, "missing required Host header"))
                == "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header"
        )
        let upgrade = Self.text(K8sSPDY.handshake(protocolName: "v4.channel.k8s.io", date: date))
        #expect(
            upgrade.hasPrefix(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nDate: "
            )
        )
    }

    /// Object ids are lowercase hex of the seed's hashes, as `%02x` wrote them, and UIDs are version-4 shaped; a
    /// copied cluster starts where its original stands and changes on its own.
    @Test func idsAreLowercaseHexAndACopiedClusterIsItsOwn() throws {
        #expect(K8sObjects.hex([0x00, 0x0f, 0xab, 0xff]) == "000fabff")
        let objects = K8sObjects(seed: "k8s-master-01", now: 1_780_000_000)
        let hash = objects.bytes("x")
        #expect(objects.hex("x") == hash.map { String(format: "%02x", $0) }.joined())
        let uid = objects.uid("pod")
        #expect(uid.count == 36 && uid.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(uid.split(separator: "-")[2].hasPrefix("4") && uid.split(separator: "-")[3].hasPrefix("a"))
        let original = K8sCluster(
            release: K8sRelease(persona: "v1.28.2"),
            hostname: "k8s-master-01",
            nodeIP: "10.20.0.10",
            caPEM: "PEM",
            now: 1_780_000_000
        )
        let copy = K8sCluster(copying: original)
        let count = { (cluster: K8sCluster) in cluster.state.withLock { $0.objects.count } }
        #expect(count(copy) == count(original) && count(original) > 10)
        copy.state.withLock { $0.objects.removeAll() }
        #expect(count(copy) == 0 && count(original) > 10)
    }

    /// The service's own pipeline on an embedded channel: junk gets Go's 400, an oversized header block Go's 431.
    @Test func junkGetsGosBadRequest() throws {
        let service = try K8sService(
            context: ServiceContext(
                decky: "d",
                hostname: "k8s-master-01",
                service: "k8s",
                persona: [:],
                sink: DiscardingEventSink()
            )
        )
        for (junk, expected) in [
            (Array("GARBAGE\r\n\r\n".utf8), "400 Bad Request"),
            ([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00], "400 Bad Request"),
            (
                Array("GET / HTTP/1.1\r\nHost: x\r\nX: ".utf8) + Array(repeating: 0x61, count: 70_000),
                "431 Request Header Fields Too Large"
            ),
            (Array("GET / HTTP/1.1\r\nHo st: x\r\n\r\n".utf8), "400 Bad Request"),
        ] {
            let channel = EmbeddedChannel()
            try service.configure(channel, port: 8080)
            _ = try? channel.writeInbound(ByteBuffer(bytes: junk))
            var reply: [UInt8] = []
            while let chunk = try channel.readOutbound(as: ByteBuffer.self) { reply += chunk.readableBytesView }
            #expect(
                Self.text(reply)
                    == "HTTP/1.1 \(expected)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n\(expected)",
                "\(junk.prefix(12))"
            )
            _ = try? channel.finish()
        }
    }

    @Test func webSocketFramesAreDecodedAndBounded() throws {
        #expect(K8sWebSocket.accept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 §1.3")
        #expect(
            Self.text(K8sWebSocket.handshake(key: "dGhlIHNhbXBsZSBub25jZQ==", protocolName: "v5.channel.k8s.io"))
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
        )
        #expect(K8sWebSocket.channel(1, Array("id\n".utf8), base64: false) == [0x82, 0x04, 0x01, 0x69, 0x64, 0x0A])
        #expect(K8sWebSocket.channel(1, Array("hi".utf8), base64: true) == [0x81, 0x05] + Array("1aGk=".utf8))
        #expect(
            K8sWebSocket.frame(.binary, Array(repeating: 0, count: 70_000)).prefix(10) == [
                0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70,
            ]
        )
        // A masked client frame, fed a byte at a time.
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        let payload: [UInt8] = [0x00] + Array("ls\r".utf8)
        let frame = [0x82, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $1 ^ mask[$0 & 3] }
        var decoder = K8sWebSocket.Decoder()
        var decoded: K8sWebSocket.Frame?
        for byte in frame {
            decoder.feed([byte])
            if let next = try decoder.next() { decoded = next }
        }
        #expect(decoded == K8sWebSocket.Frame(fin: true, opcode: 2, payload: payload))
        #expect(K8sWebSocket.unchannel(payload, base64: false)! == (0, Array("ls\r".utf8)))
        #expect(
            K8sWebSocket.unchannel(Array("0!!!".utf8), base64: true) == nil
                && K8sWebSocket.unchannel([], base64: false) == nil
        )
        var unmasked = K8sWebSocket.Decoder()
        unmasked.feed([0x82, 0x01, 0x00])
        #expect(throws: K8sWebSocket.DecodeError.unmasked) { try unmasked.next() }
        var huge = K8sWebSocket.Decoder()
        huge.feed([0x82, 0xFF, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: K8sWebSocket.DecodeError.tooLarge) { try huge.next() }
        var reserved = K8sWebSocket.Decoder()
        reserved.feed([0xF2, 0x80, 0, 0, 0, 0])
        #expect(throws: K8sWebSocket.DecodeError.reservedBits) { try reserved.next() }
    }

    @Test func spdyFramesAreDecodedAndRepliesInflate() throws {
        var decoder = K8sSPDY.Decoder()
        let syn: [UInt8] = [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0C, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x78, 0xBB]
        let data: [UInt8] = [0, 0, 0, 3, 0x01, 0, 0, 2, 0x69, 0x64]
        let ping: [UInt8] = [0x80, 0x03, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 7]
        for byte in syn + data + ping { decoder.feed([byte]) }
        #expect(try decoder.next() == .synStream(id: 1, fin: false))
        #expect(try decoder.next() == .data(id: 3, payload: Array("id".utf8), fin: true))
        #expect(try decoder.next() == .ping(id: 7))
        #expect(try decoder.next() == nil)
        var huge = K8sSPDY.Decoder()
        huge.feed([0x80, 0x03, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0xFF])
        #expect(throws: K8sSPDY.DecodeError.tooLarge) { try huge.next() }
        var short = K8sSPDY.Decoder()
        short.feed([0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00])
        #expect(throws: K8sSPDY.DecodeError.malformed) { try short.next() }
        var encoder = K8sSPDY.Encoder()
        let first = encoder.synReply(id: 1)
        let second = encoder.synReply(id: 3)
        #expect(
            first == [
                0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0, 0, 0, 1, 0x78, 0x01, 0x00, 0x04, 0x00, 0xFB, 0xFF, 0,
                0, 0, 0, 0x00, 0x00, 0x00, 0xFF, 0xFF,
            ]
        )
        #expect(
            Array(second[12...]) == [0x00, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xFF, 0xFF],
            "the zlib header only once"
        )
        #expect(K8sSPDY.Encoder.data(id: 5, Array("ok".utf8), fin: true) == [0, 0, 0, 5, 0x01, 0, 0, 2, 0x6F, 0x6B])
        let request = Self.execRequest(["sh"], namespace: "default", tty: true, image: "nginx", podIP: "10.244.1.2")
        #expect(K8sSPDY.streamOrder(request, protocolName: "v4.channel.k8s.io") == [.error, .stdin, .stdout, .resize])
    }

    @Test func anInteractiveExecIsATerminal() {
        let request = Self.execRequest(
            ["bash"],
            namespace: "default",
            pod: "web-1",
            container: "web",
            stderr: false,
            tty: true,
            transport: .websocket(protocolName: "v5.channel.k8s.io", key: "k"),
            image: "nginx:1.25.4",
            podIP: "10.244.1.2"
        )
        let profile = Self.shellProfile
        var session = K8sExecSession(request: request, profile: profile)
        #expect(Self.text(session.start()).hasPrefix("root@web-1:"))
        let typed = session.type(Array("hostname\r".utf8))
        #expect(Self.text(typed.output).contains("web-1\r\n") && typed.events.contains { $0.0 == .commandInput })
        #expect(session.type(Array("exit\r".utf8)).exit)
        #expect(
            session.readsInput
                && !K8sExecSession(
                    request: Self.execRequest(["sh", "-c", "id"]),
                    profile: profile
                ).readsInput
        )
        var script = K8sExecSession(
            request: Self.execRequest(["sh"], image: "alpine:3.19"),
            profile: profile
        )
        let result = script.script("id\nexit 7\nhostname")
        #expect(Self.text(result.output) == "uid=0(root) gid=0(root) groups=0(root)\n" && result.status.code == 7)
        var missing = K8sExecSession(
            request: Self.execRequest(["kubectl-evil"], stdin: false),
            profile: profile
        )
        #expect(
            Self.text(missing.run().status.document).contains(
                "exec: \\\"kubectl-evil\\\": executable file not found in $PATH"
            )
        )
    }

    @Test func kubeadmCertificateCarriesItsSANs() throws {
        let pem = try K8sCertificate.makePEM(node: "k8s-master-01", address: "192.168.1.20")
        #expect(
            try K8sCertificate.subjectAlternativeNames(pem: pem.certificate) == [
                "k8s-master-01", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local", "10.96.0.1", "192.168.1.20",
            ]
        )
        let identity = try #require(try K8sCertificate.identity(pem: pem.certificate))
        #expect(
            identity.commonName == "kube-apiserver" && identity.issuer == "CN=kubernetes" && identity.sha256.count == 64
        )
        #expect(try K8sCertificate.identity(pem: pem.ca)?.commonName == "kubernetes")
    }

    /// Random bytes everywhere attacker bytes go: the service's pipeline, both frame decoders, the JSON, JWT and
    /// protobuf readers, the request resolver. This test must only not crash.
    @Test func hostileBytesNeverCrash() throws {
        struct Generator: RandomNumberGenerator {
            var state: UInt64
            mutating func next() -> UInt64 {
                self.state = self.state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return self.state
            }
        }
        var random = Generator(state: 0x6B38_7300)
        let service = try K8sService(
            context: ServiceContext(
                decky: "d",
                hostname: "h",
                service: "k8s",
                persona: [:],
                sink: DiscardingEventSink()
            )
        )
        let api = K8sAPITests.api(tokens: "t")
        let alphabet = Array("{}[]\":,0123456789.eE+-truefalsnl\\/u\" \n?&=%#".utf8)
        for round in 0..<300 {
            let length = Int.random(in: 0...600, using: &random)
            let noise = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let jsonish = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
            let channel = EmbeddedChannel()
            try service.configure(channel, port: 8080)
            _ = try? channel.writeInbound(ByteBuffer(bytes: round % 2 == 0 ? noise : Array("GET /".utf8) + jsonish))
            _ = try? channel.finish()
            var websocket = K8sWebSocket.Decoder()
            websocket.feed(noise)
            while let frame = try? websocket.next() {
                _ = K8sWebSocket.unchannel(frame.payload, base64: round % 3 == 0)
            }
            var spdy = K8sSPDY.Decoder()
            spdy.feed(noise)
            while (try? spdy.next()) != nil {}
            _ = K8sJSON.parse(jsonish)
            _ = K8sJWT(String(decoding: jsonish, as: UTF8.self))
            _ = K8sProtobuf.strings(K8sProtobuf.magic + noise)
            _ = K8sAPI.mergePatch(K8sJSON.parse(Array("{\"a\":{\"b\":1}}".utf8))!, K8sJSON.parse(jsonish) ?? .null)
            let text = String(decoding: jsonish, as: UTF8.self)
            for method in ["GET", "POST", "PATCH", "DELETE", "BREW"] {
                var state = K8sAPI.ConnectionState()
                let request = K8sAPI.Request(
                    method: method,
                    uri: "/api/v1/namespaces/default/pods/" + text,
                    headers: [(name: "Authorization", value: round % 2 == 0 ? "Bearer t" : "Bearer " + text)],
                    body: jsonish
                )
                _ = api.respond(to: request, state: &state)
            }
        }
    }
}
