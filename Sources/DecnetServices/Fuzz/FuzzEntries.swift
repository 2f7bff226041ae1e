import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Fuzz entry points of the services' decoders and state machines: attacker bytes in, no sockets, nothing out
/// (DecnetFuzz's targets call them; `docs/fuzzing.md`). They live here, public, so the driver imports the
/// services plainly rather than through `@testable import`.
public enum FuzzEntries {
    static func context(_ kind: ServiceKind, _ persona: [String: String] = [:]) -> ServiceContext {
        ServiceContext(decky: "fuzz", hostname: "fuzz-01", service: kind, persona: persona, sink: DiscardingEventSink())
    }

    /// Runs `decoder` over `bytes` in an embedded channel, split where the input says (its first byte), and hands
    /// each message to `consume`. Errors a decoder throws are the protocol's way to give up: fine.
    static func decode<Decoder: ByteToMessageDecoder>(
        _ decoder: Decoder,
        _ bytes: [UInt8],
        consume: (Decoder.InboundOut) -> Void
    ) {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder))
        _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % max(bytes.count, 1)
        for chunk in [bytes[..<split], bytes[split...]] where !chunk.isEmpty {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch {
                break
            }
            while let message = try? channel.readInbound(as: Decoder.InboundOut.self) { consume(message) }
        }
        // A decoder may have closed the channel (a refusal): finish it either way, so the pipeline is torn down.
        _ = try? channel.finish(acceptAlreadyClosed: true)
        channel.embeddedEventLoop.run()
    }

    public static func http(_ bytes: [UInt8], server: String) {
        let family = HTTPPages.family(server)
        let decoder = HTTPPersonaRequestDecoder(family: family) { rejection in
            ByteBuffer(string: "HTTP/1.1 \(rejection.status) x\r\n\r\n")
        }
        guard let service = try? HTTPService(context: self.context("http", ["server_header": server])) else { return }
        let responder = HTTPResponder(configuration: service.configuration, port: 80)
        self.requests(decoder, bytes) { head, body in
            let request = HTTPResponder.Request(
                method: head.method.rawValue,
                uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) },
                body: body
            )
            _ = responder.respond(to: request)
        }
    }

    /// Each whole request an HTTP request decoder makes of `bytes`: its head and its body.
    static func requests<Decoder: ByteToMessageDecoder>(
        _ decoder: Decoder,
        _ bytes: [UInt8],
        handle: (HTTPRequestHead, [UInt8]) -> Void
    ) where Decoder.InboundOut == HTTPServerRequestPart {
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        self.decode(decoder, bytes) { part in
            switch part {
            case .head(let h):
                head = h
                body = []
            case .body(let chunk): body += chunk.readableBytesView
            case .end:
                if let head { handle(head, body) }
            }
        }
    }

    /// docker_api: the request reader of Go's net/http, then the Engine API's routes (create, exec, pull … on a
    /// fresh engine state each input).
    public static func dockerAPI(_ bytes: [UInt8]) {
        guard
            let service = try? DockerAPIService(
                context: self.context("docker_api", ["docker_version": "20.10.24+dfsg1"])
            )
        else { return }
        let decoder = HTTPPersonaRequestDecoder(family: .go, reject: DockerAPIService.goRefusal)
        self.requests(decoder, bytes) { head, body in
            _ = service.api.respond(
                method: head.method.rawValue,
                uri: head.uri,
                headers: head.headers.map { (name: $0.name, value: $0.value) },
                body: body
            )
        }
    }

    public static func mysql(_ bytes: [UInt8]) {
        guard
            let service = try? MySQLService(
                context: self.context("mysql", ["mysql_version": "10.11.19-MariaDB-0+deb12u1", "users": "app:pw"])
            )
        else { return }
        var machine = MySQLStateMachine(
            configuration: service.configuration,
            salt: Array(repeating: 0x41, count: 20),
            connectionID: 7,
            clientAddress: "10.0.0.1"
        )
        _ = machine.greeting
        self.decode(MySQLPacketDecoder(), bytes) { _ = machine.received($0) }
        _ = machine.connectionClosed()
    }

    public static func imap(_ bytes: [UInt8]) {
        guard let service = try? IMAPService(context: self.context("imap", ["users": "bob:pw"])) else { return }
        var machine = IMAPStateMachine(configuration: service.configuration)
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        _ = machine.received(bytes: Array(bytes[..<split]))
        _ = machine.received(bytes: Array(bytes[split...]))
    }

    public static func redis(_ bytes: [UInt8]) {
        guard let service = try? RedisService(context: self.context("redis")) else { return }
        var machine = RedisStateMachine(configuration: service.configuration, keyspace: service.keyspace)
        self.decode(RedisRequestDecoder(), bytes) { _ = machine.received($0) }
    }

    public static func telnet(_ bytes: [UInt8]) {
        guard let service = try? TelnetService(context: self.context("telnet", ["users": "admin:admin"])) else {
            return
        }
        var machine = TelnetStateMachine(configuration: service.configuration)
        _ = machine.greeting()
        self.decode(TelnetDecoder(), bytes) { _ = machine.received($0) }
    }

    public static func smtp(_ bytes: [UInt8]) {
        guard let service = try? SMTPService(context: self.context("smtp", ["users": "a:b"])) else { return }
        var machine = SMTPStateMachine(configuration: service.configuration, seed: 1)
        self.decode(LineDecoder(maximumLength: 4096), bytes) { frame in
            switch frame {
            case .line(let line): _ = machine.received(line)
            case .tooLong: _ = machine.receivedOverlongLine()
            }
        }
    }
}
