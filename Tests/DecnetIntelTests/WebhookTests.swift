import DecnetCore
import DecnetStore
import DecnetTesting
import Foundation
import Testing

@testable import DecnetIntel

/// Webhook deliveries against a real HTTP receiver (Python's http.server on loopback): signed as Standard Webhooks
/// sign (checked by Python's own HMAC), retried until a failing receiver takes them with the same id, and never
/// holding up the others while one receiver is down.
@Suite struct WebhookTests {
    static func store(_ directory: TemporaryDirectory) async throws -> SQLiteEventStore {
        let store = try SQLiteEventStore(path: directory.path + "/decnet.db")
        try await store.migrate()
        return store
    }

    /// Decky and severity filters read the bus payload: a subscription for alerts on one decky gets that decky's
    /// canary triggers and nothing else; a bad severity is refused.
    @Test func deckyAndSeverityFiltersReadThePayload() throws {
        var subscription = WebhookSubscription(name: "soc", url: "http://127.0.0.1:1/x", topics: [">"])
        subscription.deckies = ["web-01"]
        subscription.severity = 4
        func event(_ type: EventID, _ decky: String) -> [UInt8] {
            Array(#"{"decky":"\#(decky)","event_type":"\#(type.rawValue)","fields":{}}"#.utf8)
        }
        #expect(subscription.passes(event(.canaryTriggered, "web-01")))
        #expect(subscription.passes(event(.clientMalformed, "web-01")), "severity 4, a warning")
        #expect(!subscription.passes(event(.loginFailed, "web-01")), "severity 5 is below the filter")
        #expect(!subscription.passes(event(.canaryTriggered, "db-01")), "another decky")
        #expect(!subscription.passes(Array(#"{"ip":"10.0.0.1","score":80}"#.utf8)), "not an event")
        #expect(!subscription.passes(Array("not json".utf8)))
        #expect(WebhookSubscription(name: "all", url: "http://127.0.0.1:1/x", topics: [">"]).passes(Array("x".utf8)))
        subscription.severity = 9
        #expect(throws: WebhookSubscription.Invalid.self) { try subscription.validate() }
    }

    @Test func aDeliveryIsSignedOverItsIdTimeAndBody() async throws {
        let subscription = WebhookSubscription(name: "soc", url: "http://127.0.0.1:1/x", topics: ["attacker.>"])
        try subscription.validate()
        let time = Date(timeIntervalSince1970: 1_795_000_000)
        let delivery = WebhookDelivery(
            subscription: subscription,
            subject: "attacker.scored",
            payload: Array(#"{"attacker_ip":"10.0.0.9","score":55}"#.utf8),
            id: "msg_1",
            time: time
        )
        let headers = Dictionary(delivery.headers, uniquingKeysWith: { first, _ in first })
        #expect(headers["webhook-id"] == "msg_1" && headers["webhook-timestamp"] == "1795000000")
        let body = String(decoding: delivery.body, as: UTF8.self)
        #expect(
            body
                == #"{"id":"msg_1","payload":{"attacker_ip":"10.0.0.9","score":55},"topic":"attacker.scored","ts":"2026-11-18T11:06:40.000000Z","v":1}"#
        )
        // Python's HMAC over the same bytes.
        let checked = try await ProcessRunner.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import base64,hmac,hashlib,sys; key=base64.b64decode(sys.argv[1][6:]); print(base64.b64encode(hmac.new(key, (sys.argv[2]+'.'+sys.argv[3]+'.'+sys.argv[4]).encode(), hashlib.sha256).digest()).decode())",
                subscription.secret, "msg_1", "1795000000", body,
            ]
        )
        #expect(
            headers["webhook-signature"] == "v1,"
                + checked.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        )
        // Chat formats: one readable line, an attacker's markup shown as text.
        var slack = subscription
        slack.format = .slack
        let hostile = WebhookDelivery(
            subscription: slack,
            subject: "ttp.rule.fired.T1105",
            payload: Array(
                #"{"attacker_ip":"10.0.0.9","technique":"T1105","evidence":"wget <@everyone> http://x"}"#.utf8
            ),
            id: "msg_2",
            time: time
        )
        let text = try #require(
            (try JSONSerialization.jsonObject(with: Data(hostile.body)) as? [String: Any])?["text"] as? String
        )
        #expect(text.hasPrefix("DECNET ttp.rule.fired.T1105: attacker_ip=10.0.0.9 technique=T1105"))
        #expect(!text.contains("<") && !text.contains("@everyone"))
        #expect(throws: WebhookSubscription.Invalid.self) {
            try WebhookSubscription(name: "x", url: "file:///etc/passwd", topics: ["a.>"]).validate()
        }
        #expect(throws: WebhookSubscription.Invalid.self) {
            try WebhookSubscription(name: "x", url: "http://h/", topics: ["a.>.b"]).validate()
        }
        #expect(subscription.wants("attacker.scored") && !subscription.wants("identity.formed"))
    }

    /// A receiver that fails three times gets the delivery on the fourth try, with the same id; another whose
    /// receiver is down does not hold it up; a filtered-out subject goes nowhere.
    @Test func failingReceiversGetTheDeliveryLaterAndHoldNothingUp() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await Self.store(directory)
        let receiver = try await HTTPReceiver(failures: 3)
        defer { receiver.stop() }
        let good = WebhookSubscription(name: "soc", url: receiver.url, topics: ["attacker.scored", "ttp.rule.fired.*"])
        let down = WebhookSubscription(name: "down", url: "http://127.0.0.1:9/hook", topics: ["attacker.>"])
        try await WebhookStore.save(good, in: store)
        try await WebhookStore.save(down, in: store)
        let dispatcher = WebhookDispatcher(
            store: store,
            retryDelays: Array(repeating: .milliseconds(100), count: 5),
            timeout: .seconds(5)
        )
        let running = Task { await dispatcher.run() }
        defer { running.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        dispatcher.offer(subject: "identity.formed", payload: Array(#"{"identity_uuid":"x"}"#.utf8))
        dispatcher.offer(subject: "attacker.scored", payload: Array(#"{"attacker_ip":"10.0.0.9","score":40}"#.utf8))
        var delivered = false
        for _ in 0..<100 where !delivered {
            try await Task.sleep(for: .milliseconds(100))
            delivered = await dispatcher.log.contains { $0.subscription == good.uuid && $0.delivered }
        }
        #expect(delivered)
        let requests = receiver.requests
        #expect(requests.count == 4, "\(requests.count)")
        let ids = Set(requests.compactMap { ($0["headers"] as? [String: String])?["webhook-id"] })
        #expect(ids.count == 1, "every retry carries the same id")
        #expect(requests.allSatisfy { ($0["body"] as? String)?.contains("\"topic\":\"attacker.scored\"") == true })
        let log = await dispatcher.log
        #expect(log.filter { $0.subscription == good.uuid }.map(\.status) == [500, 500, 500, 200])
        // The receiver that is down is still being tried (a connection that is refused is tried again until the
        // request's time is up): it held nothing up. Its attempt is logged with the error once it ends.
        var failed = false
        for _ in 0..<150 where !failed {
            failed = await dispatcher.log.contains {
                $0.subscription == down.uuid && $0.status == nil && $0.error != nil
            }
            if !failed { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(failed)
        await dispatcher.stop()
    }
}
