import DecnetPipeline
import NIOCore
import Testing

/// The listener's framing decoder against good streams split anywhere, and hostile ones.
@Suite struct SyslogFramingTests {
    static func decode(_ chunks: [[UInt8]], maximum: Int = 1024) throws -> [String] {
        var decoder = SyslogFrameDecoder(maximumMessage: maximum)
        var buffer = ByteBuffer()
        var messages: [String] = []
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while let message = try decoder.decode(buffer: &buffer) {
                messages.append(String(buffer: message))
            }
        }
        return messages
    }

    @Test func octetCountedAndNewlineFramedSplitAnywhere() throws {
        var stream = ByteBuffer()
        SyslogFraming.frame(Array("<165>1 - - - - - - one".utf8), into: &stream)
        SyslogFraming.frame(Array("<165>1 - - - - - - two\nwith a newline inside".utf8), into: &stream)
        stream.writeString("<13>1 - - - - - - three\r\n\n")
        SyslogFraming.frame(Array("<165>1 - - - - - - four".utf8), into: &stream)
        let bytes = Array(stream.readableBytesView)
        let expected = [
            "<165>1 - - - - - - one", "<165>1 - - - - - - two\nwith a newline inside", "<13>1 - - - - - - three",
            "<165>1 - - - - - - four",
        ]
        #expect(try Self.decode([bytes]) == expected)
        // Every split into two, and byte by byte.
        for cut in 0...bytes.count {
            #expect(try Self.decode([Array(bytes[..<cut]), Array(bytes[cut...])]) == expected)
        }
        #expect(try Self.decode(bytes.map { [$0] }) == expected)
    }

    @Test func hostileFramesAreErrorsNotCrashes() throws {
        let hostile: [(String, [UInt8])] = [
            ("a length past the limit", Array("99999 <1>1".utf8)),
            ("eleven digits", Array("12345678901 ".utf8)),
            ("a letter in the length", Array("12a4 x".utf8)),
            ("a stray first byte", [0x16, 0x03, 0x01]),  // a TLS ClientHello sent to a plain listener
            ("a newline-framed message past the limit", Array("<1>".utf8) + [UInt8](repeating: 0x41, count: 2000)),
            ("a leading zero", Array("0 x".utf8)),
        ]
        for (name, bytes) in hostile {
            #expect(throws: SyslogFrameDecoder.FramingError.self, "\(name)") { try Self.decode([bytes]) }
        }
        // A flood of stray line ends is skipped without recursion.
        #expect(try Self.decode([[UInt8](repeating: 0x0A, count: 1_000_000) + Array("3 abc".utf8)]) == ["abc"])
        // Incomplete frames wait for more.
        #expect(try Self.decode([Array("10 abc".utf8)]) == [])
        #expect(try Self.decode([Array("1234567890".utf8)]) == [])
    }
}
