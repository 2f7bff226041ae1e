import DecnetServiceKit
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// The gate in front of ssh's transport and vnc's state machine: a connection's first bytes are held until they
/// make the client's first message (ssh: its identification line, or what sshd refuses at once; vnc: its 12-byte
/// ProtocolVersion) and come out in one read; nothing is lost or reordered.
@Suite struct FirstMessageGateTests {
    /// The reads that came out of the gate after `pieces` went in, one at a time; `close` ends the channel after.
    static func reads(
        _ pieces: [[UInt8]],
        close: Bool = false,
        isComplete: @escaping (ByteBufferView) -> Bool = SSHService.identificationDecided
    ) throws -> [[UInt8]] {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(FirstMessageGate(isComplete: isComplete))
        try channel.connect(to: .init(ipAddress: "10.0.0.9", port: 22)).wait()
        var reads: [[UInt8]] = []
        for piece in pieces {
            try channel.writeInbound(ByteBuffer(bytes: piece))
            while let read = try channel.readInbound(as: ByteBuffer.self) {
                reads.append(Array(read.readableBytesView))
            }
        }
        if close {
            channel.pipeline.fireChannelInactive()
            while let read = try channel.readInbound(as: ByteBuffer.self) {
                reads.append(Array(read.readableBytesView))
            }
        }
        _ = try? channel.finish()
        return reads
    }

    @Test func aLineSentInPiecesComesOutWholeAndWhatFollowsPassesAsItComes() throws {
        let reads = try Self.reads([
            Array("SSH-2.0-Open".utf8), Array("SSH_9".utf8), Array(".6\r".utf8),
            Array("\n\u{0}\u{0}\u{1}".utf8), [0x2C], [0x14],
        ])
        #expect(reads == [Array("SSH-2.0-OpenSSH_9.6\r\n\u{0}\u{0}\u{1}".utf8), [0x2C], [0x14]])
    }

    @Test func aPartialLineIsHeldAndGivenToTheTransportAtTheEnd() throws {
        #expect(try Self.reads([Array("SSH-2.0-Open".utf8)]) == [])
        #expect(
            try Self.reads([Array("SSH-2.0-Open".utf8), Array("SSH".utf8)], close: true) == [
                Array("SSH-2.0-OpenSSH".utf8)
            ]
        )
        #expect(try Self.reads([], close: true) == [])
    }

    /// What sshd refuses at once is not held: a NUL, a CR without its LF, a line past 255 bytes; the transport
    /// answers them as sshd does.
    @Test func whatSSHDRefusesAtOnceIsPassedOnAtOnce() throws {
        #expect(try Self.reads([Array("SSH-2.0-\u{0}".utf8)]) == [Array("SSH-2.0-\u{0}".utf8)])
        #expect(try Self.reads([Array("GET /\rx".utf8)]) == [Array("GET /\rx".utf8)])
        let long = [UInt8](repeating: 0x41, count: 200)
        #expect(try Self.reads([long, long]) == [long + long])
        #expect(try Self.reads([long]) == [])
    }

    @Test func vncsVersionIsHeldUntilItsTwelveBytes() throws {
        let vnc: (ByteBufferView) -> Bool = { $0.count >= 12 }
        #expect(try Self.reads([Array("RFB 003.0".utf8)], isComplete: vnc) == [])
        #expect(
            try Self.reads([Array("RFB 003.0".utf8), Array("08\n".utf8), [0x02]], isComplete: vnc)
                == [Array("RFB 003.008\n".utf8), [0x02]]
        )
    }
}
