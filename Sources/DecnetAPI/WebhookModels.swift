import DecnetIntel
import Foundation
import Hummingbird

// The bodies of `/webhooks`; as in CanaryModels.swift, absent values are written as `null`, never left out.

/// A webhook subscription without its secret.
struct WebhookBody: Codable, Sendable, ResponseEncodable {
    var uuid: String
    var name: String
    var url: String
    var format: String
    var topics: [String]
    var enabled: Bool
    var created: Date

    init(_ subscription: WebhookSubscription) {
        self.uuid = subscription.uuid
        self.name = subscription.name
        self.url = subscription.url
        self.format = subscription.format.rawValue
        self.topics = subscription.topics
        self.enabled = subscription.enabled
        self.created = subscription.created
    }
}

/// `POST /webhooks`' answer: the subscription with its signing secret, shown this once.
struct CreatedWebhookBody: Codable, ResponseEncodable {
    var uuid: String
    var name: String
    var url: String
    var format: String
    var topics: [String]
    var enabled: Bool
    var created: Date
    var secret: String

    init(_ subscription: WebhookSubscription) {
        let body = WebhookBody(subscription)
        self.uuid = body.uuid
        self.name = body.name
        self.url = body.url
        self.format = body.format
        self.topics = body.topics
        self.enabled = body.enabled
        self.created = body.created
        self.secret = subscription.secret
    }
}

/// `POST /webhooks`: what `decnet webhook create` takes.
struct NewWebhookRequest: Codable {
    var name: String
    var url: String
    var topics: [String]
    var format: String?
}

/// One delivery attempt of the log (the test deliveries' too).
struct WebhookAttemptBody: Codable, Sendable, ResponseEncodable {
    /// The delivery's `webhook-id`, the same on each retry.
    var id: String
    var subject: String
    var attempt: Int
    var status: Int?
    var error: String?
    var time: Date
    var delivered: Bool

    init(_ attempt: WebhookDispatcher.Attempt) {
        self.id = attempt.id
        self.subject = attempt.subject
        self.attempt = attempt.attempt
        self.status = attempt.status
        self.error = attempt.error
        self.time = attempt.time
        self.delivered = attempt.delivered
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.subject, forKey: .subject)
        try container.encode(self.attempt, forKey: .attempt)
        try container.encode(self.status, forKey: .status)
        try container.encode(self.error, forKey: .error)
        try container.encode(self.time, forKey: .time)
        try container.encode(self.delivered, forKey: .delivered)
    }
}

/// `POST /webhooks/{uuid}/test`: whether the receiver took the test delivery.
struct WebhookTestBody: Codable, ResponseEncodable {
    var delivered: Bool
    /// The receiver's HTTP status; null when there was no answer (then `error` says why).
    var status: Int?
    var error: String?
    var id: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.delivered, forKey: .delivered)
        try container.encode(self.status, forKey: .status)
        try container.encode(self.error, forKey: .error)
        try container.encode(self.id, forKey: .id)
    }
}
