import DecnetCore
import DecnetRuntime
import DecnetTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A connection the peer resets before it is accepted (a connect scan's handshake-then-RST) keeps its source.
@Suite struct AttributionTests {
    @Test func aConnectionResetBeforeAcceptKeepsItsSourceAddressAndPort() async throws {
        let service = try await LiveService.start("redis")
        // Hold every event loop of the group, so the kernel completes the handshakes but nothing is accepted
        // until the peers have reset them.
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        let release = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        for loop in loops {
            loop.execute {
                held.signal()
                _ = release.wait(timeout: .now() + 20)
            }
        }
        for _ in loops { held.wait() }
        var ports: [Int] = []
        for _ in 0..<5 { ports.append(try Self.connectAndReset(port: service.port)) }
        for _ in loops { release.signal() }

        let opens = await service.capture.wait(for: .connectionOpen, count: 5)
        await service.stop()
        #expect(opens.count == 5)
        #expect(opens.allSatisfy { $0.source.ip == "127.0.0.1" }, "\(opens.map(\.source))")
        #expect(Set(opens.map(\.source.port)) == Set(ports))
        #expect(service.capture.all.allSatisfy { $0.source.ip != "?" && $0.source.port != 0 })
    }

    /// Connects with a plain socket, notes its local port, then closes with SO_LINGER 0 (an RST).
    static func connectAndReset(port: Int) throws -> Int {
        let fd = try RawTCP.connect(port: port)
        defer { close(fd) }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        return Int(UInt16(bigEndian: local.sin_port))
    }
}
