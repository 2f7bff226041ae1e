import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation

/// `decnet webhook list|create|delete|test`: the subscriptions the profiler's process delivers bus messages to.
struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Manage alert webhooks (bus messages delivered to HTTP receivers, signed).",
        discussion:
            "Deliveries run in the profiler's process (decnet profiler start, or DECNET_EMBED_PROFILER in decnet api/web); they read the subscriptions again every 5 s.",
        subcommands: [List.self, Create.self, Delete.self, Test.self, Deliveries.self]
    )

    static func store() async throws -> any EventStore {
        let environment = try await EnvironmentLoading.load()
        let store = try StoreOpening.open(environment, pageCacheBytes: 8 << 20)
        try await store.migrate()
        return store
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the subscriptions (secrets left out).")
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            var uuid, name, url, format: String
            var topics: [String]
            var enabled: Bool
        }

        func run() async throws {
            let subscriptions = try await WebhookStore.all(try await WebhookCommand.store())
            let rows = subscriptions.map {
                Row(
                    uuid: $0.uuid,
                    name: $0.name,
                    url: $0.url,
                    format: $0.format.rawValue,
                    topics: $0.topics,
                    enabled: $0.enabled
                )
            }
            if self.json { return try JSONOutput.print(rows) }
            var table = TextTable("UUID", "Name", "Format", "Topics", "URL")
            for row in rows { table.add(row.uuid, row.name, row.format, row.topics.joined(separator: " "), row.url) }
            print(table.render())
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a subscription; prints its uuid and signing secret."
        )
        @Option(help: "A name for people.") var name: String
        @Option(help: "The receiver (http:// or https://).") var url: String
        @Option(help: "Subject pattern to deliver (repeatable): attacker.scored, identity.>, ttp.rule.fired.*")
        var topic: [String] = []
        @Option(help: "json (DECNET's own), slack, discord or teams.") var format: String = "json"
        @Option(help: "Only messages about this decky (repeatable).") var decky: [String] = []
        @Option(
            help:
                "Only events of this syslog severity or worse: 1 alert (canary triggers), 4 warning, 5 notice (logins)."
        ) var severity: Int?

        func run() async throws {
            guard let format = WebhookSubscription.Format(rawValue: self.format) else {
                throw CommandFailure("--format must be json, slack, discord or teams", exitCode: .validationFailure)
            }
            var subscription = WebhookSubscription(name: self.name, url: self.url, format: format, topics: self.topic)
            subscription.deckies = self.decky.isEmpty ? nil : self.decky
            subscription.severity = self.severity
            do {
                try await WebhookStore.save(subscription, in: try await WebhookCommand.store())
            } catch let invalid as WebhookSubscription.Invalid {
                throw CommandFailure(invalid.description, exitCode: .validationFailure)
            }
            print(
                "webhook \(subscription.uuid) created: \(subscription.topics.joined(separator: " ")) → \(subscription.url)"
            )
            print("secret: \(subscription.secret)")
            print(
                "(deliveries carry webhook-id, webhook-timestamp and webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>)"
            )
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a subscription.")
        @Argument(help: "The subscription's uuid.") var uuid: String

        func run() async throws {
            guard try await WebhookStore.delete(self.uuid.lowercased(), in: try await WebhookCommand.store()) else {
                throw CommandFailure("no webhook \(self.uuid)")
            }
            print("webhook \(self.uuid) deleted")
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send one signed test delivery now (no retries).")
        @Argument(help: "The subscription's uuid.") var uuid: String

        func run() async throws {
            let store = try await WebhookCommand.store()
            let subscriptions = try await WebhookStore.all(store)
            guard let subscription = subscriptions.first(where: { $0.uuid == self.uuid.lowercased() }) else {
                throw CommandFailure("no webhook \(self.uuid)")
            }
            let attempt = try await WebhookDispatcher.test(
                subscription,
                detail: ["detail": "a test delivery from decnet webhook test"],
                in: store,
                timeout: .seconds(10)
            )
            if attempt.delivered, let status = attempt.status {
                print("delivered \(attempt.id) to \(subscription.url): HTTP \(status)")
            } else {
                throw CommandFailure(
                    "not delivered to \(subscription.url): \(attempt.status.map { "HTTP \($0)" } ?? attempt.error ?? "no answer")"
                )
            }
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A subscription's delivery log: its latest attempts, newest first."
        )
        @Argument(help: "The subscription's uuid.") var uuid: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try await WebhookCommand.store()
            guard try await WebhookStore.all(store).contains(where: { $0.uuid == self.uuid.lowercased() }) else {
                throw CommandFailure("no webhook \(self.uuid)")
            }
            let attempts = try await WebhookStore.deliveries(self.uuid.lowercased(), in: store)
            if self.json { return try JSONOutput.print(attempts) }
            var table = TextTable("Time", "Delivery", "Subject", "Attempt", "Result")
            for attempt in attempts {
                table.add(
                    RFC5424Formatter.timestamp(attempt.time),
                    attempt.id,
                    attempt.subject,
                    String(attempt.attempt),
                    attempt.delivered
                        ? "delivered (HTTP \(attempt.status ?? 0))"
                        : attempt.status.map { "HTTP \($0)" } ?? attempt.error ?? "no answer"
                )
            }
            print(table.render())
        }
    }
}
