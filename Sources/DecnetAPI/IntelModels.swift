import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

/// A reason two attackers (or actors) are linked.
struct ReasonBody: Codable, Sendable {
    var kind: String
    var detail: String
    var weight: Double

    init(_ reason: LinkReason) {
        self.kind = reason.kind.rawValue
        self.detail = reason.detail
        self.weight = reason.weight
    }
}

struct LinkBody: Codable, Sendable {
    var a: String
    var b: String
    var score: Double
    var reasons: [ReasonBody]

    init(_ link: ActorLink) {
        self.a = link.a
        self.b = link.b
        self.score = (link.score * 100).rounded() / 100
        self.reasons = link.reasons.map(ReasonBody.init)
    }
}

/// A kind of reason and how many links give it.
struct ReasonCountBody: Codable, Sendable {
    var kind: String
    var links: Int
    var detail: String

    init(_ count: AttackerIdentity.ReasonCount) {
        self.kind = count.kind.rawValue
        self.links = count.links
        self.detail = count.detail
    }
}

/// `/identities` items: an identity without its links.
struct IdentityBody: Codable, Sendable {
    var uuid: String
    var state: String
    var members: [String]
    var memberCount: Int
    var formed: Date
    var updated: Date
    var mergedInto: String?
    var behaviour: String?
    var reasons: [ReasonCountBody]
    var campaign: String?

    enum CodingKeys: String, CodingKey {
        case uuid, state, members, formed, updated, behaviour, reasons, campaign
        case memberCount = "member_count"
        case mergedInto = "merged_into"
    }

    init(_ identity: AttackerIdentity, campaign: String?) {
        self.uuid = identity.uuid
        self.state = identity.state.rawValue
        self.members = identity.members
        self.memberCount = identity.members.count
        self.formed = identity.formed
        self.updated = identity.updated
        self.mergedInto = identity.mergedInto
        self.behaviour = identity.behaviour?.rawValue
        self.reasons = identity.reasons.map(ReasonCountBody.init)
        self.campaign = campaign
    }
}

/// One attacker of an identity or campaign, as the profiler saw it.
struct MemberBody: Codable, Sendable {
    var ip: String
    var behaviour: String
    var score: Int
    var lastSeen: Date
    var clients: [String]
    var credentials: Int

    enum CodingKeys: String, CodingKey {
        case ip, behaviour, score, clients, credentials
        case lastSeen = "last_seen"
    }

    init(_ profile: StoredAttackerProfile) {
        self.ip = profile.ip
        self.behaviour = profile.behaviour.behaviour.rawValue
        self.score = profile.behaviour.score
        self.lastSeen = profile.lastSeen
        self.clients = profile.evidence.clients
        self.credentials = profile.evidence.credentials.count
    }
}

struct IdentityDetail: Codable, ResponseEncodable {
    var identity: IdentityBody
    var links: [LinkBody]
    var attackers: [MemberBody]
    /// Identities merged into this one.
    var merged: [String]
}

struct CampaignBody: Codable, Sendable {
    var uuid: String
    var state: String
    var actors: [String]
    var attackers: [String]
    var attackerCount: Int
    var formed: Date
    var updated: Date
    var mergedInto: String?
    var first: Date
    var last: Date
    var reasons: [ReasonCountBody]
    var deckies: [String]
    var phases: [String]

    enum CodingKeys: String, CodingKey {
        case uuid, state, actors, attackers, formed, updated, first, last, reasons, deckies, phases
        case attackerCount = "attacker_count"
        case mergedInto = "merged_into"
    }

    init(_ campaign: Campaign) {
        self.uuid = campaign.uuid
        self.state = campaign.state.rawValue
        self.actors = campaign.actors
        self.attackers = campaign.attackers
        self.attackerCount = campaign.attackers.count
        self.formed = campaign.formed
        self.updated = campaign.updated
        self.mergedInto = campaign.mergedInto
        self.first = campaign.first
        self.last = campaign.last
        self.reasons = campaign.reasons.map(ReasonCountBody.init)
        self.deckies = campaign.deckies
        self.phases = campaign.phases.map(\.rawValue)
    }
}

struct CampaignDetail: Codable, ResponseEncodable {
    var campaign: CampaignBody
    var links: [LinkBody]
    var identities: [IdentityBody]
    var attackers: [MemberBody]
}

/// `POST /identities/{uuid}/merge`.
struct MergeRequest: Codable {
    var identity: String
}

/// `POST /identities/{uuid}/unmerge`: nothing for a merged identity; the addresses to split off an active one.
struct UnmergeRequest: Codable {
    var attackers: [String]?
}

/// An operator's decision, as stored.
struct DecisionBody: Codable, ResponseEncodable {
    var uuid: String
    var action: String
    var first: [String]
    var second: [String]
    var by: String
    var time: Date

    init(_ decision: IdentityOverride) {
        self.uuid = decision.uuid
        self.action = decision.action.rawValue
        self.first = decision.first
        self.second = decision.second
        self.by = decision.by
        self.time = decision.time
    }
}

/// `/bounty`: what was harvested, newest first, and the attackers who scored highest.
struct BountyBoard: Codable, ResponseEncodable, Sendable {
    struct Item: Codable, Sendable {
        var time: Date
        var kind: String
        var attackerIP: String
        var decky: String
        var service: String
        var payload: [String: String]

        enum CodingKeys: String, CodingKey {
            case time, kind, decky, service, payload
            case attackerIP = "attacker_ip"
        }
    }

    struct Leader: Codable, Sendable {
        var attackerIP: String
        var score: Int
        var behaviour: String
        var identity: String?
        var credentials: Int
        var phases: [String]

        enum CodingKeys: String, CodingKey {
            case score, behaviour, identity, credentials, phases
            case attackerIP = "attacker_ip"
        }
    }

    var total: Int
    var limit: Int
    var offset: Int
    var items: [Item]
    var leaders: [Leader]
}

/// An ATT&CK technique tag.
struct TechniqueBody: Codable, Sendable {
    var technique: String
    var name: String
    var tactics: [String]
    var rule: String
    var ruleName: String
    var confidence: Int
    var first: Date
    var last: Date
    var count: Int
    var events: [String]
    var evidence: String
    var attack: String
    var url: String

    enum CodingKeys: String, CodingKey {
        case technique, name, tactics, rule, confidence, first, last, count, events, evidence, attack, url
        case ruleName = "rule_name"
    }

    init(_ tag: TechniqueTag) {
        self.technique = tag.technique
        self.name = tag.name
        self.tactics = tag.tactics
        self.rule = tag.rule
        self.ruleName = tag.ruleName
        self.confidence = tag.confidence
        self.first = tag.first
        self.last = tag.last
        self.count = tag.count
        self.events = tag.events
        self.evidence = tag.evidence
        self.attack = tag.attack
        self.url = AttackCatalogue.technique(tag.technique)?.url ?? ""
    }
}
