import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/webhooks`: the subscriptions the profiler's process delivers bus messages to (`decnet webhook …`), a
    /// signed test delivery on demand, and each subscription's delivery log. Secrets are shown once, at creation.
    func addWebhooks(to group: RouterGroup<APIRequestContext>) {
        // Admins only: a chat service's incoming-webhook URL is itself a credential.
        group.get("webhooks") { _, context -> [WebhookBody] in
            _ = try context.requireAdmin()
            return try await WebhookStore.all(self.store).map(WebhookBody.init)
        }
        group.post("webhooks") { request, context -> EditedResponse<CreatedWebhookBody> in
            _ = try context.requireAdmin()
            let body = try await request.decode(as: NewWebhookRequest.self, context: context)
            guard let format = WebhookSubscription.Format(rawValue: body.format ?? "json") else {
                throw APIError.badRequest("format must be json, slack, discord or teams")
            }
            let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 200 else {
                throw APIError.badRequest("name must be 1 to 200 characters")
            }
            guard body.topics.count <= 32, body.url.utf8.count <= 2048 else {
                throw APIError.badRequest("at most 32 topics and a URL of at most 2048 bytes")
            }
            let subscription = WebhookSubscription(name: name, url: body.url, format: format, topics: body.topics)
            do {
                try await WebhookStore.save(subscription, in: self.store)
            } catch let invalid as WebhookSubscription.Invalid {
                throw APIError.badRequest(invalid.description)
            }
            return EditedResponse(status: .created, response: CreatedWebhookBody(subscription))
        }
        group.delete("webhooks/:uuid") { _, context -> Response in
            _ = try context.requireAdmin()
            let uuid = try Self.uuid(context)
            guard try await WebhookStore.delete(uuid, in: self.store) else {
                throw APIError.notFound("no webhook \(uuid)")
            }
            return Response(status: .noContent)
        }
        group.post("webhooks/:uuid/test") { _, context -> WebhookTestBody in
            let user = try context.requireAdmin()
            let subscription = try await self.webhook(try Self.uuid(context))
            return try await self.testDelivery(subscription, by: user.username)
        }
        group.get("webhooks/:uuid/deliveries") { _, context -> [WebhookAttemptBody] in
            let subscription = try await self.webhook(try Self.uuid(context))
            return try await WebhookStore.deliveries(subscription.uuid, in: self.store).map(WebhookAttemptBody.init)
        }
    }

    /// The subscription with this uuid, or 404.
    func webhook(_ uuid: String) async throws -> WebhookSubscription {
        guard let subscription = try await WebhookStore.all(self.store).first(where: { $0.uuid == uuid }) else {
            throw APIError.notFound("no webhook \(uuid)")
        }
        return subscription
    }

    /// One signed delivery of `system.webhook.test` now, as `decnet webhook test` sends it (no retries), recorded
    /// in the subscription's delivery log. Someone waits for the answer, so the receiver has 5 s (the CLI gives
    /// it 10): the HTTP client tries a refused connection again until then, so an absent receiver takes that long.
    func testDelivery(_ subscription: WebhookSubscription, by username: String) async throws -> WebhookTestBody {
        let attempt = try await WebhookDispatcher.test(
            subscription,
            detail: ["detail": "a test delivery from the DECNET API", "by": username],
            in: self.store,
            timeout: .seconds(5)
        )
        return WebhookTestBody(
            delivered: attempt.delivered,
            status: attempt.status,
            error: attempt.error,
            id: attempt.id
        )
    }
}
