import DecnetCore
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// TLS inside TDS: the ENCRYPTION answer a SQL Server with a certificate gives, TLS for the login only or for
/// everything, and the framer that carries the handshake in PRELOGIN packets.
@Suite struct MSSQLTLSTests {
    static func machine() -> MSSQLStateMachine {
        var machine = MSSQLTests.machine()
        machine = MSSQLStateMachine(
            configuration: MSSQLStateMachine.Configuration(
                version: (15, 0, 2000, 5),
                versionText: "15.0.2000.5",
                identity: MSSQLTests.identity,
                tlsAvailable: true
            ),
            random: machine.random,
            now: machine.now
        )
        return machine
    }

    /// A PRELOGIN with VERSION and ENCRYPTION (this value).
    static func preLogin(encryption: UInt8) -> TDSMessage {
        let payload: [UInt8] = [
            0x00, 0x00, 0x0B, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xFF, 9, 0, 0, 0, 0, 0, encryption,
        ]
        return .message(type: TDS.preLogin, payload: payload)
    }

    @Test func theEncryptionAnswerIsTheOneOfAServerWithoutForceEncryption() throws {
        for (asked, answer, tls) in [(UInt8(0), UInt8(0), true), (1, 1, true), (2, 2, false), (3, 1, true)] {
            var machine = Self.machine()
            let actions = machine.received(Self.preLogin(encryption: asked))
            let reply = try #require(
                actions.compactMap { action -> [UInt8]? in
                    switch action {
                    case .send(let bytes), .startTLS(let bytes): bytes
                    default: nil
                    }
                }.first
            )
            #expect(reply[8 + Int(reply.le16(8 + 5 + 1).byteSwapped)] == answer, "asked \(asked)")
            #expect(actions.contains { if case .startTLS = $0 { true } else { false } } == tls, "asked \(asked)")
        }
    }

    @Test func anEncryptOffLoginDropsTLSBeforeTheAnswer() throws {
        var machine = Self.machine()
        _ = machine.received(Self.preLogin(encryption: 0))
        let login = try #require(
            try MSSQLTests.replay("tsql-sa-Sup3rS3cret").first {
                if case .message(TDS.login7, _) = $0 { true } else { false }
            }
        )
        let actions = machine.received(login)
        let end = try #require(actions.firstIndex(of: .endTLS))
        let send = try #require(actions.firstIndex { if case .send = $0 { true } else { false } })
        #expect(end < send)
        var full = Self.machine()
        _ = full.received(Self.preLogin(encryption: 1))
        #expect(!full.received(login).contains(.endTLS), "ENCRYPT_ON keeps TLS")
    }

    @Test func theFramerWrapsTheHandshakeInPreloginPacketsAndNothingAfter() throws {
        let channel = EmbeddedChannel(handler: TDSTLSFramer())
        // Two wrapped records, the second split across reads, then a bare application-data record.
        let first: [UInt8] = [0x12, 0x01, 0x00, 0x0D, 0, 0, 0, 0, 0x16, 0x03, 0x03, 0x00, 0x00]
        let second: [UInt8] = [0x12, 0x01, 0x00, 0x0E, 0, 0, 0, 0, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01]
        try channel.writeInbound(ByteBuffer(bytes: first + second.prefix(5)))
        #expect(
            try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [
                0x16, 0x03, 0x03, 0x00, 0x00,
            ]
        )
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        try channel.writeInbound(ByteBuffer(bytes: Array(second.dropFirst(5))))
        #expect(
            try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [
                0x14, 0x03, 0x03, 0x00, 0x01, 0x01,
            ]
        )
        // The server's handshake flight goes out wrapped, in packets of at most 4096 bytes.
        try channel.writeOutbound(ByteBuffer(bytes: [UInt8](repeating: 0x16, count: 5000)))
        let wrapped = try #require(try channel.readOutbound(as: ByteBuffer.self)).readableBytesView
        #expect(Array(wrapped.prefix(4)) == [0x12, 0x00, 0x10, 0x00] && wrapped.count == 5000 + 16)
        #expect(Array(wrapped[wrapped.startIndex + 4096..<wrapped.startIndex + 4100]) == [0x12, 0x01, 0x03, 0x98])
        // The client's first bare record ends the wrapping both ways.
        try channel.writeInbound(ByteBuffer(bytes: [0x17, 0x03, 0x03, 0x00, 0x01, 0xAA]))
        #expect(
            try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [
                0x17, 0x03, 0x03, 0x00, 0x01, 0xAA,
            ]
        )
        try channel.writeOutbound(ByteBuffer(bytes: [0x17, 0x03, 0x03]))
        #expect(
            try channel.readOutbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [0x17, 0x03, 0x03]
        )
        _ = try channel.finish()
    }

    /// Packets that lie about their length, or junk, are handed on for the TLS handler to refuse; nothing crashes.
    @Test func hostileHandshakeBytesAreHandedOn() throws {
        var generator = SeededGenerator(seed: 1433)
        for _ in 0..<2000 {
            let channel = EmbeddedChannel(handler: TDSTLSFramer())
            var bytes: [UInt8] = [0x12, 0x01, 0x00, 0x10, 0, 0, 0, 0] + [UInt8](repeating: 0x16, count: 8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            while try channel.readInbound(as: ByteBuffer.self) != nil {}
            _ = try channel.finish(acceptAlreadyClosed: true)
        }
    }
}
