import DecnetCore
import Foundation

/// Related activity of one or more actors (identities, or addresses that belong to none): the seed's campaign.
public struct Campaign: Sendable, Codable, Equatable, CarriedOver {
    public typealias State = ClusterState

    mutating func empty() {
        self.actors = []
        self.attackers = []
    }

    public var uuid: String
    public var state: State
    /// The actors: identity uuids and lone addresses (`ip:` prefixed).
    public var actors: [String]
    /// Every attacker address of those actors.
    public var attackers: [String]
    public var formed: Date
    public var updated: Date
    public var mergedInto: String?
    /// When its actors were first and last seen.
    public var first: Date
    public var last: Date
    public var links: [ActorLink]
    public var reasons: [AttackerIdentity.ReasonCount]
    public var deckies: [String]
    public var phases: [IntrusionPhase]
}

/// What a campaign run changed: `campaign.formed`, `campaign.identity.assigned`, `campaign.merged`.
public enum CampaignChange: Sendable, Equatable {
    case formed(String, actors: [String])
    case assigned(String, added: [String])
    case merged(into: String, from: [String])

    public var subject: String {
        switch self {
        case .formed: "campaign.formed"
        case .assigned: "campaign.identity.assigned"
        case .merged: "campaign.merged"
        }
    }
}

/// Groups actors into campaigns: actors are related when what they share (credentials, commands, payload hosts,
/// pace, targets, phases) adds up to `threshold` and their activity lies within `window` of each other. Only the
/// distance between activity enters, never the clock, so a campaign paused for days stays one, and shifting every
/// time changes nothing.
public enum CampaignClustering {
    public static let threshold = 1.0
    /// Activity further apart than this is not one campaign.
    public static let window: TimeInterval = 14 * 86_400

    public enum Weight {
        public static let credentials = 0.6
        public static let commands = 0.6
        public static let payloadHost = 1.0
        public static let pace = 0.4
        public static let targets = 0.2
        public static let phases = 0.2
    }

    /// One actor's evidence: an identity's members' traits put together, or a lone address's (its `ip` is the
    /// actor's key, so links name actors).
    public struct Actor: Sendable, Equatable {
        public var key: String
        public var attackers: [String]
        public var evidence: ActorEvidence
    }

    /// The actors to compare: every active identity, and every address outside one that did more than knock.
    public static func actors(_ evidence: [ActorEvidence], identities: [AttackerIdentity]) -> [Actor] {
        let byIP = Dictionary(evidence.map { ($0.ip, $0) }, uniquingKeysWith: { first, _ in first })
        var actors: [Actor] = []
        var grouped = Set<String>()
        for identity in identities where identity.state == .active {
            let members = identity.members.compactMap { byIP[$0] }
            guard let combined = Self.combine(members, key: identity.uuid) else { continue }
            grouped.formUnion(identity.members)
            actors.append(Actor(key: identity.uuid, attackers: identity.members, evidence: combined))
        }
        for item in evidence where !grouped.contains(item.ip) {
            guard item.credentials.count >= 3 || item.commands.count >= 3 || !item.payloadHosts.isEmpty else {
                continue
            }
            var lone = item
            lone.ip = "ip:" + item.ip
            actors.append(Actor(key: lone.ip, attackers: [item.ip], evidence: lone))
        }
        return actors.sorted { $0.key < $1.key }
    }

    static func combine(_ members: [ActorEvidence], key: String) -> ActorEvidence? {
        guard var combined = members.first else { return nil }
        combined.ip = key
        func merge(_ list: inout [String], _ more: [String]) {
            var seen = Set(list)
            for item in more where seen.insert(item).inserted { list.append(item) }
        }
        var paces = [members[0].pace]
        var automated = members[0].automated ? 1 : 0
        for member in members.dropFirst() {
            combined.first = min(combined.first, member.first)
            combined.last = max(combined.last, member.last)
            merge(&combined.credentials, member.credentials)
            merge(&combined.payloadHosts, member.payloadHosts)
            merge(&combined.deckies, member.deckies)
            merge(&combined.tools, member.tools)
            if combined.commands.count < ActorEvidence.maximumCommands { combined.commands += member.commands }
            combined.phases = Array(Set(combined.phases + member.phases)).sorted()
            paces.append(member.pace)
            automated += member.automated ? 1 : 0
        }
        combined.pace = AttackerProfiler.median(paces)
        combined.automated = automated * 2 >= members.count
        return combined
    }

    /// What relates two actors; nil when nothing does or their activity is more than `window` apart.
    public static func link(_ a: ActorEvidence, _ b: ActorEvidence) -> ActorLink? {
        let gap = max(a.first, b.first).timeIntervalSince(min(a.last, b.last))
        guard gap <= Self.window else { return nil }
        var reasons: [LinkReason] = []
        if let (_, detail) = IdentityClustering.sequence(a.credentials, b.credentials, what: "credentials") {
            reasons.append(LinkReason(.credentials, "shared credentials: \(detail)", weight: Weight.credentials))
        }
        if let (_, detail) = IdentityClustering.sequence(a.commands, b.commands, what: "commands") {
            reasons.append(LinkReason(.commands, "shared commands: \(detail)", weight: Weight.commands))
        }
        if let host = Set(a.payloadHosts).intersection(b.payloadHosts).sorted().first {
            reasons.append(LinkReason(.payloadHost, "payloads from the same host \(host)", weight: Weight.payloadHost))
        }
        let samePace =
            (a.automated && b.automated && a.pace > 0 && b.pace > 0 && max(a.pace, b.pace) / min(a.pace, b.pace) <= 1.5)
            || (!a.automated && !b.automated)
        if samePace {
            reasons.append(
                LinkReason(
                    .pace,
                    a.automated
                        ? String(format: "the same pace: a median %.2f s and %.2f s between events", a.pace, b.pace)
                        : "both typed by a person",
                    weight: Weight.pace
                )
            )
        }
        let targets = Set(a.deckies).intersection(b.deckies)
        if !targets.isEmpty, Double(targets.count) * 2 >= Double(min(a.deckies.count, b.deckies.count)) {
            reasons.append(
                LinkReason(
                    .targets,
                    "the same targets: \(targets.sorted().prefix(5).joined(separator: ", "))",
                    weight: Weight.targets
                )
            )
        }
        let phasesA = Set(a.phases).subtracting([.reconnaissance])
        if !phasesA.isEmpty, phasesA == Set(b.phases).subtracting([.reconnaissance]) {
            reasons.append(
                LinkReason(
                    .phases,
                    "the same phases: \(phasesA.sorted().map(\.rawValue).joined(separator: ", "))",
                    weight: Weight.phases
                )
            )
        }
        // Pace, targets and phases alone relate every scanner of the same network: something shared must be
        // the actor's own.
        guard reasons.contains(where: { [.credentials, .commands, .payloadHost].contains($0.kind) }) else { return nil }
        return ActorLink(a: min(a.ip, b.ip), b: max(a.ip, b.ip), reasons: reasons)
    }

    /// The campaigns after a run, carried over like identities (a group of actors keeps the uuid of the campaign
    /// it overlaps; groups that now join fold into the oldest).
    public static func cluster(
        _ actors: [Actor],
        previous: [Campaign],
        now: Date,
        makeUUID: () -> String = { UUID().uuidString.lowercased() }
    ) -> (campaigns: [Campaign], changes: [CampaignChange]) {
        var union = UnionFind(actors.count)
        var links: [ActorLink] = []
        let traits = actors.map { actor in
            actor.evidence.credentials.prefix(20).map { "c" + $0 } + actor.evidence.commands.prefix(10).map { "x" + $0 }
                + actor.evidence.payloadHosts.map { "h" + $0 }
        }
        let order = actors.map { IdentityClustering.signature($0.evidence) }
        for pair in IdentityClustering.candidates(traits, order: order) {
            guard let link = Self.link(actors[pair.a].evidence, actors[pair.b].evidence),
                link.score >= Self.threshold - 1e-9
            else { continue }
            union.union(pair.a, pair.b)
            links.append(link)
        }
        var byRoot: [Int: [Int]] = [:]
        for position in actors.indices { byRoot[union.find(position), default: []].append(position) }
        let position = Dictionary(actors.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        var linksByRoot: [Int: [ActorLink]] = [:]
        for link in links { linksByRoot[union.find(position[link.a]!), default: []].append(link) }
        let groups = byRoot.compactMap { root, members -> (Int, [Int])? in members.count > 1 ? (root, members) : nil }
            .sorted { actors[$0.1[0]].key < actors[$1.1[0]].key }

        var campaigns = Dictionary(previous.map { ($0.uuid, $0) }, uniquingKeysWith: { first, _ in first })
        var holder: [String: String] = [:]
        for campaign in previous where campaign.state == .active {
            for actor in campaign.actors { holder[actor] = campaign.uuid }
            for attacker in campaign.attackers { holder["ip:" + attacker] = holder["ip:" + attacker] ?? campaign.uuid }
        }
        var changes: [CampaignChange] = []
        var kept = Set<String>()
        for (root, members) in groups {
            let group = members.map { actors[$0] }
            let keys = group.map(\.key).sorted()
            let attackers = Array(Set(group.flatMap(\.attackers))).sorted()
            let claimed = Set(keys.compactMap { holder[$0] } + attackers.compactMap { holder["ip:" + $0] })
                .filter { !kept.contains($0) }
                .sorted { (campaigns[$0]!.formed, $0) < (campaigns[$1]!.formed, $1) }
            let groupLinks = (linksByRoot[root] ?? []).sorted { $0.score > $1.score }
            let evidence = group.map(\.evidence)
            func fill(_ campaign: inout Campaign) {
                campaign.state = .active
                campaign.mergedInto = nil
                campaign.actors = keys
                campaign.attackers = attackers
                campaign.updated = now
                campaign.first = evidence.map(\.first).min()!
                campaign.last = evidence.map(\.last).max()!
                campaign.links = Array(groupLinks.prefix(AttackerIdentity.maximumLinks))
                campaign.reasons = IdentityClustering.reasonCounts(groupLinks)
                campaign.deckies = Array(Set(evidence.flatMap(\.deckies))).sorted()
                campaign.phases = Array(Set(evidence.flatMap(\.phases))).sorted()
            }
            if let winner = claimed.first {
                let added = Set(keys).subtracting(campaigns[winner]!.actors).sorted()
                fill(&campaigns[winner]!)
                kept.insert(winner)
                let losers = Array(claimed.dropFirst())
                campaigns.fold(losers, into: winner, now: now)
                kept.formUnion(losers)
                if !losers.isEmpty {
                    changes.append(.merged(into: winner, from: losers))
                } else if !added.isEmpty {
                    changes.append(.assigned(winner, added: added))
                }
            } else {
                let uuid = makeUUID()
                var campaign = Campaign(
                    uuid: uuid,
                    state: .active,
                    actors: [],
                    attackers: [],
                    formed: now,
                    updated: now,
                    mergedInto: nil,
                    first: now,
                    last: now,
                    links: [],
                    reasons: [],
                    deckies: [],
                    phases: []
                )
                fill(&campaign)
                campaigns[uuid] = campaign
                kept.insert(uuid)
                changes.append(.formed(uuid, actors: keys))
            }
        }
        for campaign in previous where campaign.state == .active && !kept.contains(campaign.uuid) {
            campaigns.dissolve(campaign.uuid, now: now)
        }
        return (campaigns.values.sorted { ($0.formed, $0.uuid) < ($1.formed, $1.uuid) }, changes)
    }
}
