import DecnetRuntime
import DecnetServiceKit
import Foundation
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// FTP's data connections on plain sockets (`PosixDataChannels`), against what an attacker can do to a passive
/// port: connect more than once, connect and never be served, upload before the transfer looks. Found by the soak
/// (issue 25): a second connection queued on a passive port when the transfer was done was dropped unrun, and NIO
/// trapped on it ("Deinited NIOAsyncWriter without calling finish()"), taking the engine and every decky down.
@Suite struct DataChannelTests {
    /// Reads from a blocking socket until EOF, a reset or `seconds` pass; the bytes and whether the server ended it.
    static func drain(_ fd: Int32, seconds: Int = 5) -> (bytes: [UInt8], ended: Bool) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count > 0 {
                bytes += buffer[..<count]
                continue
            }
            return (bytes, count == 0 || errno == ECONNRESET)
        }
    }

    /// Blocking reads on a thread of their own, off the cooperative pool the other tests share.
    static func drained(_ sockets: [Int32]) async -> [(bytes: [UInt8], ended: Bool)] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: sockets.map { Self.drain($0) }) }
        }
    }

    @Test func connectionsNoTransferTakesAreClosedAndNothingTraps() async throws {
        let listener = try await PosixDataChannels().listen(host: "127.0.0.1", peer: "127.0.0.1")
        // Three connections before the transfer looks: one is served, two are left over.
        let sockets = try (0..<3).map { _ in try RawTCP.connect(port: listener.port) }
        defer { for fd in sockets { close(fd) } }
        try await Task.sleep(for: .milliseconds(200))
        let served = try await listener.accept(timeout: .seconds(5)) { _, outbound in
            try await outbound.write(ByteBuffer(string: "listing\r\n"))
        }
        #expect(served)
        await listener.close()
        let answers = await Self.drained(sockets)
        #expect(answers.allSatisfy { $0.ended }, "every data connection is closed")
        #expect(answers.filter { $0.bytes == Array("listing\r\n".utf8) }.count == 1, "\(answers)")
        try await Task.sleep(for: .milliseconds(200))
    }

    @Test func aListenerClosedWithAConnectionWaitingClosesIt() async throws {
        let listener = try await PosixDataChannels().listen(host: "127.0.0.1", peer: "127.0.0.1")
        let fd = try RawTCP.connect(port: listener.port)
        defer { close(fd) }
        try await Task.sleep(for: .milliseconds(200))
        await listener.close()
        #expect(await Self.drained([fd]).first?.ended == true)
        try await Task.sleep(for: .milliseconds(200))
    }

    @Test func anUploadSentBeforeTheTransferLooksArrivesWhole() async throws {
        let listener = try await PosixDataChannels().listen(host: "127.0.0.1", peer: "127.0.0.1")
        let fd = try RawTCP.connect(port: listener.port)
        let upload = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(upload.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == upload.count)
        close(fd)
        try await Task.sleep(for: .milliseconds(300))
        let received = ByteCounter()
        let served = try await listener.accept(timeout: .seconds(5)) { inbound, _ in
            for try await chunk in inbound { received.append(Array(chunk.readableBytesView)) }
        }
        await listener.close()
        #expect(served)
        let bytes = received.bytes
        #expect(bytes.count == upload.count && bytes == upload, "received \(bytes.count) of \(upload.count) bytes")
    }
}

final class ByteCounter: Sendable {
    private let stored = Mutex<[UInt8]>([])
    var bytes: [UInt8] { self.stored.withLock { $0 } }
    func append(_ more: [UInt8]) { self.stored.withLock { $0 += more } }
}
