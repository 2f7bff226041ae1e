import DecnetCore
import DecnetPipeline
import DecnetTesting
import Foundation
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The broker on a real UNIX socket: wildcard subscriptions get exactly what they match, a subscriber that
/// stops reading loses (counted) messages without slowing the publisher or anyone else, and hostile clients
/// get `-ERR` and a close.
@Suite struct BusBrokerTests {
    final class Received: Sendable {
        let subjects = Mutex<[String]>([])
        var count: Int { self.subjects.withLock { $0.count } }
    }

    /// A client that subscribes and then never reads: its socket buffers fill, then its queue in the broker.
    static func stalledSubscriber(_ socketPath: String, pattern: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(connected == 0)
        var small: Int32 = 4096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let request = Array("CONNECT {\"name\":\"stalled\"}\r\nSUB \(pattern) 9\r\n".utf8)
        _ = request.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        return descriptor
    }

    @Test func wildcardsAndASlowSubscriberThatNeverSlowsThePublisher() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let socketPath = directory.path + "/bus.sock"
        let broker = try await BusBroker.start(socketPath: socketPath, queueCapacity: 1000)
        let serving = Task { await broker.run() }
        defer { serving.cancel() }

        let stalled = try Self.stalledSubscriber(socketPath, pattern: ">")
        defer { close(stalled) }
        let patterns = ["attacker.*", "attacker.>", "decky.*.state", ">"]
        let received = patterns.map { _ in Received() }
        var listeners: [Task<Void, any Error>] = []
        for (pattern, box) in zip(patterns, received) {
            listeners.append(
                Task {
                    try await BusConnection.subscribe(socketPath, pattern: pattern) { subject, _ in
                        box.subjects.withLock { $0.append(subject) }
                        return true
                    }
                }
            )
        }
        defer { for listener in listeners { listener.cancel() } }
        for _ in 0..<250 where broker.status.subscribers.count < 5 { try await Task.sleep(for: .milliseconds(20)) }
        try #require(broker.status.subscribers.count == 5, "\(broker.status)")

        // 20,000 messages over five subjects in bursts of 500, each burst queued at once; between bursts the
        // test waits for the fast subscribers only. The stalled one holds nobody up.
        let subjects = [
            "attacker.observed", "attacker.session.started", "decky.web-01.state", "credential.captured",
            "system.ingester.health",
        ]
        let publisher = BusPublisher(socketPath: socketPath, name: "test-publisher", capacity: 30_000)
        let publishing = Task { await publisher.run() }
        for _ in 0..<250 where !publisher.statistics.connected { try await Task.sleep(for: .milliseconds(20)) }
        let total = 20_000
        let matching: [[String]] = [
            subjects.filter { $0.split(separator: ".").count == 2 && $0.hasPrefix("attacker.") },
            subjects.filter { $0.hasPrefix("attacker.") },
            subjects.filter { $0.hasPrefix("decky.") && $0.hasSuffix(".state") },
            subjects,
        ]
        func expected(_ sent: Int) -> [[String]] {
            matching.map { wanted in (0..<sent).map { subjects[$0 % 5] }.filter { wanted.contains($0) } }
        }
        for burst in stride(from: 0, to: total, by: 500) {
            for index in burst..<burst + 500 {
                publisher.publish(try Subject(subjects[index % 5]), Array("{\"n\":\(index)}".utf8))
            }
            let counts = expected(burst + 500).map(\.count)
            for _ in 0..<500 where zip(received, counts).contains(where: { $0.count < $1 }) {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        await publisher.close(running: publishing, grace: .seconds(60))
        #expect(publisher.statistics.published == total && publisher.statistics.dropped == 0)
        for _ in 0..<250 where broker.status.published < total { try await Task.sleep(for: .milliseconds(20)) }
        #expect(broker.status.published == total)

        // Each fast subscriber got exactly what its pattern matches, in order of publication.
        for ((box, wanted), pattern) in zip(zip(received, expected(total)), patterns) {
            let got = box.subjects.withLock { $0 }
            let same = got == wanted
            #expect(same, "\(pattern): \(got.count) message(s), \(wanted.count) expected")
        }
        // The stalled subscriber lost messages (counted against it alone); nobody else lost any.
        let status = broker.status
        let stalledEntry = try #require(status.subscribers.first { $0.client.hasPrefix("stalled") })
        #expect(stalledEntry.dropped > 0)
        #expect(status.dropped == stalledEntry.dropped)
        #expect(
            status.subscribers.filter { !$0.client.hasPrefix("stalled") }.allSatisfy { $0.dropped == 0 },
            "\(status.subscribers)"
        )
        await broker.close()
    }

    @Test func hostileClientsGetAnErrorAndAClose() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let socketPath = directory.path + "/bus.sock"
        let broker = try await BusBroker.start(socketPath: socketPath)
        let serving = Task { await broker.run() }
        defer { serving.cancel() }
        let cases: [(String, String)] = [
            ("BOGUS\r\n", "-ERR 'Unknown Protocol Operation'"),
            ("PUB a.b 99999999\r\n", "-ERR 'Maximum Payload Violation'"),
            ("PUB a.b 3\r\nabcdef\r\n", "-ERR 'Payload Not Followed By CRLF'"),
            ("SUB a..b 1\r\nPING\r\n", "-ERR 'Invalid Subject'"),
            ("PUB a.* 1\r\nx\r\nPING\r\n", "-ERR 'Invalid Publish Subject'"),
            (String(repeating: "A", count: 10_000), "-ERR 'Maximum Control Line Exceeded'"),
        ]
        for (input, answer) in cases {
            let descriptor = try Self.stalledSubscriber(socketPath, pattern: "x")
            defer { close(descriptor) }
            _ = Array(input.utf8).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            // Read without blocking a thread of the cooperative pool (other suites' services run on it).
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            var reply: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            // A bound, not a timing: under CI's load the broker's task can wait long for the cooperative pool.
            let deadline = ContinuousClock.now + .seconds(60)
            while !String(decoding: reply, as: UTF8.self).contains(answer), ContinuousClock.now < deadline {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    reply += chunk[..<count]
                } else if count == 0 {
                    break
                } else {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            #expect(
                String(decoding: reply, as: UTF8.self).contains(answer),
                "\(input.prefix(30)): \(reply.count) bytes"
            )
        }
        // It still serves well-behaved clients.
        let publisher = BusPublisher(socketPath: socketPath, name: "after")
        let running = Task { await publisher.run() }
        for _ in 0..<250 where !publisher.statistics.connected { try await Task.sleep(for: .milliseconds(20)) }
        publisher.publish(try Subject("a.b"), [1])
        await publisher.close(running: running, grace: .seconds(5))
        // A loaded machine (CI runs every suite at once on two cores) can take seconds to deliver it.
        for _ in 0..<1500 where broker.status.published == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(publisher.statistics.published == 1 && broker.status.published == 1)
        await broker.close()
    }
    /// A one-shot publisher (a CLI command) can write its message and close before the broker's task for the
    /// connection has started (CI's load made this happen). The broker still reads what the connection sent:
    /// here it does not run at all until the publisher has given up and closed.
    @Test func aMessageFromAClientThatClosedBeforeTheBrokerStartedIsPublished() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let socketPath = directory.path + "/bus.sock"
        let broker = try await BusBroker.start(socketPath: socketPath)
        let publisher = BusPublisher(socketPath: socketPath, name: "one-shot")
        let running = Task { await publisher.run() }
        publisher.publish(try Subject("a.b"), [1])
        // No PONG can come (nobody serves), so the publisher stops at the end of its grace, its connection closed.
        await publisher.close(running: running, grace: .milliseconds(500))
        #expect(publisher.statistics.published == 1 && !publisher.statistics.connected)
        let serving = Task { await broker.run() }
        defer { serving.cancel() }
        for _ in 0..<500 where broker.status.published == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(broker.status.published == 1)
        await broker.close()
    }

    /// With no broker the queue keeps its oldest messages and counts the rest dropped; past the point where the
    /// queue is full, events' messages are counted without being made, and exactly as many are counted as would
    /// have been published. A broker that comes takes what was queued, and messages are made again.
    @Test func aFullQueueWithNoBrokerCountsMessagesWithoutMakingThem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let socketPath = directory.path + "/bus.sock"
        let publisher = BusPublisher(socketPath: socketPath, name: "no-broker", capacity: 100)
        let running = Task { await publisher.run() }
        let events = (0..<250).map { index in
            HoneypotEvent(
                time: Date(timeIntervalSince1970: 1_795_283_508 + Double(index)),
                id: .loginFailed,
                decky: "decky-0",
                hostname: "decky-0",
                service: "ssh",
                session: "s\(index)",
                source: Endpoint(ip: "198.51.100.7", port: 40000),
                destination: Endpoint(ip: "10.77.0.10", port: 22),
                fields: [EventField("username", "root"), EventField("password", "pw-\(index)")]
            )
        }
        #expect(!publisher.wouldDrop)
        BusTopics.publish(events, on: publisher)
        // Two subjects per login (observed, credential captured): 500 messages, 100 queued.
        #expect(publisher.wouldDrop)
        #expect(publisher.statistics.dropped == 400 && publisher.statistics.published == 0)
        let broker = try await BusBroker.start(socketPath: socketPath)
        let serving = Task { await broker.run() }
        defer { serving.cancel() }
        for _ in 0..<1500 where broker.status.published < 100 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(broker.status.published == 100)
        #expect(!publisher.wouldDrop)
        await publisher.close(running: running, grace: .seconds(5))
        await broker.close()
    }
}
