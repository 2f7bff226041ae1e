import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Fault injection on the service bus (issue 25): the broker SIGKILLed under running workers and started again.
/// The store is what acknowledges an event, and it loses nothing while the bus is gone; the bus is at-most-once,
/// as NATS core is, and the workers' publisher finds the new broker by itself.
@Suite struct BusFaultTests {
    @Test func theBrokerKilledUnderRunningWorkersComesBackAndTheStoreLosesNothing() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { BusCommandTests.killBus(directory) }
        let log = directory.path + "/decnet.log"
        let database = directory.path + "/decnet.db"
        let environment = IngestCrashTests.environment(directory).merging(["DECNET_INGEST_LOG_FILE": log]) { $1 }
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        try await BusCommandTests.startBus(binary, [], environment: environment)
        let workers = try StoreFaultTests.startWorkers(binary, log: log, in: directory)
        defer { if workers.isRunning { kill(workers.processIdentifier, SIGKILL) } }

        // Before: ten events, seen on the bus and stored.
        let before = try BusCommandTests.subscriber(
            binary,
            ["credential.captured", "--count", "10"],
            environment: environment,
            output: directory.path + "/before.out"
        )
        try await BusCommandTests.waitForSubscribers(["credential.captured"], binary, environment)
        try StoreFaultTests.append(0..<10, to: log)
        try await BusCommandTests.waitForExit(before)
        let seenBefore = try String(contentsOfFile: directory.path + "/before.out", encoding: .utf8)
        #expect(seenBefore.split(separator: "\n").count == 10, "\(seenBefore)")

        // The broker is killed; events go on, and the store takes every one.
        let pidText = try String(contentsOfFile: directory.path + "/decnet-bus.pid", encoding: .utf8)
        let broker = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(broker, SIGKILL) == 0)
        try await Task.sleep(for: .milliseconds(200))
        try StoreFaultTests.append(10..<20, to: log)
        #expect(try await StoreFaultTests.stored(database, want: 20) == 20)
        #expect(workers.isRunning, "the workers exited with the broker")

        // A new broker: the workers' publisher reconnects by itself, and what they store reaches subscribers again.
        try await BusCommandTests.startBus(binary, [], environment: environment)
        let after = try BusCommandTests.subscriber(
            binary,
            ["credential.captured", "--count", "1"],
            environment: environment,
            output: directory.path + "/after.out"
        )
        defer { if after.isRunning { kill(after.processIdentifier, SIGKILL) } }
        try await BusCommandTests.waitForSubscribers(["credential.captured"], binary, environment)
        var next = 20
        for _ in 0..<60 where after.isRunning {
            try StoreFaultTests.append(next..<next + 5, to: log)
            next += 5
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(!after.isRunning, "nothing reached the new broker's subscriber in 30 s")
        let seenAfter = try String(contentsOfFile: directory.path + "/after.out", encoding: .utf8)
        #expect(seenAfter.hasPrefix("credential.captured {"), "\(seenAfter)")
        #expect(try await StoreFaultTests.stored(database, want: next) == next)
        #expect(workers.isRunning)
        #expect(await StoreFaultTests.stop(workers) == 0)
    }
}
