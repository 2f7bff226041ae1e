import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// Captured hostile inputs (from fuzzing and attacker traffic), one base64 file per case under
/// `Replays/<protocol>/`. Each must pass through the decoder and state machine without crashing; that is all
/// these tests assert.
@Suite struct ReplayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Replays")

    static func cases(_ proto: String) -> [URL] {
        let directory = self.root.appendingPathComponent(proto)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().filter { $0.hasSuffix(".b64") }.map { directory.appendingPathComponent($0) }
    }

    @Test func redisReplaysDoNotCrash() throws {
        let cases = Self.cases("redis")
        #expect(!cases.isEmpty)
        for url in cases {
            let text = try String(contentsOf: url, encoding: .utf8).filter { !$0.isWhitespace }
            let bytes = try #require(Data(base64Encoded: text), "\(url.lastPathComponent) is not base64")
            var machine = try RedisStateMachineTests.machine()
            let channel = EmbeddedChannel(
                handler: ByteToMessageHandler(RedisRequestDecoder(), maximumBufferSize: 1 << 16)
            )
            _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
            while let request = try? channel.readInbound(as: RedisRequest.self) {
                _ = machine.received(request)
            }
            _ = try? channel.finish()
        }
    }
}

extension ReplayTests {
    /// Each replay fed line by line through the SMTP machine, in command and in DATA state.
    @Test func smtpReplaysDoNotCrash() throws {
        let cases = Self.cases("smtp")
        #expect(!cases.isEmpty)
        for url in cases {
            let text = try String(contentsOf: url, encoding: .utf8).filter { !$0.isWhitespace }
            let bytes = try #require(Data(base64Encoded: text), "\(url.lastPathComponent) is not base64")
            for prefix in ["", "MAIL FROM:<a@b>\r\nRCPT TO:<root>\r\nDATA\r\n"] {
                var machine = try SMTPStateMachineTests.machine()
                let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineDecoder(maximumLength: 512)))
                _ = try? channel.writeInbound(ByteBuffer(bytes: Array(prefix.utf8) + Array(bytes)))
                while let frame = try? channel.readInbound(as: LineFrame.self) {
                    switch frame {
                    case .line(let line): _ = machine.received(line)
                    case .tooLong: _ = machine.receivedOverlongLine()
                    }
                }
                _ = try? channel.finish()
            }
        }
    }
}

extension ReplayTests {
    /// Each replay through the MongoDB framing and server, on a release with legacy OP_QUERY and one without.
    @Test func mongodbReplaysDoNotCrash() throws {
        let cases = Self.cases("mongodb")
        #expect(!cases.isEmpty)
        for url in cases {
            let text = try String(contentsOf: url, encoding: .utf8).filter { !$0.isWhitespace }
            let bytes = try #require(Data(base64Encoded: text), "\(url.lastPathComponent) is not base64")
            for version in ["4.4.29", "6.0.14"] {
                var server = MongoDBTests.server(version: version)
                let channel = EmbeddedChannel(
                    handler: ByteToMessageHandler(MongoMessageDecoder(), maximumBufferSize: 1 << 20)
                )
                _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
                while let message = try? channel.readInbound(as: MongoInbound.self) {
                    _ = server.received(message)
                }
                _ = try? channel.finish()
            }
        }
    }
}
