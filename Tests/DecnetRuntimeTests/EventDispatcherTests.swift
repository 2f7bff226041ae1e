import DecnetCore
import Foundation
import Testing

@testable import DecnetRuntime

/// The event writer: batches land whole and in order, a full disk holds events back until there is room (a real
/// tmpfs of 1 MiB filled to the last byte), and a log removed under the writer is opened again.
@Suite struct EventDispatcherTests {
    static func event(_ index: Int) -> HoneypotEvent {
        HoneypotEvent(
            id: .loginFailed,
            decky: "decky-01",
            hostname: "web01",
            service: "ssh",
            session: "s\(index)",
            source: Endpoint(ip: "10.0.0.9", port: 40000),
            destination: Endpoint(ip: "10.0.0.10", port: 22),
            fields: [EventField("password", "pw-\(index)")]
        )
    }

    /// The passwords in `path`, in file order.
    static func passwords(in path: String) -> [String] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            line.range(of: #"password="pw-\d+""#, options: .regularExpression).map {
                String(line[$0].dropFirst(13).dropLast())
            }
        }
    }

    static func waitUntil(_ seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func eventsFromManyTasksLandOnceEachAndInEmissionOrderPerTask() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("decnet-dispatch-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.log").path
        let output = try LogFileOutput(path: path)
        let dispatcher = EventDispatcher(outputs: [output])
        let delivery = Task { await dispatcher.run() }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for index in 0..<2500 { dispatcher.emit(Self.event(worker * 10_000 + index)) }
                }
            }
        }
        dispatcher.finish()
        await delivery.value
        let seen = Self.passwords(in: path)
        #expect(seen.count == 10_000)
        #expect(Set(seen).count == 10_000)
        for worker in 0..<4 {
            let own = seen.compactMap { Int($0) }.filter { $0 / 10_000 == worker }
            #expect(own == own.sorted(), "worker \(worker)'s events out of order")
        }
        #expect(dispatcher.dropped == 0)
        #expect(output.failed == 0)
    }

    /// ENOSPC: the lines are held, in order, and written once the disk has room again; none twice, none lost.
    @Test func aFullDiskHoldsEventsUntilThereIsRoom() async throws {
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent("decnet-full-\(UUID())").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: mount) }
        let mounted = try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "decnet-test", mount])
        try #require(mounted == 0, "mounting a tmpfs needs root")
        defer { _ = try? Self.run("/bin/umount", [mount]) }
        let path = mount + "/events.log"
        let output = try LogFileOutput(path: path)
        let dispatcher = EventDispatcher(outputs: [output])
        let delivery = Task { await dispatcher.run() }
        for index in 0..<20 { dispatcher.emit(Self.event(index)) }
        #expect(await Self.waitUntil { Self.passwords(in: path).count == 20 })
        // Fill the disk to the last byte, then go on emitting.
        let filler = mount + "/filler"
        _ = try Self.run("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=65536", "count=16"])
        for index in 20..<600 { dispatcher.emit(Self.event(index)) }
        #expect(await Self.waitUntil { output.held > 0 }, "the disk is full, yet nothing is held back")
        let whileFull = Self.passwords(in: path).count
        #expect(whileFull < 600)
        try FileManager.default.removeItem(atPath: filler)
        // The writer retries within about a second, with no new event needed.
        #expect(await Self.waitUntil { output.held == 0 })
        dispatcher.finish()
        await delivery.value
        let seen = Self.passwords(in: path)
        #expect(seen == (0..<600).map { String($0) })
        #expect(output.failed == 0)
    }

    @Test func aLogRemovedUnderTheWriterIsOpenedAgain() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("decnet-removed-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("events.log").path
        let output = try LogFileOutput(path: path)
        let dispatcher = EventDispatcher(outputs: [output])
        let delivery = Task { await dispatcher.run() }
        dispatcher.emit(Self.event(0))
        #expect(await Self.waitUntil { Self.passwords(in: path) == ["0"] })
        try FileManager.default.removeItem(atPath: path)
        // The writer looks at most once a second: later events reach a file at the path again.
        var next = 1
        let reopened = await Self.waitUntil(30) {
            dispatcher.emit(Self.event(next))
            next += 1
            return !Self.passwords(in: path).isEmpty
        }
        #expect(reopened)
        dispatcher.finish()
        await delivery.value
        let seen = Self.passwords(in: path).compactMap { Int($0) }
        #expect(!seen.isEmpty && seen == seen.sorted() && seen.last == next - 1)
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
