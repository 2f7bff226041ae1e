import Synchronization
import Testing

@testable import DecnetRuntime

@Suite struct ConnectionTrackerTests {
    @Test func perSourceAndGlobalCapsAndRelease() {
        let tracker = ConnectionTracker(limits: ConnectionLimits(maximumPerSource: 2, maximumConnections: 3))
        #expect(tracker.acquire("10.0.0.1") == .admitted(slot: 0))
        #expect(tracker.acquire("10.0.0.1") == .admitted(slot: 1))
        #expect(tracker.acquire("10.0.0.1") == .refused(limit: "maximum_per_source"))
        #expect(tracker.acquire("10.0.0.2") == .admitted(slot: 2))
        #expect(tracker.release("10.0.0.1", slot: 0) == false)
        #expect(tracker.open == 2)
        #expect(tracker.acquire("10.0.0.3") == .admitted(slot: 3))
        // Full, and no source holds more than a newcomer would after admission (1 against 0 + 1): refused.
        #expect(tracker.acquire("10.0.0.4") == .refused(limit: "maximum_connections"))
        #expect(tracker.open == 3)
    }

    @Test func aFullListenerEvictsTheOldestConnectionOfTheHeaviestSource() {
        let closed = Mutex<[Int]>([])
        let tracker = ConnectionTracker(limits: ConnectionLimits(maximumPerSource: 10, maximumConnections: 4))
        for index in 0..<3 {
            #expect(
                tracker.acquire("10.0.0.9", close: { closed.withLock { $0.append(index) } }) == .admitted(slot: index)
            )
        }
        #expect(tracker.acquire("10.0.0.8", close: { closed.withLock { $0.append(3) } }) == .admitted(slot: 3))
        // Full: the newcomer gets the slot of 10.0.0.9's oldest connection, which is closed.
        #expect(tracker.acquire("10.0.0.1") == .admitted(slot: 4))
        #expect(closed.withLock { $0 } == [0])
        #expect(tracker.open == 4)
        // The evicted connection's own release hands nothing back twice.
        #expect(tracker.release("10.0.0.9", slot: 0) == true)
        #expect(tracker.open == 4)
        // 10.0.0.9 now holds 2, a newcomer would hold 1: one more eviction, its next oldest.
        #expect(tracker.acquire("10.0.0.2") == .admitted(slot: 5))
        #expect(closed.withLock { $0 } == [0, 1])
        // Every source now holds 1 (10.0.0.9, .8, .1, .2): nobody is heavier than a newcomer, so it is refused.
        #expect(tracker.acquire("10.0.0.3") == .refused(limit: "maximum_connections"))
        #expect(tracker.release("10.0.0.8", slot: 3) == false)
        #expect(tracker.open == 3)
        #expect(tracker.accepted == 6)
    }
}
