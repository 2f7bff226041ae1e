import DecnetCore
import DecnetIntel
import Foundation
import Hummingbird

// The bodies of `/canary` (`/webhooks`' are in WebhookModels.swift). Unlike the older bodies, whose absent values
// are left out, these write every key and `null` for what is absent (the OpenAPI document marks those keys nullable
// and required), so a client reads one shape whatever the token's kind.

/// A canary token as the API shows it, with how often it fired.
struct CanaryTokenBody: Codable, Sendable, ResponseEncodable {
    var id: String
    var type: String
    var decky: String?
    var path: String?
    var label: String
    var url: String?
    var hostname: String?
    var created: Date
    var revoked: Date?
    var active: Bool
    var triggers: Int

    init(_ token: CanaryToken, triggers: Int) {
        self.id = token.id
        self.type = token.kind.rawValue
        self.decky = token.decky
        self.path = token.path
        self.label = token.label
        self.url = token.url
        self.hostname = token.hostname
        self.created = token.created
        self.revoked = token.revoked
        self.active = token.isActive
        self.triggers = triggers
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.type, forKey: .type)
        try container.encode(self.decky, forKey: .decky)
        try container.encode(self.path, forKey: .path)
        try container.encode(self.label, forKey: .label)
        try container.encode(self.url, forKey: .url)
        try container.encode(self.hostname, forKey: .hostname)
        try container.encode(self.created, forKey: .created)
        try container.encode(self.revoked, forKey: .revoked)
        try container.encode(self.active, forKey: .active)
        try container.encode(self.triggers, forKey: .triggers)
    }
}

/// One use of a token: a stored `canary.triggered` event, its fields by name.
struct CanaryTriggerBody: Codable, Sendable {
    var time: Date
    var token: String
    var label: String
    var type: String
    /// `http` or `dns`.
    var via: String
    /// Who asked: the attacker's address (for `dns`, the resolver the attacker's lookup went through).
    var source: String
    /// The decky whose canary service answered.
    var decky: String
    var plantedDecky: String?
    var plantedPath: String?
    var method: String?
    var url: String?
    var userAgent: String?
    var referer: String?
    var qname: String?
    var qtype: String?

    enum CodingKeys: String, CodingKey {
        case time, token, label, type, via, source, decky, method, url, referer, qname, qtype
        case plantedDecky = "planted_decky"
        case plantedPath = "planted_path"
        case userAgent = "user_agent"
    }

    init(_ event: HoneypotEvent) {
        let fields = event.fieldValues
        self.time = event.time
        self.token = fields["token"] ?? ""
        self.label = fields["label"] ?? ""
        self.type = fields["token_kind"] ?? ""
        self.via = fields["via"] ?? ""
        self.source = event.source.ip
        self.decky = event.decky
        self.plantedDecky = fields["planted_decky"]
        self.plantedPath = fields["planted_path"]
        self.method = fields["method"]
        self.url = fields["url"]
        self.userAgent = fields["user_agent"]
        self.referer = fields["referer"]
        self.qname = fields["qname"]
        self.qtype = fields["qtype"]
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.time, forKey: .time)
        try container.encode(self.token, forKey: .token)
        try container.encode(self.label, forKey: .label)
        try container.encode(self.type, forKey: .type)
        try container.encode(self.via, forKey: .via)
        try container.encode(self.source, forKey: .source)
        try container.encode(self.decky, forKey: .decky)
        try container.encode(self.plantedDecky, forKey: .plantedDecky)
        try container.encode(self.plantedPath, forKey: .plantedPath)
        try container.encode(self.method, forKey: .method)
        try container.encode(self.url, forKey: .url)
        try container.encode(self.userAgent, forKey: .userAgent)
        try container.encode(self.referer, forKey: .referer)
        try container.encode(self.qname, forKey: .qname)
        try container.encode(self.qtype, forKey: .qtype)
    }
}

/// `GET /canary/{id}`: the token and its latest triggers, newest first.
struct CanaryDetail: Codable, ResponseEncodable {
    var token: CanaryTokenBody
    var triggers: [CanaryTriggerBody]
}

/// `POST /canary`: what `decnet canary plant` takes.
struct NewCanaryRequest: Codable {
    var type: String
    var label: String
    var decky: String?
    var path: String?
    var baseURL: String?
    var zone: String?

    enum CodingKeys: String, CodingKey {
        case type, label, decky, path, zone
        case baseURL = "base_url"
    }
}
