import DecnetConfig
import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOEmbedded
import NIOHTTP1

@testable import DecnetServices

/// Entry points that feed attacker bytes to one decoder or state machine each, without sockets, for libFuzzer
/// (`scripts/fuzz.sh`, the `decnet-fuzz` product built with `--sanitize fuzzer`) and for the replay of corpora and
/// crash cases under `swift test` (`FuzzReplayTests`). A target must never crash, trap or hang on any input: the
/// protocol's answer (or a close) is the only acceptable outcome.
public enum FuzzTargets {
    /// Every target by name, as `scripts/fuzz.sh` and `Fuzz/corpus/<name>/` name them.
    public static let all: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("http-nginx", { Self.http($0, server: "nginx/1.22.1") }),
        ("http-apache", { Self.http($0, server: "Apache/2.4.71 (Debian)") }),
        ("mysql", Self.mysql),
        ("imap", Self.imap),
        ("redis", Self.redis),
        ("telnet", Self.telnet),
        ("smtp", Self.smtp),
        ("rfc5424", Self.rfc5424),
        ("ini", Self.ini),
    ]

    public static func target(_ name: String) -> (@Sendable ([UInt8]) -> Void)? {
        self.all.first { $0.name == name }?.run
    }

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
        _ = try? channel.finish()
    }

    static func http(_ bytes: [UInt8], server: String) {
        let family = HTTPPages.family(server)
        let decoder = HTTPPersonaRequestDecoder(family: family) { rejection in
            ByteBuffer(string: "HTTP/1.1 \(rejection.status) x\r\n\r\n")
        }
        guard let service = try? HTTPService(context: self.context("http", ["server_header": server])) else { return }
        let responder = HTTPResponder(configuration: service.configuration, port: 80)
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        self.decode(decoder, bytes) { part in
            switch part {
            case .head(let h):
                head = h
                body = []
            case .body(let chunk): body += chunk.readableBytesView
            case .end:
                guard let h = head else { return }
                let request = HTTPResponder.Request(
                    method: h.method.rawValue,
                    uri: h.uri,
                    headers: h.headers.map { ($0.name, $0.value) },
                    body: body
                )
                _ = responder.respond(to: request)
            }
        }
    }

    static func mysql(_ bytes: [UInt8]) {
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

    static func imap(_ bytes: [UInt8]) {
        guard let service = try? IMAPService(context: self.context("imap", ["users": "bob:pw"])) else { return }
        var machine = IMAPStateMachine(configuration: service.configuration)
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
        _ = machine.received(bytes: Array(bytes[..<split]))
        _ = machine.received(bytes: Array(bytes[split...]))
    }

    static func redis(_ bytes: [UInt8]) {
        guard let service = try? RedisService(context: self.context("redis")) else { return }
        var machine = RedisStateMachine(configuration: service.configuration, keyspace: service.keyspace)
        self.decode(RedisRequestDecoder(), bytes) { _ = machine.received($0) }
    }

    static func telnet(_ bytes: [UInt8]) {
        guard let service = try? TelnetService(context: self.context("telnet", ["users": "admin:admin"])) else {
            return
        }
        var machine = TelnetStateMachine(configuration: service.configuration)
        _ = machine.greeting()
        self.decode(TelnetDecoder(), bytes) { _ = machine.received($0) }
    }

    static func smtp(_ bytes: [UInt8]) {
        guard let service = try? SMTPService(context: self.context("smtp", ["users": "a:b"])) else { return }
        var machine = SMTPStateMachine(configuration: service.configuration, seed: 1)
        self.decode(LineDecoder(maximumLength: 4096), bytes) { frame in
            switch frame {
            case .line(let line): _ = machine.received(line)
            case .tooLong: _ = machine.receivedOverlongLine()
            }
        }
    }

    static func rfc5424(_ bytes: [UInt8]) {
        _ = try? RFC5424Parser.event(from: bytes[...])
    }

    static func ini(_ bytes: [UInt8]) {
        _ = FleetFileLoader.request(from: String(decoding: bytes, as: UTF8.self), path: "fuzz.ini")
    }
}
