import Testing

@testable import DecnetRuntime

@Suite struct ConnectionTrackerTests {
    @Test func perSourceAndGlobalCapsAndRelease() {
        let tracker = ConnectionTracker(limits: ConnectionLimits(maximumPerSource: 2, maximumConnections: 3))
        #expect(tracker.acquire("10.0.0.1") == nil)
        #expect(tracker.acquire("10.0.0.1") == nil)
        #expect(tracker.acquire("10.0.0.1") == "maximum_per_source")
        #expect(tracker.acquire("10.0.0.2") == nil)
        #expect(tracker.acquire("10.0.0.3") == "maximum_connections")
        tracker.release("10.0.0.1")
        #expect(tracker.open == 2)
        #expect(tracker.acquire("10.0.0.3") == nil)
        #expect(tracker.acquire("10.0.0.4") == "maximum_connections")
    }
}
