import DecnetCore
import DecnetRuntime
import DecnetTesting
import Foundation
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A connection's life as the listener runs it: `connection.open` and `connection.close` for a connection that
/// says nothing (a client-speaks-first service starts its task only at the first request), a slow request
/// served once it completes, and sequential connections spread over every event loop's socket.
@Suite struct ListenerLifecycleTests {
    @Test func aConnectionThatSaysNothingIsOpenedAndClosed() async throws {
        let service = try await LiveService.start("redis")
        for _ in 0..<3 {
            let fd = try Self.connect(port: service.port)
            close(fd)
        }
        let closes = await service.capture.wait(for: .connectionClose, count: 3)
        await service.stop()
        #expect(service.capture.events(.connectionOpen).count == 3)
        #expect(closes.count == 3 && closes.allSatisfy { $0[field: "bytes_in"] == "0" }, "\(closes)")
        #expect(service.listener.openConnections == 0)
    }

    /// A request sent a few bytes at a time (the task waits for the first whole one), then answered.
    @Test func aSlowRequestIsServedOnceItIsWhole() async throws {
        let service = try await LiveService.start("redis")
        let fd = try Self.connect(port: service.port)
        let request = Array("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n".utf8)
        for byte in request {
            var one = byte
            #expect(write(fd, &one, 1) == 1)
            try await Task.sleep(for: .milliseconds(5))
        }
        var reply = [UInt8](repeating: 0, count: 256)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let count = read(fd, &reply, reply.count)
        #expect(count > 0)
        #expect(String(decoding: reply.prefix(max(0, count)), as: UTF8.self).hasPrefix("-"), "an AUTH error reply")
        let logins = await service.capture.wait(for: .loginFailed, count: 1)
        close(fd)
        // stop() returns once every connection has ended.
        await service.stop()
        #expect(logins.first?[field: "password"] == "secret", "\(logins)")
        #expect(service.capture.events(.connectionOpen).count == 1)
    }

    @Test func manyConnectionsOneAfterAnotherAreAllServed() async throws {
        let service = try await LiveService.start("http")
        for _ in 0..<200 {
            let fd = try Self.connect(port: service.port)
            let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
            #expect(write(fd, request, request.count) == request.count)
            var buffer = [UInt8](repeating: 0, count: 64)
            #expect(read(fd, &buffer, buffer.count) > 0)
            close(fd)
        }
        let closes = await service.capture.wait(for: .connectionClose, count: 200)
        await service.stop()
        #expect(closes.count == 200)
        #expect(service.listener.totalConnections == 200)
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0, "connect: \(String(cString: strerror(errno)))")
        return fd
    }
}
