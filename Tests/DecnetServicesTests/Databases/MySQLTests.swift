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
                    ByteBuffer(bytes: [0x05, 0x00, 0x00, 0x01, 0x03, 0x73, 0x65, 0x6C, 0x65]),
                    [MySQLPacket(sequence: 1, payload: [0x03, 0x73, 0x65, 0x6C, 0x65])]
                ),
                (ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x01]), [MySQLPacket(sequence: 1, payload: [])]),
            ],
            decoderFactory: { MySQLPacketDecoder() }
        )
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(MySQLPacketDecoder()))
        #expect(throws: (any Error).self) { try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x01])) }
        _ = try? channel.finish()
        // A first packet out of order is judged by its header alone: whatever its declared length (here "GET "
        // says 2,116,935 bytes, over the limit), it is delivered as its 4 bytes and the rest is dropped.
        let probe = EmbeddedChannel(handler: ByteToMessageHandler(MySQLPacketDecoder()))
        try probe.writeInbound(ByteBuffer(string: "GET / HTTP/1.0\r\n\r\n"))
        #expect(try probe.readInbound(as: MySQLPacket.self) == MySQLPacket(sequence: 0x20, payload: Array("GET ".utf8)))
        try probe.writeInbound(ByteBuffer(string: "more"))
        #expect(try probe.readInbound(as: MySQLPacket.self) == nil)
        _ = try? probe.finish()
    }

    /// MariaDB 10.11's greeting bytes (Debian 12's, bench/differential) and what the first packet can be refused with.
    @Test func greetingCapabilitiesAndFirstPacketRefusalsAreMariaDBs() throws {
        var machine = try Self.machine(version: "10.11.19-MariaDB-0+deb12u1")
        let greeting = machine.greeting.payload
        let afterSalt = 1 + "5.5.5-10.11.19-MariaDB-0+deb12u1".utf8.count + 1 + 4 + 8 + 1
        #expect(
            Array(greeting[afterSalt..<(afterSalt + 19)]) == [
                0xFE, 0xF7, 45, 0x02, 0x00, 0xFF, 0x81, 21, 0, 0, 0, 0, 0, 0, 0x1D, 0, 0, 0,
            ] + [greeting[afterSalt + 18]]
        )
        let proxy = Self.packets(machine.received(MySQLPacket(sequence: 0x0A, payload: [13, 10, 13, 10])))
        #expect(
            proxy == [
                MySQLStateMachine.error(1130, "HY000", "Proxy header is not accepted from 10.0.0.66", sequence: 1)
            ]
        )
        var other = try Self.machine(version: "10.11.19-MariaDB-0+deb12u1")
        let actions = other.received(MySQLPacket(sequence: 0x20, payload: Array("GET ".utf8)))
        #expect(
            MySQLPacketWriter.bytes(Self.packets(actions)[0]) == [0x21, 0, 0, 1, 0xFF, 0x84, 0x04]
                + Array("#08S01Got packets out of order".utf8)
        )
        #expect(actions.last == .close)
        // A client asking for TLS, which is not offered, gets Bad handshake at any packet size.
        var tls = try Self.machine(version: "10.11.19-MariaDB-0+deb12u1")
        var writer = MySQLWriter()
        writer.integer(0x0200 | 0x0800 | 0x8000, 4)
        writer.bytes += [UInt8](repeating: 0, count: 28)
        let refused = Self.packets(tls.received(MySQLPacket(sequence: 1, payload: writer.bytes)))
        #expect(refused == [MySQLStateMachine.error(1043, "08S01", "Bad handshake", sequence: 2)])
    }

    /// What a MariaDB client's capabilities oblige: an extended-metadata byte in column definitions, OK instead of
    /// the EOF packets for a client with CLIENT_DEPRECATE_EOF, and compressed frames after the login.
    @Test func resultSetsFollowTheClientsCapabilities() throws {
        func login(_ capabilities: Int, extended: Int) throws -> (MySQLStateMachine, [MySQLStateMachine.Action]) {
            var machine = try Self.machine(version: "10.11.19-MariaDB-0+deb12u1", users: "app:pw")
            var writer = MySQLWriter()
            writer.integer(capabilities, 4)
            writer.integer(1 << 24, 4)
            writer.integer(33, 1)
            writer.bytes += [UInt8](repeating: 0, count: 19)
            writer.integer(extended, 4)
            writer.nulTerminated("app")
            writer.integer(20, 1)
            writer.bytes += [UInt8](repeating: 7, count: 20)
            _ = machine.received(MySQLPacket(sequence: 1, payload: writer.bytes))
            let actions = machine.received(MySQLPacket(sequence: 3, payload: Array("pw".utf8)))
            return (machine, actions)
        }
        // libmariadb 3.3 (Debian's mariadb client): bit 0 clear, extended 0x1D, with compression.
        var (mariadb, loggedIn) = try login(0x00BF_A2A4, extended: 0x1D)
        #expect(loggedIn.last == .compress)
        let rows = Self.packets(
            mariadb.received(MySQLPacket(sequence: 0, payload: [0x03] + Array("select version()".utf8)))
        )
        #expect(rows.count == 5 && rows[2].payload == MySQLStateMachine.eof && rows[4].payload == MySQLStateMachine.eof)
        #expect(rows[1].payload.suffix(14) == [0x00, 0x0C, 33, 0, 0, 1, 0, 0, 0xFD, 0, 0, 0x27, 0, 0])
        // A MySQL 8 client: bit 0 set (no MariaDB extensions), CLIENT_DEPRECATE_EOF.
        var (mysql, plain) = try login(0x01BF_A205, extended: 0x1D)
        #expect(!plain.contains(.compress))
        let deprecated = Self.packets(
            mysql.received(MySQLPacket(sequence: 0, payload: [0x03] + Array("select version()".utf8)))
        )
        #expect(deprecated.count == 4 && deprecated[3].payload == [0xFE, 0, 0, 0x02, 0, 0, 0])
        #expect(deprecated[1].payload.suffix(13) == [0x0C, 33, 0, 0, 1, 0, 0, 0xFD, 0, 0, 0x27, 0, 0])
    }

    @Test func compressedFramesCarryPacketsBothWays() throws {
        let compression = MySQLCompression()
        compression.enable()
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(MySQLPacketDecoder(compression: compression)))
        // One frame raw, one zlib stream (zlib.compress(b"\x05\x00\x00\x00\x03sele", 6) from Python), split.
        try channel.writeInbound(ByteBuffer(bytes: [9, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3, 0x73, 0x65, 0x6C, 0x65]))
        #expect(
            try channel.readInbound(as: MySQLPacket.self) == MySQLPacket(sequence: 0, payload: Array("\u{3}sele".utf8))
        )
        let deflated: [UInt8] = [
            0x78, 0x9C, 0x63, 0x65, 0x60, 0x60, 0x60, 0x2E, 0x4E, 0xCD, 0x49, 0x05, 0x00, 0x04, 0x7D, 0x01, 0xB2,
        ]
        let frame = [UInt8(deflated.count), 0, 0, 1, 9, 0, 0] + deflated
        try channel.writeInbound(ByteBuffer(bytes: frame.prefix(5)))
        try channel.writeInbound(ByteBuffer(bytes: frame.dropFirst(5)))
        #expect(
            try channel.readInbound(as: MySQLPacket.self) == MySQLPacket(sequence: 0, payload: Array("\u{3}sele".utf8))
        )
        #expect(compression.frame([1, 2]) == [2, 0, 0, 2, 0, 0, 0, 1, 2])
        // A stream that lies about its size is refused.
        let lying = [UInt8(deflated.count), 0, 0, 3, 200, 0, 0] + deflated
        #expect(throws: (any Error).self) { try channel.writeInbound(ByteBuffer(bytes: lying)) }
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

    /// As Debian 12's 15.18 (bench/differential): GSSAPI encryption is accepted (`G`) and then nothing is
    /// answered; a protocol below 3.0 gets the old error format; SSL is declined.
    @Test func gssEncryptionIsAcceptedAndOldClientsGetTheOldErrorFormat() throws {
        var machine = try Self.machine()
        #expect(Self.sent(machine.received(.gssRequest)) == [UInt8(ascii: "G")])
        #expect(machine.received(.startup(major: 3, minor: 0, parameters: ["user": "x"])).isEmpty)
        var old = try Self.machine()
        let refused = old.received(.startup(major: 2, minor: 0, parameters: [:]))
        #expect(
            Self.sent(refused)
                == [UInt8(ascii: "E")]
                + Array("FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n".utf8) + [0]
        )
        #expect(refused.contains(.close))
        var eleven = try Self.machine(version: "11.22")
        #expect(Self.sent(eleven.received(.gssRequest)) == [UInt8(ascii: "N")])
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
