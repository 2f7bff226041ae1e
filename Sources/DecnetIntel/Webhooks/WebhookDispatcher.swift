import AsyncHTTPClient
import DecnetCore
import DecnetStore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Delivers bus messages to the webhook subscriptions that want them: one queue and one sender per subscription,
/// so a receiver that is down delays only its own deliveries, never the bus or the others. A delivery that fails
/// (no connection, a timeout, 5xx, 429) is tried again after 1, 2, 4, 8 and 16 s (the same id each time); a 4xx
/// other than 429 is final. Every attempt goes to the delivery log, kept in the store per subscription (its
/// latest `WebhookStore.logLimit` attempts), so the API, the dashboard and a restarted process see it.
public actor WebhookDispatcher {
    public struct Attempt: Sendable, Codable, Equatable {
        public var subscription: String
        public var id: String
        public var subject: String
        public var attempt: Int
        /// The HTTP status, or nil when there was no answer.
        public var status: Int?
        public var error: String?
        public var time: Date
        public var delivered: Bool

        public init(
            subscription: String,
            id: String,
            subject: String,
            attempt: Int,
            status: Int?,
            error: String?,
            time: Date,
            delivered: Bool
        ) {
            self.subscription = subscription
            self.id = id
            self.subject = subject
            self.attempt = attempt
            self.status = status
            self.error = error
            self.time = time
            self.delivered = delivered
        }
    }

    struct Message: Sendable {
        let subject: String
        let payload: [UInt8]
        let id: String
        let time: Date
    }

    let store: any EventStore
    let retryDelays: [Duration]
    let timeout: Duration
    private var senders: [String: Sender] = [:]

    struct Sender {
        let subscription: WebhookSubscription
        /// Its topics, parsed once.
        let patterns: [Subject]
        let queue: AsyncStream<Message>.Continuation
        let task: Task<Void, Never>
    }

    /// Whether any subscription is enabled: the host listens to the bus only then (every message of a busy fleet
    /// is a lot to read for nobody).
    public nonisolated var isActive: Bool { self.active.withLock { $0 } }
    private let active = Mutex(false)
    private var subscriptions: [WebhookSubscription] = []
    public private(set) var log: [Attempt] = []
    private let inbox: AsyncStream<Message>
    private let inboxContinuation: AsyncStream<Message>.Continuation

    /// Messages waiting per subscription, at most (the oldest are dropped past it, and counted).
    public static let queueLimit = 10_000
    public static let logLimit = 1_000

    public init(
        store: any EventStore,
        retryDelays: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16)],
        timeout: Duration = .seconds(10)
    ) {
        self.store = store
        self.retryDelays = retryDelays
        self.timeout = timeout
        (self.inbox, self.inboxContinuation) = AsyncStream.makeStream(
            bufferingPolicy: .bufferingNewest(Self.queueLimit)
        )
    }

    /// A bus message (never waits: the message is queued).
    public nonisolated func offer(subject: String, payload: [UInt8]) {
        self.inboxContinuation.yield(
            Message(subject: subject, payload: payload, id: "msg_" + UUID().uuidString.lowercased(), time: Date())
        )
    }

    /// Reads the subscriptions again: new ones get a sender, removed or changed ones lose theirs.
    public func reload() async throws {
        let current = try await WebhookStore.all(self.store)
        self.subscriptions = current
        let wanted = Dictionary(
            current.filter(\.enabled).map { ($0.uuid, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        for (uuid, sender) in self.senders where wanted[uuid] != sender.subscription {
            sender.queue.finish()
            self.senders[uuid] = nil
        }
        for (uuid, subscription) in wanted where self.senders[uuid] == nil {
            let (stream, continuation) = AsyncStream<Message>.makeStream(
                bufferingPolicy: .bufferingNewest(Self.queueLimit)
            )
            let task = Task { await self.send(stream, to: subscription) }
            self.senders[uuid] = Sender(
                subscription: subscription,
                patterns: subscription.topics.compactMap { try? Subject.pattern($0) },
                queue: continuation,
                task: task
            )
        }
        let active = !self.senders.isEmpty
        self.active.withLock { $0 = active }
    }

    /// Routes offered messages to the senders, and reads the subscriptions again every `reloadEvery`, until
    /// cancelled.
    public func run(reloadEvery: Duration = .seconds(5)) async {
        try? await self.reload()
        let reloading = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: reloadEvery)
                try? await self.reload()
            }
        }
        defer { reloading.cancel() }
        for await message in self.inbox {
            guard let subject = try? Subject(message.subject) else { continue }
            for sender in self.senders.values where sender.patterns.contains(where: { $0.matches(subject) }) {
                if sender.subscription.passes(message.payload) { sender.queue.yield(message) }
            }
        }
    }

    public func stop() {
        self.inboxContinuation.finish()
        for sender in self.senders.values { sender.queue.finish() }
    }

    private func send(_ stream: AsyncStream<Message>, to subscription: WebhookSubscription) async {
        for await message in stream {
            let delivery = WebhookDelivery(
                subscription: subscription,
                subject: message.subject,
                payload: message.payload,
                id: message.id,
                time: message.time
            )
            var attempt = 0
            while !Task.isCancelled {
                attempt += 1
                let (status, error) = await Self.post(delivery, to: subscription.url, timeout: self.timeout)
                let delivered = status.map { (200..<300).contains($0) } ?? false
                await self.record(
                    Attempt(
                        subscription: subscription.uuid,
                        id: delivery.id,
                        subject: delivery.subject,
                        attempt: attempt,
                        status: status,
                        error: error,
                        time: Date(),
                        delivered: delivered
                    )
                )
                let final = delivered || (status.map { (400..<500).contains($0) && $0 != 429 } ?? false)
                if final || attempt > self.retryDelays.count { break }
                try? await Task.sleep(for: self.retryDelays[attempt - 1])
            }
        }
    }

    private func record(_ attempt: Attempt) async {
        self.log.append(attempt)
        if self.log.count > Self.logLimit { self.log.removeFirst(self.log.count - Self.logLimit) }
        do {
            try await WebhookStore.append(attempt, in: self.store)
        } catch {
            FileHandle.standardError.write(Data("webhooks: the delivery log was not written: \(error)\n".utf8))
        }
    }

    /// One signed delivery of `system.webhook.test` now (no retries), recorded in the subscription's delivery
    /// log: what `decnet webhook test`, the API and the dashboard's test button send.
    public static func test(
        _ subscription: WebhookSubscription,
        detail: [String: String],
        in store: any EventStore,
        timeout: Duration
    ) async throws -> Attempt {
        let payload = try JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys])
        let delivery = WebhookDelivery(
            subscription: subscription,
            subject: "system.webhook.test",
            payload: Array(payload),
            id: "msg_" + UUID().uuidString.lowercased(),
            time: Date()
        )
        let (status, error) = await Self.post(delivery, to: subscription.url, timeout: timeout)
        let attempt = Attempt(
            subscription: subscription.uuid,
            id: delivery.id,
            subject: delivery.subject,
            attempt: 1,
            status: status,
            error: error,
            time: Date(),
            delivered: status.map { (200..<300).contains($0) } ?? false
        )
        try await WebhookStore.append(attempt, in: store)
        return attempt
    }

    /// One POST; the status, or the error when there was no answer.
    public static func post(_ delivery: WebhookDelivery, to url: String, timeout: Duration) async -> (Int?, String?) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in delivery.headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: delivery.body))
        do {
            let seconds = Int64(timeout.components.seconds)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(max(1, seconds)))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (Int(response.status.code), nil)
        } catch {
            return (nil, String(describing: error).prefix(300).description)
        }
    }
}
