import DecnetCore
import DecnetRuntime
import Testing

/// The bus's queues: wildcard subscribers get what matches, a slow subscriber loses (and counts) what its queue
/// cannot hold, and neither the publisher nor the other subscribers wait for it.
@Suite struct MessageBusTests {
    @Test func aSlowSubscriberNeverSlowsThePublisherOrTheOthers() async throws {
        let bus = MessageBus()
        let everything = bus.subscribe(try Subject.pattern(">"), capacity: 20_000)
        let sessions = bus.subscribe(try Subject.pattern("attacker.session.*"), capacity: 20_000)
        let states = bus.subscribe(try Subject.pattern("decky.*.state"), capacity: 20_000)
        // Never reads.
        let slow = bus.subscribe(try Subject.pattern("attacker.>"), capacity: 100)
        let subjects = try [
            "attacker.observed", "attacker.session.started", "decky.web-01.state", "credential.captured",
        ]
        .map(Subject.init)
        for index in 0..<10_000 {
            bus.publish(BusMessage(subject: subjects[index % 4], payload: Array("\(index)".utf8)))
        }
        func drain(_ subscription: MessageBus.Subscription, expecting count: Int) async -> [BusMessage] {
            var received: [BusMessage] = []
            for await message in subscription.messages {
                received.append(message)
                if received.count == count { break }
            }
            return received
        }
        #expect(await drain(everything, expecting: 10_000).count == 10_000)
        let started = await drain(sessions, expecting: 2_500)
        #expect(started.allSatisfy { $0.subject.text == "attacker.session.started" })
        #expect(await drain(states, expecting: 2_500).allSatisfy { $0.subject.text == "decky.web-01.state" })
        // The slow one kept the oldest 100 of its 5,000 and lost the rest, counted.
        #expect(bus.dropped(for: slow.id) == 4_900)
        let statistics = bus.statistics
        #expect(statistics.published == 10_000 && statistics.dropped == 4_900)
        #expect(statistics.delivered == 10_000 + 2_500 + 2_500 + 100)
        let kept = await drain(slow, expecting: 100)
        #expect(kept.first?.payload == Array("0".utf8) && kept.count == 100)
        bus.unsubscribe(slow.id)
        #expect(bus.statistics.subscriptions == 3)
    }
}
