import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import DecnetServices

@Suite struct MySQLTests {
    static let salt = Array("abcdefghijklmnopqrst".utf8)

    static func machine(
        version: String = "10.11.6-MariaDB-0+deb12u1",
        users: String? = "root:toor"
    ) throws -> MySQLStateMachine {
        var persona = ["mysql_version": version]
        persona["users"] = users
        let service = try MySQLService(
            context: ServiceContext(
                decky: "d",
                hostname: "db-01",
                service: "mysql",
                persona: persona,
                sink: DiscardingEventSink(),
                distro: "debian"
            )
        )
        return MySQLStateMachine(
            configuration: service.configuration,
            salt: Self.salt,
            connectionID: 42,
            clientAddress: "10.0.0.66"
        )
    }

    /// A HandshakeResponse41 as libmariadb sends it (PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, CONNECT_ATTRS).
    static func response(
        user: String,
        scramble: [UInt8],
        attributes: [(String, String)] = [("_client_name", "libmariadb")]
    ) -> MySQLPacket {
        var writer = MySQLWriter()
        let capabilities = 0x0200 | 0x8000 | 0x8_0000 | 0x10_0000 | 0x20_0000
        writer.integer(capabilities, 4)
        writer.integer(1 << 24, 4)
        writer.integer(45, 1)
        writer.bytes += [UInt8](repeating: 0, count: 23)
        writer.nulTerminated(user)
        writer.lengthEncoded(scramble.count)
        writer.bytes += scramble
        writer.nulTerminated("mysql_native_password")
        var attributeBlock = MySQLWriter()
        for (key, value) in attributes {
            attributeBlock.lengthEncodedString(key)
            attributeBlock.lengthEncodedString(value)
        }
        writer.lengthEncoded(attributeBlock.bytes.count)
        writer.bytes += attributeBlock.bytes
        return MySQLPacket(sequence: 1, payload: writer.bytes)
    }

    static func events(_ actions: [MySQLStateMachine.Action]) -> [(EventID, [EventField])] {
        actions.compactMap { if case .emit(let id, let fields) = $0 { (id, fields.fields) } else { nil } }
    }

    static func packets(_ actions: [MySQLStateMachine.Action]) -> [MySQLPacket] {
        actions.compactMap { if case .send(let packet) = $0 { packet } else { nil } }
    }

    @Test func greetingIsProtocol10WithTheMariaDBPrefix() throws {
        let greeting = try Self.machine().greeting
        #expect(greeting.sequence == 0)
        #expect(greeting.payload.first == 10)
        #expect(greeting.payload.starts(with: [10] + Array("5.5.5-10.11.6-MariaDB-0+deb12u1".utf8) + [0, 42, 0, 0, 0]))
        #expect(greeting.payload.suffix(22) == ArraySlice(Array("mysql_native_password".utf8) + [0]))
    }

    @Test func scrambleThenClearTextSwitchCapturesBoth() throws {
        var machine = try Self.machine()
        let scramble = [UInt8](repeating: 0xAB, count: 20)
        let first = machine.received(Self.response(user: "root", scramble: scramble))
        #expect(Self.events(first).map(\.0) == [.clientFingerprint])
        #expect(
            Self.packets(first) == [
                MySQLPacket(sequence: 2, payload: [0xFE] + Array("mysql_clear_password".utf8) + [0])
            ]
        )
        let second = machine.received(MySQLPacket(sequence: 3, payload: Array("toor".utf8) + [0]))
        let login = try #require(Self.events(second).first)
        #expect(login.0 == .loginSuccess)
        #expect(login.1.contains(EventField("password", "toor")))
        #expect(
            login.1.contains(
                EventField(
                    "hashcat",
                    "$mysqlna$6162636465666768696a6b6c6d6e6f7071727374*" + String(repeating: "ab", count: 20)
                )
            )
        )
        #expect(Self.packets(second) == [MySQLStateMachine.ok(sequence: 4)])
    }

    @Test func aClientThatRefusesTheSwitchStillLeavesItsScramble() throws {
        var machine = try Self.machine()
        _ = machine.received(Self.response(user: "admin", scramble: [UInt8](repeating: 1, count: 20)))
        let closing = machine.connectionClosed()
        let event = try #require(Self.events(closing).first)
        #expect(event.0 == .loginFailed)
        #expect(event.1.contains { $0.name == "scramble_hex" })
        #expect(!event.1.contains { $0.name == "password" })
        #expect(machine.connectionClosed().isEmpty)
    }

    @Test func wrongPasswordGetsError1045() throws {
        var machine = try Self.machine()
        _ = machine.received(Self.response(user: "root", scramble: [1, 2, 3]))
        let actions = machine.received(MySQLPacket(sequence: 3, payload: Array("guess".utf8)))
        let error = try #require(Self.packets(actions).first)
        #expect(
            error.payload.starts(
                with: [0xFF, 0x15, 0x04]
                    + Array("#28000Access denied for user 'root'@'10.0.0.66' (using password: YES)".utf8)
            )
        )
        #expect(actions.last == .close)
    }

    @Test func hostilePacketsEndInAnErrorNotACrash() throws {
        for payload: [UInt8] in [
            [], [0x00], [0x00, 0x02, 0x00, 0x00], [UInt8](repeating: 0xFF, count: 40),
            [0x00, 0x02, 0x20, 0x00] + [UInt8](repeating: 0, count: 28),
        ] {
            var machine = try Self.machine()
            let actions = machine.received(MySQLPacket(sequence: 1, payload: payload))
            #expect(actions.contains(.close), "\(payload)")
        }
        // A claimed attribute block longer than the packet is ignored, not trusted.
        var machine = try Self.machine()
        var response = Self.response(user: "root", scramble: [9])
        response.payload[response.payload.count - 1] = 0xFF
        _ = machine.received(response)
    }

    @Test func packetsFrameAtEverySplitAndOversizedOnesAreRefused() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (
                    ByteBuffer(bytes: [0x05, 0x00, 0x00, 0x00, 0x03, 0x73, 0x65, 0x6C, 0x65]),
                    [MySQLPacket(sequence: 0, payload: [0x03, 0x73, 0x65, 0x6C, 0x65])]
                ),
                (ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x07]), [MySQLPacket(sequence: 7, payload: [])]),
            ],
            decoderFactory: { MySQLPacketDecoder() }
        )
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(MySQLPacketDecoder()))
        #expect(throws: (any Error).self) { try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x00])) }
        _ = try? channel.finish()
    }
}

@Suite struct PostgresTests {
    static func machine(users: String? = "app:s3cret", version: String = "15.6") throws -> PostgresStateMachine {
        var persona = ["pg_version": version]
        persona["users"] = users
        let service = try PostgresService(
            context: ServiceContext(
                decky: "d",
                hostname: "db-01",
                service: "postgres",
                persona: persona,
                sink: DiscardingEventSink(),
                distro: "debian"
            )
        )
        return PostgresStateMachine(configuration: service.configuration, processID: 4242, secretKey: 7)
    }

    static func sent(_ actions: [PostgresStateMachine.Action]) -> [UInt8] {
        actions.flatMap { action -> [UInt8] in
            if case .send(let bytes) = action { return bytes }
            return []
        }
    }

    @Test func sslIsDeclinedAndTheCleartextPasswordIsCaptured() throws {
        var machine = try Self.machine()
        #expect(Self.sent(machine.received(.sslRequest)) == [UInt8(ascii: "N")])
        let startup = machine.received(
            .startup(major: 3, minor: 0, parameters: ["user": "app", "database": "shop", "application_name": "psql"])
        )
        #expect(Self.sent(startup) == [UInt8(ascii: "R"), 0, 0, 0, 8, 0, 0, 0, 3])
        let login = machine.received(.typed(UInt8(ascii: "p"), Array("s3cret".utf8) + [0]))
        #expect(
            login.contains {
                if case .emit(.loginSuccess, let fields) = $0 {
                    fields.fields.contains(EventField("password", "s3cret"))
                } else {
                    false
                }
            }
        )
        let bytes = Self.sent(login)
        #expect(bytes.starts(with: [UInt8(ascii: "R"), 0, 0, 0, 8, 0, 0, 0, 0]))
        #expect(bytes.suffix(6) == [UInt8(ascii: "Z"), 0, 0, 0, 5, UInt8(ascii: "I")])
        let query = Self.sent(machine.received(.typed(UInt8(ascii: "Q"), Array("SELECT version();".utf8) + [0])))
        #expect(String(decoding: query, as: UTF8.self).contains("PostgreSQL 15.6 (Debian 15.6-0+deb12u1)"))
    }

    @Test func wrongPasswordIsFatal28P01() throws {
        var machine = try Self.machine()
        _ = machine.received(.startup(major: 3, minor: 0, parameters: ["user": "postgres"]))
        let actions = machine.received(.typed(UInt8(ascii: "p"), Array("postgres".utf8) + [0]))
        #expect(
            String(decoding: Self.sent(actions), as: UTF8.self).contains(
                "C28P01\u{0}Mpassword authentication failed for user \"postgres\""
            )
        )
        #expect(actions.last == .close)
    }

    /// nmap's SMB negotiate probe read as a startup packet: the error names postmaster.c and the release's line.
    @Test func unsupportedProtocolErrorCarriesTheReleaseLine() throws {
        var machine = try Self.machine()
        let text = String(
            decoding: Self.sent(machine.received(.startup(major: 65363, minor: 19778, parameters: [:]))),
            as: UTF8.self
        )
        #expect(
            text.contains(
                "SFATAL\u{0}VFATAL\u{0}C0A000\u{0}Munsupported frontend protocol 65363.19778: server supports 3.0 to 3.0\u{0}Fpostmaster.c\u{0}L2194\u{0}RProcessStartupPacket\u{0}\u{0}"
            )
        )
    }

    @Test func decoderFollowsThePhasesAndRefusesBadLengths() throws {
        var startup = ByteBuffer()
        let body = Array("user\0app\0\0".utf8)
        startup.writeInteger(Int32(8 + body.count))
        startup.writeInteger(Int32(196_608))
        startup.writeBytes(body)
        startup.writeBytes(PostgresBackend.message("p", Array("pw".utf8) + [0]))
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PostgresFrontendDecoder()))
        for byte in startup.readableBytesView { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(
            try channel.readInbound(as: PostgresFrontendMessage.self)
                == .startup(major: 3, minor: 0, parameters: ["user": "app"])
        )
        #expect(
            try channel.readInbound(as: PostgresFrontendMessage.self)
                == .typed(UInt8(ascii: "p"), Array("pw".utf8) + [0])
        )
        try channel.writeInbound(ByteBuffer(bytes: [UInt8(ascii: "Q"), 0x7F, 0xFF, 0xFF, 0xFF]))
        #expect(try channel.readInbound(as: PostgresFrontendMessage.self) == .tooLarge)
        _ = try? channel.finish()

        for header: [UInt8] in [[0, 0, 0, 4], [0x7F, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF]] {
            let bad = EmbeddedChannel(handler: ByteToMessageHandler(PostgresFrontendDecoder()))
            try bad.writeInbound(ByteBuffer(bytes: header))
            #expect(try bad.readInbound(as: PostgresFrontendMessage.self) == .invalidStartupLength)
            _ = try? bad.finish()
        }
    }

    @Test func randomBytesNeverCrash() async throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2000 {
            if round % 50 == 0 { await Task.yield() }
            var machine = try Self.machine()
            let channel = EmbeddedChannel(
                handler: ByteToMessageHandler(PostgresFrontendDecoder(), maximumBufferSize: 1 << 16)
            )
            var bytes: [UInt8] = [0, 0, 0, UInt8.random(in: 8...40, using: &generator), 0, 3, 0, 0]
            bytes += (0..<Int.random(in: 0...120, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
            while let message = try? channel.readInbound(as: PostgresFrontendMessage.self) {
                _ = machine.received(message)
            }
            _ = try? channel.finish()
        }
    }
}
