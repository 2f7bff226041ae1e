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
            let fd = try RawTCP.connect(port: service.port)
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
        let fd = try RawTCP.connect(port: service.port)
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

    /// A service that speaks first (ftp's banner) has it sent by the runtime on connect; the connection's task
    /// starts at the client's first command, and a client that only reads the banner is still opened and closed.
    @Test func theBannerIsSentOnConnectAndTheTaskWaitsForTheClient() async throws {
        let service = try await LiveService.start("ftp")
        for command in ["", "USER anonymous\r\n"] {
            let fd = try RawTCP.connect(port: service.port)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var banner = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &banner, banner.count)
            #expect(String(decoding: banner.prefix(max(0, count)), as: UTF8.self).hasPrefix("220 "))
            if !command.isEmpty {
                let bytes = Array(command.utf8)
                #expect(write(fd, bytes, bytes.count) == bytes.count)
                var reply = [UInt8](repeating: 0, count: 256)
                let replied = read(fd, &reply, reply.count)
                #expect(String(decoding: reply.prefix(max(0, replied)), as: UTF8.self).hasPrefix("331 "))
            }
            close(fd)
        }
        let closes = await service.capture.wait(for: .connectionClose, count: 2)
        await service.stop()
        #expect(closes.count == 2)
        #expect(service.capture.events(.connectionOpen).count == 2)
        #expect(closes.allSatisfy { Int($0[field: "bytes_out"] ?? "0") ?? 0 > 0 }, "the banner counted: \(closes)")
    }

    @Test func manyConnectionsOneAfterAnotherAreAllServed() async throws {
        let service = try await LiveService.start("http")
        for _ in 0..<200 {
            let fd = try RawTCP.connect(port: service.port)
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
}
