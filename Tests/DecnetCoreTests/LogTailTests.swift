import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The log's writer rotates (`RotatingLogFile`) and its readers follow (`LogTail`): every line is read once and
/// in order, across rotations, restarts from a saved position, and generations deleted under a reader.
@Suite struct LogTailTests {
    static func line(_ number: Int) -> String { "line \(number) " + String(repeating: "x", count: number % 50) }

    /// Reads everything available, returning the numbers read and the last position.
    static func drain(_ tail: inout LogTail) throws -> [Int] {
        var numbers: [Int] = []
        while let line = try tail.next() {
            let text = String(decoding: line.bytes, as: UTF8.self)
            numbers.append(Int(text.split(separator: " ")[1])!)
        }
        return numbers
    }

    @Test func everyLineOnceInOrderAcrossRotationsAndRestarts() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/decnet.log"
        let writer = try RotatingLogFile(path: path, policy: .init(maxBytes: 1024, generations: 0))
        var read: [Int] = []
        var saved: LogTail.Position?
        var next = 0
        // Write a few lines, read some with a fresh reader from the saved position, write more: the reader
        // restarts often, the writer rotates often, and nothing is lost or read twice.
        for round in 0..<60 {
            for _ in 0..<(round % 7 + 20) {
                try writer.append(Array((Self.line(next) + "\n").utf8))
                next += 1
            }
            var tail = try LogTail(path: path, from: saved)
            read += try Self.drain(&tail)
            saved = tail.position
        }
        #expect(writer.rotations > 30)
        #expect(read == Array(0..<next))
        // Every generation is kept (generations: 0), oldest first.
        #expect(LogTail.generations(of: path).count == writer.rotations + 1)
    }

    @Test func aReaderOnARotatedFileFinishesItFirst() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/decnet.log"
        let writer = try RotatingLogFile(path: path, policy: .never)
        for number in 0..<10 { try writer.append(Array((Self.line(number) + "\n").utf8)) }
        var tail = try LogTail(path: path, from: nil)
        #expect(try Self.drain(&tail) == Array(0..<10))
        // More lines land in the file, then it is rotated twice before the reader looks again.
        for number in 10..<15 { try writer.append(Array((Self.line(number) + "\n").utf8)) }
        try writer.rotate()
        for number in 15..<20 { try writer.append(Array((Self.line(number) + "\n").utf8)) }
        try writer.rotate()
        for number in 20..<25 { try writer.append(Array((Self.line(number) + "\n").utf8)) }
        #expect(try Self.drain(&tail) == Array(10..<25))
        // A position whose file is now `decnet.log.2` is found there by its inode.
        var reopened = try LogTail(path: path, from: nil)
        var first = try #require(try reopened.next())
        for _ in 0..<11 { first = try #require(try reopened.next()) }
        var resumed = try LogTail(path: path, from: first.end)
        #expect(try Self.drain(&resumed) == Array(12..<25))
    }

    @Test func generationsPastTheLimitAreDeletedAndAReaderOnOneGoesOn() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/decnet.log"
        let writer = try RotatingLogFile(path: path, policy: .init(maxBytes: 0, generations: 2))
        for number in 0..<5 { try writer.append(Array((Self.line(number) + "\n").utf8)) }
        var tail = try LogTail(path: path, from: nil)
        #expect(try tail.next() != nil)
        for round in 1...4 {
            try writer.rotate()
            try writer.append(Array((Self.line(round * 100) + "\n").utf8))
        }
        #expect(LogTail.generations(of: path).map(\.path) == [path + ".2", path + ".1", path])
        // Its own file, deleted, is still read to its end (the descriptor holds it); then the oldest left.
        let numbers = try Self.drain(&tail)
        #expect(numbers == [1, 2, 3, 4, 200, 300, 400])
        // A saved position whose file is gone: what is left, from the oldest, and the loss is reported.
        let lost = LogTail.Position(inode: 1, offset: 99)
        var late = try LogTail(path: path, from: lost)
        #expect(late.lostPosition == lost)
        #expect(try Self.drain(&late) == [200, 300, 400])
    }

    @Test func hostileLinesAreSkippedNotReturned() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/decnet.log"
        let writer = try RotatingLogFile(path: path)
        try writer.append(Array("line 1\n".utf8))
        try writer.append([UInt8](repeating: 0x41, count: 3000) + [0x0A])
        try writer.append(Array("line 2\n\nline 3\n".utf8))
        try writer.append([UInt8](repeating: 0, count: 5000))
        var tail = try LogTail(path: path, from: nil, maximumLineLength: 1024)
        var skipped: [Int] = []
        var texts: [String] = []
        while let line = try tail.next() { texts.append(String(decoding: line.bytes, as: UTF8.self)) }
        skipped.append(tail.skippedLines)
        #expect(texts == ["line 1", "line 2", "", "line 3"])
        // The 3000-byte line and the unterminated 5000 bytes of zeros.
        #expect(skipped == [2])
        // The over-long line goes on being dropped up to its newline; nothing is returned without one.
        try writer.append(Array("still the zeros' line".utf8))
        #expect(try tail.next() == nil)
        try writer.append(Array(", its end\nline 4".utf8))
        #expect(try tail.next() == nil)
        try writer.append(Array("\n".utf8))
        #expect(try tail.next().map { String(decoding: $0.bytes, as: UTF8.self) } == "line 4")
        #expect(tail.skippedLines == 2)
    }
}
