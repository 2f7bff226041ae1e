import DecnetCore
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// The TDS login, driven by what FreeTDS's tsql 1.3 and impacket 0.13.1 sent (recorded against it, under
/// `Replays/mssql/`), nmap's probe, and hostile bytes.
@Suite struct MSSQLTests {
    static let identity = WindowsIdentity(
        persona: ["os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP"],
        hostname: "SQL01",
        osFamily: .windows
    )

    static func machine(challenge: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]) -> MSSQLStateMachine {
        MSSQLStateMachine(
            configuration: MSSQLStateMachine.Configuration(
                version: (15, 0, 2000, 5),
                versionText: "15.0.2000.5",
                identity: Self.identity
            ),
            random: { challenge },
            now: { 133_777_000_000_000_000 }
        )
    }

    static func messages(_ bytes: [UInt8]) throws -> [TDSMessage] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(TDSMessageDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        var messages: [TDSMessage] = []
        while let message = try channel.readInbound(as: TDSMessage.self) { messages.append(message) }
        _ = try channel.finish()
        return messages
    }

    static func replay(_ name: String) throws -> [TDSMessage] {
        let url = ReplayTests.root.appendingPathComponent("mssql").appendingPathComponent(name + ".b64")
        let text = try String(contentsOf: url, encoding: .utf8).filter { !$0.isWhitespace }
        let data = try #require(Data(base64Encoded: text))
        return try self.messages(Array(data))
    }

    static func fields(_ actions: [MSSQLStateMachine.Action], _ id: EventID) -> [String: String] {
        for case .emit(id, let fields) in actions {
            return Dictionary(fields.fields.map { ($0.name, $0.value) }) { first, _ in first }
        }
        return [:]
    }

    static func sent(_ actions: [MSSQLStateMachine.Action]) -> [[UInt8]] {
        actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
    }

    @Test func nmapsProbeGetsTheThirtySevenBytesItsSQLServer2019LineReads() throws {
        // nmap-service-probes' ms-sql-s probe: VERSION, ENCRYPTION, INSTOPT ("MSSQLServer"), THREADID.
        let probe: [UInt8] =
            [
                0x12, 0x01, 0x00, 0x34, 0, 0, 0, 0, 0x00, 0x00, 0x15, 0x00, 0x06, 0x01, 0x00, 0x1b, 0x00,
                0x01, 0x02, 0x00, 0x1c, 0x00, 0x0c, 0x03, 0x00, 0x28, 0x00, 0x04, 0xff, 0x08, 0x00, 0x01,
                0x55, 0x00, 0x00, 0x00,
            ] + Array("MSSQLServer".utf8) + [0, 0x48, 0x0f, 0x00, 0x00]
        var machine = Self.machine()
        let message = try #require(try Self.messages(probe).first)
        let reply = try #require(Self.sent(machine.received(message)).first)
        #expect(
            reply == [
                0x04, 0x01, 0x00, 0x25, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x15, 0x00, 0x06, 0x01, 0x00, 0x1b,
                0x00, 0x01, 0x02, 0x00, 0x1c, 0x00, 0x01, 0x03, 0x00, 0x1d, 0x00, 0x00, 0xff, 0x0f, 0x00, 0x07,
                0xd0, 0x00, 0x05, 0x02, 0x00,
            ]
        )
    }

    @Test func tsqlsPasswordIsDecodedAndRefusedAsSQLServerDoes() throws {
        var machine = Self.machine()
        let actions = try Self.replay("tsql-sa-Sup3rS3cret").flatMap { machine.received($0) }
        let login = Self.fields(actions, .loginFailed)
        #expect(login["username"] == "sa" && login["password"] == "Sup3rS3cret!" && login["method"] == "sql")
        let fingerprint = Self.fields(
            actions.filter {
                if case .emit(_, let f) = $0 { f.fields.contains { $0.name == "app_name" } } else { false }
            },
            .clientFingerprint
        )
        #expect(
            fingerprint["app_name"] == "TSQL" && fingerprint["library"] == "TDS-Library"
                && fingerprint["tds_version"] == "0x74000004"
        )
        let reply = try #require(Self.sent(actions).last)
        let text =
            String(decoding: stride(from: 0, to: reply.count - 1, by: 2).map { reply[$0] }, as: UTF8.self)
            + String(decoding: stride(from: 1, to: reply.count - 1, by: 2).map { reply[$0] }, as: UTF8.self)
        #expect(text.contains("Login failed for user 'sa'."))
        #expect(reply[8] == 0xAA && reply.le32(11) == 18456 && reply[15] == 1 && reply[16] == 14)
        #expect(Array(reply.suffix(13).prefix(3)) == [0xFD, 0x02, 0x00], "DONE with the error bit, 7.4's 8-byte count")
        #expect(actions.last == .close)
    }

    @Test func impacketsIntegratedLoginIsCapturedAsAHashThatVerifies() throws {
        let challenge: [UInt8] = [0x33, 0x36, 0x31, 0x48, 0x9a, 0x22, 0xdb, 0x6c]
        var machine = Self.machine(challenge: challenge)
        let messages = try Self.replay("impacket-alice-Password1-333631489a22db6c")
        var actions: [MSSQLStateMachine.Action] = []
        for message in messages { actions += machine.received(message) }
        let tokens = Self.sent(actions)
        #expect(tokens.contains { $0.count > 9 && $0[8] == 0xED && NTLM.messageType(Array($0[11...])) == .challenge })
        let login = Self.fields(actions, .loginFailed)
        #expect(login["username"] == "alice" && login["domain"] == "SQL01" && login["hashcat_mode"] == "5600")
        guard case .message(_, let payload) = messages.last else {
            Issue.record("no SSPI message")
            return
        }
        #expect(NTLM.verifiesV2(try NTLM.authenticate(payload), serverChallenge: challenge, password: "Password1"))
        // A local account of the server (its own name as domain) is refused as a failed login, 7.1's short fields.
        let reply = try #require(tokens.last)
        #expect(reply.le32(11) == 18456 && Array(reply.suffix(9).prefix(3)) == [0xFD, 0x02, 0x00])
    }

    @Test func hostileStreamsAreClosed() throws {
        #expect(
            try Self.messages([0x12, 0x01, 0x00, 0x04, 0, 0, 0, 0]) == [
                .invalid("TDS packet of 4 bytes", [0x12, 0x01, 0x00, 0x04, 0, 0, 0, 0])
            ]
        )
        // Packets that never end their message: refused once the message would pass 256 KiB, nothing before.
        let packet: [UInt8] = [0x10, 0x00, 0x80, 0x00, 0, 0, 1, 0] + [UInt8](repeating: 0x41, count: 32_760)
        let endless = try Self.messages(Array(Array(repeating: packet, count: 9).joined()))
        #expect(endless.count == 1)
        if case .invalid(let problem, _) = endless.first {
            #expect(problem == "TDS message over 262144 bytes")
        } else {
            Issue.record("an endless message was not refused: \(endless.count) message(s)")
        }
        #expect(try Self.messages(Array(Array(repeating: packet, count: 8).joined())).isEmpty)
        var machine = Self.machine()
        #expect(machine.received(.message(type: 0x01, payload: Array("select 1".utf8))).last == .close)
        var short = Self.machine()
        #expect(short.received(.message(type: 0x10, payload: [UInt8](repeating: 0, count: 40))).last == .close)
        var lying = Self.machine()
        var login = [UInt8](repeating: 0, count: 94)
        login[40] = 0xF0
        login[42] = 0x40  // user name: 64 characters at offset 240 of 94 bytes
        #expect(lying.received(.message(type: 0x10, payload: login)).last == .close)
        var table = Self.machine()
        #expect(table.received(.message(type: 0x12, payload: [0x00, 0xFF, 0xFF, 0x00, 0x06])).last == .close)
        var generator = SeededGenerator(seed: 1433)
        let recorded = try Self.replay("tsql-sa-Sup3rS3cret") + Self.replay("impacket-alice-Password1-333631489a22db6c")
        for _ in 0..<3000 {
            var machine = Self.machine()
            for case .message(let type, var payload) in recorded.shuffled(using: &generator).prefix(3) {
                if !payload.isEmpty {
                    for _ in 0..<Int.random(in: 1...6, using: &generator) {
                        payload[Int.random(in: 0..<payload.count, using: &generator)] = UInt8.random(
                            in: 0...255,
                            using: &generator
                        )
                    }
                }
                _ = machine.received(
                    .message(
                        type: type,
                        payload: Array(payload.prefix(Int.random(in: 0...payload.count, using: &generator)))
                    )
                )
            }
        }
    }
}
