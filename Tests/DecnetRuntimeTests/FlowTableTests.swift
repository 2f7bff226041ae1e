import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Testing

@testable import DecnetRuntime

/// The UDP listener's per-source flows: bounded, swept for idle flows at most once per interval, and a full table
/// makes room in one pass.
@Suite struct FlowTableTests {
    static let context = ServiceContext(decky: "d", hostname: "h", service: "tftp", persona: [:], sink: EventCapture())

    static func admit(_ table: FlowTable, port: Int, at now: ContinuousClock.Instant) -> Bool {
        let source = Endpoint(ip: "10.0.0.9", port: port)
        return table.admit(source: source, at: now) {
            SessionEvents(context: Self.context, source: source, destination: Endpoint(ip: "10.0.0.1", port: 69))
        }.2
    }

    @Test func aFullTableDropsItsOldestEighthAtOnce() {
        let table = FlowTable(limits: UDPLimits(maximumFlows: 16))
        let start = ContinuousClock.now
        for port in 0..<16 { #expect(Self.admit(table, port: port, at: start + .milliseconds(port))) }
        #expect(table.active == 16)
        // The seventeenth source: the two oldest go (ports 0 and 1), the newcomer stays.
        #expect(Self.admit(table, port: 100, at: start + .seconds(1)))
        #expect(table.active == 15)
        #expect(!Self.admit(table, port: 2, at: start + .seconds(1)), "port 2 was kept: not a new flow")
        #expect(Self.admit(table, port: 0, at: start + .seconds(1)), "port 0 was dropped: a new flow")
        #expect(table.total == 18)
    }

    /// A burst read in one pass can stamp many flows with one instant: a full table still drops its eighth, not
    /// every flow heard at that instant.
    @Test func flowsHeardAtOneInstantAreDroppedByCount() {
        let table = FlowTable(limits: UDPLimits(maximumFlows: 16))
        let now = ContinuousClock.now
        for port in 0..<16 { #expect(Self.admit(table, port: port, at: now)) }
        #expect(Self.admit(table, port: 100, at: now))
        #expect(table.active == 15)
        #expect(Self.admit(table, port: 101, at: now))
        #expect(table.active == 16)
    }

    /// A known source's bucket is drawn down and refilled in place: its burst, then its rate.
    @Test func aKnownSourceSpendsItsBurstThenItsRate() {
        let table = FlowTable(limits: UDPLimits(datagramsPerSecond: 2, burst: 3))
        let start = ContinuousClock.now
        let source = Endpoint(ip: "10.0.0.9", port: 7)
        func allowed(at instant: ContinuousClock.Instant) -> Bool {
            table.admit(source: source, at: instant) {
                SessionEvents(context: Self.context, source: source, destination: Endpoint(ip: "10.0.0.1", port: 69))
            }.1
        }
        #expect((0..<4).map { _ in allowed(at: start) } == [true, true, true, false])
        // Half a second at 2 a second buys one more.
        #expect(allowed(at: start + .milliseconds(500)))
        #expect(!allowed(at: start + .milliseconds(500)))
        #expect(table.active == 1 && table.total == 1)
    }

    @Test func idleFlowsAreSweptAtMostOncePerInterval() {
        let table = FlowTable(limits: UDPLimits(flowIdleTimeout: .seconds(10)))
        let start = ContinuousClock.now
        _ = Self.admit(table, port: 1, at: start)
        _ = Self.admit(table, port: 2, at: start + .seconds(5))
        // A sweep at 9.5 s: nothing idle for 10 s yet. The next is due at 10.5 s.
        #expect(table.expire(at: start + .milliseconds(9_500)).isEmpty)
        // At 10.2 s port 1 has been idle past 10 s, but no sweep is due; at 10.6 s one is.
        #expect(table.expire(at: start + .milliseconds(10_200)).isEmpty)
        #expect(table.active == 2)
        #expect(table.expire(at: start + .milliseconds(10_600)).map(\.source.port) == [1])
        #expect(table.expire(at: start + .milliseconds(15_700)).map(\.source.port) == [2])
        #expect(table.active == 0)
    }
}
