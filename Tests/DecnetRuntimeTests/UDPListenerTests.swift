import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetTesting
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The UDP listener, with a test service that answers every datagram with its bytes repeated `factor` times.
@Suite struct UDPListenerTests {
    struct Repeater: UDPHoneypot {
        let factor: Int
        func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
            var fields = EventFields()
            fields.add("command", attackerBytes: datagram)
            session.emit(.commandInput, fields)
            return Array([[UInt8]](repeating: datagram, count: self.factor).joined())
        }
    }

    /// Sends `count` datagrams from one socket and collects replies until `expected` have come (waiting up to
    /// 30 s: the whole suite on two cores may hold a reply back for seconds), then for `settle` more, so that a
    /// reply beyond the expected ones is still seen. Without `expected`, it collects for 3 s.
    static func exchange(
        port: Int,
        payload: [UInt8],
        count: Int,
        expected: Int = .max,
        settle: TimeAmount = .zero
    ) async throws -> [[UInt8]] {
        let wait: TimeAmount = expected == .max ? .seconds(3) : .seconds(30)
        let client = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        var deadline = client.channel.eventLoop.scheduleTask(in: wait) { client.channel.close(promise: nil) }
        var replies: [[UInt8]] = []
        try? await client.executeThenClose { inbound, outbound in
            for _ in 0..<count {
                try await outbound.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: payload)))
            }
            for try await envelope in inbound {
                replies.append(Array(envelope.data.readableBytesView))
                guard replies.count == expected else { continue }
                if settle == .zero { break }
                deadline.cancel()
                deadline = client.channel.eventLoop.scheduleTask(in: settle) { client.channel.close(promise: nil) }
            }
        }
        deadline.cancel()
        return replies
    }

    static func start(
        factor: Int,
        limits: UDPLimits
    ) async throws -> (UDPListener<Repeater>, EventCapture, Task<Void, Never>) {
        let capture = EventCapture()
        let context = ServiceContext(decky: "decky-test", hostname: "h", service: "snmp", persona: [:], sink: capture)
        let listener = try await UDPListener.bind(
            Repeater(factor: factor),
            host: "127.0.0.1",
            port: 0,
            context: context,
            limits: limits
        )
        return (listener, capture, Task { await listener.run() })
    }

    @Test func answersWithinTheSourcesRateAndRecordsOneFlow() async throws {
        let (listener, capture, task) = try await Self.start(
            factor: 1,
            limits: UDPLimits(datagramsPerSecond: 0.001, burst: 5)
        )
        let port = try #require(listener.localAddress?.port)
        let replies = try await Self.exchange(
            port: port,
            payload: Array("hello".utf8),
            count: 20,
            expected: 5,
            settle: .seconds(2)
        )
        #expect(replies.count == 5, "the burst, then silence")
        #expect(replies.allSatisfy { $0 == Array("hello".utf8) })
        await listener.close()
        await task.value
        #expect(capture.events(.connectionOpen).count == 1)
        #expect(capture.events(.connectionOpen).first?.source.ip == "127.0.0.1")
        // Every datagram is recorded; only the burst was answered.
        #expect(capture.events(.commandInput).count == 20)
        #expect(capture.events(.connectionClose).count == 1)
    }

    /// A burst faster than the listener serves it (a scan, a community brute force) waits in the socket rather than
    /// being dropped by the kernel: with the default receive buffer (208 KiB, about 160 datagrams) a debug build
    /// kept about a fifth of 2,000 datagrams sent at once; every one of these 3,000 must be recorded.
    @Test func aBurstFromFreshSourcePortsIsRecordedWhole() async throws {
        let (listener, capture, task) = try await Self.start(factor: 1, limits: UDPLimits())
        let port = try #require(listener.localAddress?.port)
        let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let count = 3_000
        for index in 0..<count {
            // A fresh socket each: a new source port, a new flow, as a scanner's probes come.
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            try #require(fd >= 0)
            let payload = Array("burst-\(index)".utf8)
            let sent = server.withSockAddr { sendto(fd, payload, payload.count, 0, $0, socklen_t($1)) }
            close(fd)
            try #require(sent == payload.count)
        }
        let recorded = await capture.wait(for: .commandInput, count: count, timeout: .seconds(120))
        await listener.close()
        await task.value
        #expect(Set(recorded.compactMap { $0.fields.first { $0.name == "command" }?.value }).count == count)
    }

    @Test func repliesCannotAmplifyBeyondTheBound() async throws {
        let (listener, _, task) = try await Self.start(factor: 100, limits: UDPLimits(maximumAmplification: 4))
        let port = try #require(listener.localAddress?.port)
        let replies = try await Self.exchange(port: port, payload: Array("abcd".utf8), count: 1, expected: 1)
        #expect(replies.map(\.count) == [16])
        await listener.close()
        await task.value
    }
}
