import DecnetAPI
import DecnetCore
import DecnetIntel
import DecnetStore
import DecnetTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `/webhooks` over a real SQLite store, delivering to a real HTTP receiver on loopback.
@Suite struct APIWebhookTests {
    @Test("Create (the secret shown once), list without secrets, signed test deliveries logged newest first, delete")
    func createListTestDelete() async throws {
        let receiver = try await HTTPReceiver(failures: 1)
        defer { receiver.stop() }
        let fixture = try await APIFixture()
        let store = fixture.store
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let schema = try await OpenAPIConformance(client, token: admin)
            let (status, answer) = try await client.send(
                .post,
                "/api/v1/webhooks",
                token: admin,
                json: ["name": "SOC <b>", "url": receiver.url, "topics": ["canary.>", "attacker.scored"]]
            )
            #expect(status == .created, "\(answer ?? "")")
            let created = try #require(answer as? [String: Any])
            schema.expect(created, matches: "CreatedWebhook")
            let uuid = try #require(created["uuid"] as? String)
            let secret = try #require(created["secret"] as? String)
            #expect(secret.hasPrefix("whsec_") && created["format"] as? String == "json")
            #expect(try await WebhookStore.all(store).map(\.secret) == [secret])

            let listed = try #require(try await client.get("/api/v1/webhooks", token: admin).1 as? [[String: Any]])
            schema.expect(listed, isArrayOf: "Webhook")
            #expect(listed.map { $0["uuid"] as? String } == [uuid])
            #expect(listed[0]["secret"] == nil && listed[0]["topics"] as? [String] == ["canary.>", "attacker.scored"])

            // The receiver answers 500 to the first POST, 200 after: one test each, no retry.
            let (failedStatus, failedBody) = try await client.send(.post, "/api/v1/webhooks/\(uuid)/test", token: admin)
            #expect(failedStatus == .ok)
            let failed = try #require(failedBody as? [String: Any])
            schema.expect(failed, matches: "WebhookTestResult")
            #expect(
                failed["delivered"] as? Bool == false && failed["status"] as? Int == 500 && failed["error"] is NSNull
            )
            let passed = try #require(
                try await client.send(.post, "/api/v1/webhooks/\(uuid)/test", token: admin).1 as? [String: Any]
            )
            #expect(passed["delivered"] as? Bool == true && passed["status"] as? Int == 200)
            let requests = receiver.requests
            #expect(requests.count == 2)
            // Signed as every delivery is: HMAC-SHA256 of id.timestamp.body with the secret shown at creation.
            let headers = try #require(requests.last?["headers"] as? [String: String])
            let body = try #require(requests.last?["body"] as? String)
            #expect(headers["webhook-id"] == passed["id"] as? String)
            let expected = WebhookDelivery.signature(
                secret: secret,
                id: headers["webhook-id"] ?? "",
                timestamp: headers["webhook-timestamp"] ?? "",
                body: Array(body.utf8)
            )
            #expect(headers["webhook-signature"] == "v1," + expected)
            let message = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            #expect(message["topic"] as? String == "system.webhook.test")
            #expect((message["payload"] as? [String: Any])?["by"] as? String == "admin")

            let log = try #require(
                try await client.get("/api/v1/webhooks/\(uuid)/deliveries", token: admin).1 as? [[String: Any]]
            )
            schema.expect(log, isArrayOf: "WebhookAttempt")
            #expect(log.map { $0["id"] as? String } == [passed["id"] as? String, failed["id"] as? String])
            #expect(log.map { $0["delivered"] as? Bool } == [true, false])
            #expect(log.map { $0["status"] as? Int } == [200, 500])
            #expect(log.allSatisfy { $0["subject"] as? String == "system.webhook.test" && $0["attempt"] as? Int == 1 })

            // Nobody listening: no status, the error says why, and it is logged too. (The client tries to connect
            // again until the 5 s deadline, so this answer takes that long.)
            let closed = "http://127.0.0.1:\(LoopbackPort.unused())/hook"
            let other = try #require(
                try await client.send(
                    .post,
                    "/api/v1/webhooks",
                    token: admin,
                    json: ["name": "chat", "url": closed, "topics": ["identity.>"], "format": "slack"]
                ).1 as? [String: Any]
            )
            let otherUUID = try #require(other["uuid"] as? String)
            let refused = try #require(
                try await client.send(.post, "/api/v1/webhooks/\(otherUUID)/test", token: admin).1 as? [String: Any]
            )
            schema.expect(refused, matches: "WebhookTestResult")
            #expect(refused["delivered"] as? Bool == false && refused["status"] is NSNull)
            #expect((refused["error"] as? String)?.isEmpty == false)
            let otherLog = try await client.get("/api/v1/webhooks/\(otherUUID)/deliveries", token: admin).1
            schema.expect(otherLog, isArrayOf: "WebhookAttempt")
            #expect((otherLog as? [[String: Any]])?.first?["status"] is NSNull)

            // Deleted: gone from the list, its log with it.
            #expect(try await client.send(.delete, "/api/v1/webhooks/\(otherUUID)", token: admin).0 == .noContent)
            #expect(try await client.send(.delete, "/api/v1/webhooks/\(otherUUID)", token: admin).0 == .notFound)
            #expect(try await client.get("/api/v1/webhooks/\(otherUUID)/deliveries", token: admin).0 == .notFound)
            #expect(try await WebhookStore.deliveries(otherUUID, in: store).isEmpty)
            let left = try await client.get("/api/v1/webhooks", token: admin).1 as? [[String: Any]]
            #expect(left?.map { $0["uuid"] as? String } == [uuid])
        }
    }

    @Test("Bad subscriptions are refused with the reason; unknown and malformed uuids; a viewer reads and cannot act")
    func refusalsAndRoles() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let admin = try await client.adminToken()
            for (body, reason) in [
                (["name": "x", "url": "ftp://example.com/", "topics": ["a.>"]], "url must be an http"),
                (["name": "x", "url": "http://example.com/", "topics": [String]()], "at least one topic"),
                (["name": "x", "url": "http://example.com/", "topics": ["a.>.b"]], "topic 'a.>.b'"),
                (["name": "x", "url": "http://example.com/", "topics": ["a.>"], "format": "xml"], "format must be"),
                (["name": " ", "url": "http://example.com/", "topics": ["a.>"]], "name must be"),
                (["url": "http://example.com/", "topics": ["a.>"]], "`name` not found"),
            ] as [([String: Any], String)] {
                let (status, answer) = try await client.send(.post, "/api/v1/webhooks", token: admin, json: body)
                let detail = (answer as? [String: Any])?["detail"] as? String ?? ""
                #expect(status == .badRequest && detail.contains(reason), "\(body): \(status) \(detail)")
            }
            #expect(try await WebhookStore.all(fixture.store).isEmpty)
            let missing = "00000000-0000-4000-8000-000000000001"
            #expect(try await client.send(.post, "/api/v1/webhooks/\(missing)/test", token: admin).0 == .notFound)
            #expect(try await client.get("/api/v1/webhooks/\(missing)/deliveries", token: admin).0 == .notFound)
            #expect(try await client.send(.delete, "/api/v1/webhooks/\(missing)", token: admin).0 == .notFound)
            #expect(try await client.get("/api/v1/webhooks/not%20a%20uuid/deliveries", token: admin).0 == .badRequest)

            let subscription = WebhookSubscription(name: "SIEM", url: "http://192.0.2.1/hook", topics: ["attacker.>"])
            try await WebhookStore.save(subscription, in: fixture.store)
            let viewer = try await client.viewerToken(admin: admin)
            #expect(try await client.get("/api/v1/webhooks", token: viewer).0 == .forbidden, "URLs are credentials")
            let listed = try await client.get("/api/v1/webhooks", token: admin)
            #expect(listed.0 == .ok && (listed.1 as? [[String: Any]])?.first?["secret"] == nil)
            #expect(try await client.get("/api/v1/webhooks/\(subscription.uuid)/deliveries", token: viewer).0 == .ok)
            let create = ["name": "y", "url": "http://example.com/", "topics": ["a.>"]] as [String: Any]
            #expect(try await client.send(.post, "/api/v1/webhooks", token: viewer, json: create).0 == .forbidden)
            #expect(
                try await client.send(.post, "/api/v1/webhooks/\(subscription.uuid)/test", token: viewer).0
                    == .forbidden
            )
            #expect(
                try await client.send(.delete, "/api/v1/webhooks/\(subscription.uuid)", token: viewer).0 == .forbidden
            )
            #expect(try await WebhookStore.all(fixture.store).map(\.uuid) == [subscription.uuid])
            #expect(try await WebhookStore.deliveries(subscription.uuid, in: fixture.store).isEmpty)
        }
    }
}
