import DecnetCore
import Foundation
import Testing

@testable import DecnetServices

/// The connection protocol, SFTP and scp on their own, with hostile input: every case ends in a protocol-correct
/// answer, an error the transport turns into a disconnect, or a closed channel; never a crash.
@Suite struct SSHConnectionTests {
    static let profile = ShellProfile(
        hostname: "web-01",
        distro: DistroCatalogue.all[0],
        osFamily: .linux,
        ip: "10.0.0.5",
        mac: "00:0c:29:4f:8e:35"
    )

    static func connection() -> SSHConnection {
        SSHConnection(profile: Self.profile, user: "root", clientIsOpenSSH: true)
    }

    static func message(_ build: (inout SSHWriter) -> Void) -> [UInt8] {
        var writer = SSHWriter()
        build(&writer)
        return writer.bytes
    }

    static func open(window: UInt32 = 1 << 20, packet: UInt32 = 32_768) -> [UInt8] {
        Self.message {
            $0.byte(90)
            $0.string("session")
            $0.uint32(7)
            $0.uint32(window)
            $0.uint32(packet)
        }
    }

    static func request(_ type: String, _ extra: (inout SSHWriter) -> Void = { _ in }) -> [UInt8] {
        Self.message {
            $0.byte(98)
            $0.uint32(0)
            $0.string(type)
            $0.bool(true)
            extra(&$0)
        }
    }

    static func sent(_ actions: [SSHConnection.Action]) -> [[UInt8]] {
        actions.compactMap {
            if case .send(let payload) = $0 { return payload }
            return nil
        }
    }

    @Test func execRunsAndTheChannelClosesAsSSHDClosesIt() throws {
        var connection = Self.connection()
        #expect(Self.sent(try connection.receive(Self.open())).first?.first == 91)
        let actions = try connection.receive(Self.request("exec") { $0.string("id") })
        let payloads = Self.sent(actions)
        // SUCCESS, the output, exit-status, eow@openssh.com, EOF, CLOSE.
        #expect(payloads.map { $0[0] } == [99, 94, 98, 98, 96, 97])
        var reader = SSHReader(payloads[1])
        _ = try reader.byte()
        #expect(try reader.uint32() == 7)
        #expect(String(decoding: try reader.string(), as: UTF8.self) == "uid=0(root) gid=0(root) groups=0(root)\n")
        #expect(actions.contains { if case .emit(.commandInput, _) = $0 { return true } else { return false } })
    }

    @Test func outputWaitsForTheClientsWindow() throws {
        var connection = Self.connection()
        _ = try connection.receive(Self.open(window: 10, packet: 4))
        let first = Self.sent(try connection.receive(Self.request("exec") { $0.string("id") }))
        // 10 bytes in packets of 4, then nothing until the window opens.
        #expect(first.dropFirst().map { $0[0] } == [94, 94, 94])
        let adjust = Self.message {
            $0.byte(93)
            $0.uint32(0)
            $0.uint32(1000)
        }
        let rest = Self.sent(try connection.receive(adjust))
        #expect(rest.last?.first == 97, "the close follows the rest of the output")
    }

    @Test func hostileChannelInputIsRefused() throws {
        var connection = Self.connection()
        _ = try connection.receive(Self.open(window: UInt32.max - 10))
        // A window adjust past 2^32 - 1: sshd disconnects.
        #expect(throws: SSHWire.ProtocolError.self) {
            try connection.receive(
                Self.message {
                    $0.byte(93)
                    $0.uint32(0)
                    $0.uint32(100)
                }
            )
        }
        // Data within the window gets it opened again once half is used; one message larger than the window
        // sshd gives could never be within it.
        var flooded = Self.connection()
        _ = try flooded.receive(Self.open())
        _ = try flooded.receive(Self.request("shell"))
        func data(_ count: Int) -> [UInt8] {
            Self.message {
                $0.byte(94)
                $0.uint32(0)
                $0.string([UInt8](repeating: 0x41, count: count))
            }
        }
        #expect(Self.sent(try flooded.receive(data(1 << 20))).contains { $0.first == 93 })
        #expect(throws: SSHWire.ProtocolError.self) { try flooded.receive(data(Int(SSHConnection.window))) }
        // Truncated messages, unknown channels, unknown message numbers.
        var other = Self.connection()
        #expect(throws: SSHWire.ProtocolError.self) { try other.receive([90, 0, 0]) }
        #expect(throws: SSHWire.ProtocolError.self) { try other.receive([101]) }
        #expect(try other.receive(Self.request("shell")).isEmpty, "no such channel")
        // More sessions than MaxSessions.
        for _ in 0..<SSHConnection.maximumChannels { _ = try other.receive(Self.open()) }
        #expect(Self.sent(try other.receive(Self.open())).first?.first == 92)
    }

    @Test func forwardingIsRecordedAndRefused() throws {
        var connection = Self.connection()
        let actions = try connection.receive(
            Self.message {
                $0.byte(90)
                $0.string("direct-tcpip")
                $0.uint32(3)
                $0.uint32(65536)
                $0.uint32(32768)
                $0.string("198.51.100.7")
                $0.uint32(445)
                $0.string("127.0.0.1")
                $0.uint32(50000)
            }
        )
        let failure = try #require(Self.sent(actions).first)
        var reader = SSHReader(failure)
        #expect(try reader.byte() == 92 && reader.uint32() == 3 && reader.uint32() == 1)
        #expect(try reader.text() == "open failed")
        let forward = Self.sent(
            try connection.receive(
                Self.message {
                    $0.byte(80)
                    $0.string("tcpip-forward")
                    $0.bool(true)
                    $0.string("0.0.0.0")
                    $0.uint32(8080)
                }
            )
        )
        #expect(forward == [[82]])
    }

    @Test func sftpSurvivesHostileMessages() throws {
        var server = SFTPServer(user: "root", profile: Self.profile)
        // A length past the limit ends the subsystem.
        #expect(server.receive([0x7F, 0xFF, 0xFF, 0xFF, 1]).failed)
        var fresh = SFTPServer(user: "root", profile: Self.profile)
        // Truncated bodies get "Bad message"; writes to unknown handles "Failure"; a write far past the end is
        // counted, not held.
        func frame(_ body: [UInt8]) -> [UInt8] {
            var writer = SSHWriter()
            writer.string(body)
            return writer.bytes
        }
        let version = fresh.receive(frame([1, 0, 0, 0, 3]))
        #expect(version.output[4] == 2)
        let truncated = fresh.receive(frame([3, 0, 0, 0, 1, 0, 0]))
        #expect(truncated.output.count > 9 && truncated.output[4] == 101)
        var open = SSHWriter()
        open.byte(3)
        open.uint32(2)
        open.string("/tmp/x")
        open.uint32(0x1A)
        open.uint32(0)
        let handle = fresh.receive(frame(open.bytes))
        #expect(handle.output[4] == 102)
        var write = SSHWriter()
        write.byte(6)
        write.uint32(3)
        write.string([0, 0, 0, 0])
        write.uint64(UInt64.max - 10)
        write.string([1, 2, 3])
        #expect(fresh.receive(frame(write.bytes)).output[4] == 101)
        // An offset whose end is past 64 bits (found reading the code for the fuzzer's kind of finding): Failure.
        var beyond = SSHWriter()
        beyond.byte(6)
        beyond.uint32(4)
        beyond.string([0, 0, 0, 0])
        beyond.uint64(UInt64.max)
        beyond.string([1, 2, 3])
        #expect(fresh.receive(frame(beyond.bytes)).output[4] == 101)
        let kept = fresh.finish()
        #expect(kept.count == 1 && kept[0].bytes.isEmpty)
    }

    @Test func scpSinkKeepsFilesAndRefusesGarbage() throws {
        var sink = try #require(SCPSink(arguments: ["-t", "/tmp/"], isDirectory: { _ in false }))
        var step = sink.receive(Array("C0755 5 bot.sh\n".utf8))
        #expect(step.output == [0])
        step = sink.receive(Array("hello".utf8) + [0])
        #expect(step.output == [0])
        #expect(step.artifacts.first?.bytes == Array("hello".utf8))
        #expect(step.artifacts.first?.fields.fields.contains(EventField("filename", "/tmp/bot.sh")) == true)
        #expect(sink.receive(Array("Zgarbage\n".utf8)).failed)
        var long = try #require(SCPSink(arguments: ["-t", "x"], isDirectory: { _ in false }))
        #expect(long.receive([UInt8](repeating: 0x43, count: 2000)).failed)
        #expect(SCPSink(arguments: ["-f", "/etc/passwd"], isDirectory: { _ in false }) == nil)
        var cut = try #require(SCPSink(arguments: ["-t", "/tmp/y"], isDirectory: { _ in false }))
        _ = cut.receive(Array("C0644 100 y\nabc".utf8))
        let partial = cut.finish()
        #expect(partial.first?.bytes == Array("abc".utf8))
        #expect(partial.first?.fields.fields.contains(EventField("complete", "false")) == true)
    }

    @Test func compressionRoundTripsAndRefusesABomb() throws {
        let deflater = SSHCompression(deflating: true)
        let inflater = SSHCompression(deflating: false)
        for payload in [Array("first".utf8), [UInt8](repeating: 7, count: 70_000), Array("third".utf8)] {
            #expect(try inflater.decompress(deflater.compress(payload)) == payload)
        }
        // 1 MiB of zeros deflates to about a kilobyte; inflated it is past the packet limit.
        let bomb = SSHCompression(deflating: true).compress([UInt8](repeating: 0, count: 1 << 20))
        #expect(bomb.count < 4096)
        #expect(throws: SSHWire.ProtocolError.self) { try SSHCompression(deflating: false).decompress(bomb) }
        #expect(throws: SSHWire.ProtocolError.self) { try SSHCompression(deflating: false).decompress([1, 2, 3, 4]) }
    }
}
