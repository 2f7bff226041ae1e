import DecnetCore
import Foundation

/// Why two attacker addresses are held to be one actor: each reason with the weight it adds.
public struct LinkReason: Sendable, Codable, Equatable, Hashable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case clientFingerprint = "client-fingerprint"
        case credentialList = "credential-list"
        case credentials
        case commands = "command-sequence"
        case payloadHost = "payload-host"
        case pace
        case network
        case asn
        case targets
        case phases
        case `operator`
    }

    public var kind: Kind
    public var detail: String
    public var weight: Double

    public init(_ kind: Kind, _ detail: String, weight: Double) {
        self.kind = kind
        self.detail = detail
        self.weight = weight
    }
}

/// A scored link between two attackers (or, for campaigns, two actors).
public struct ActorLink: Sendable, Codable, Equatable {
    public var a: String
    public var b: String
    public var reasons: [LinkReason]
    public var score: Double { self.reasons.reduce(0) { $0 + $1.weight } }

    public init(a: String, b: String, reasons: [LinkReason]) {
        self.a = a
        self.b = b
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey { case a, b, reasons, score }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.a = try container.decode(String.self, forKey: .a)
        self.b = try container.decode(String.self, forKey: .b)
        self.reasons = try container.decode([LinkReason].self, forKey: .reasons)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.a, forKey: .a)
        try container.encode(self.b, forKey: .b)
        try container.encode(self.reasons, forKey: .reasons)
        try container.encode((self.score * 100).rounded() / 100, forKey: .score)
    }
}

/// Where an identity or a campaign stands after a run.
public enum ClusterState: String, Sendable, Codable {
    /// Holds its members now.
    case active
    /// Folded into `mergedInto`; `members` are those it had, so an unmerge can give them back.
    case merged
    /// Its members no longer link to one another.
    case dissolved
}

/// An identity or a campaign, as clustering runs carry it over.
protocol CarriedOver {
    var state: ClusterState { get set }
    var mergedInto: String? { get set }
    var updated: Date { get set }
    /// Forgets its members (it was dissolved).
    mutating func empty()
}

extension Dictionary where Key == String, Value: CarriedOver {
    /// `losers` folded into `winner`.
    mutating func fold(_ losers: [String], into winner: String, now: Date) {
        for loser in losers {
            self[loser]!.state = .merged
            self[loser]!.mergedInto = winner
            self[loser]!.updated = now
        }
    }

    mutating func dissolve(_ uuid: String, now: Date) {
        self[uuid]!.state = .dissolved
        self[uuid]!.empty()
        self[uuid]!.updated = now
    }
}

/// One actor behind one or more attacker addresses (the seed's UKC identity).
public struct AttackerIdentity: Sendable, Codable, Equatable, CarriedOver {
    public typealias State = ClusterState

    mutating func empty() {
        self.members = []
        self.links = []
    }

    public var uuid: String
    public var state: State
    public var members: [String]
    public var formed: Date
    public var updated: Date
    public var mergedInto: String?
    /// The links that hold the members together (at most `maximumLinks`, strongest first).
    public var links: [ActorLink]
    /// Each kind of reason the links give, with how many links give it.
    public var reasons: [ReasonCount]
    /// The class most members have.
    public var behaviour: BehaviourClass?

    public struct ReasonCount: Sendable, Codable, Equatable {
        public var kind: LinkReason.Kind
        public var links: Int
        /// One example, as the first link gave it.
        public var detail: String
    }

    public static let maximumLinks = 200
}

/// An operator's decision: these two groups of addresses are one actor (`merge`), or are not (`split`). It stays
/// in force over every later clustering run, until removed.
public struct IdentityOverride: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        case merge
        case split
    }

    public var uuid: String
    public var action: Action
    /// The two groups of addresses, as the identities held them when the operator decided.
    public var first: [String]
    public var second: [String]
    public var by: String
    public var time: Date

    public init(uuid: String, action: Action, first: [String], second: [String], by: String, time: Date) {
        self.uuid = uuid
        self.action = action
        self.first = first
        self.second = second
        self.by = by
        self.time = time
    }
}

/// What a clustering run changed, as the bus names it.
public enum IdentityChange: Sendable, Equatable {
    /// `identity.formed`.
    case formed(String, members: [String])
    /// `identity.observation.linked`: addresses joined an identity.
    case linked(String, added: [String])
    /// `identity.merged`: `from` were folded into `into`.
    case merged(into: String, from: [String])
    /// `identity.unmerged`: `uuid` holds its own members again, apart from `from`.
    case unmerged(String, from: String)

    public var subject: String {
        switch self {
        case .formed: "identity.formed"
        case .linked: "identity.observation.linked"
        case .merged: "identity.merged"
        case .unmerged: "identity.unmerged"
        }
    }
}

/// Groups attacker addresses into identities: two addresses are linked when the evidence that one actor is behind
/// both adds up to `threshold`, and an identity is a connected group of linked addresses. No single trait is
/// enough: a client fingerprint (0.5) names a tool, not a person, and a stock client's fingerprint counts for
/// nothing (`CommonFingerprints`); a credential list (0.6) is shared by everyone who downloaded it; together, or
/// with the same commands, the same payload host or the same network, they name one actor.
public enum IdentityClustering {
    public static let threshold = 1.0

    public enum Weight {
        public static let clientFingerprint = 0.5
        public static let credentialList = 0.6
        public static let credentials = 0.4
        public static let commands = 0.6
        public static let payloadHost = 0.4
        public static let pace = 0.2
        public static let network = 0.3
        public static let asn = 0.1
    }

    /// Lists shorter than this say nothing (every list starts with root:root).
    static let minimumShared = 3

    // MARK: - Links

    /// What links `a` and `b`; nil when nothing does. Uses no absolute time.
    public static func link(_ a: ActorEvidence, _ b: ActorEvidence) -> ActorLink? {
        var reasons: [LinkReason] = []
        let shared = Set(a.fingerprints).intersection(b.fingerprints).filter { !CommonFingerprints.isCommon($0) }
        if let fingerprint = shared.sorted().first {
            reasons.append(
                LinkReason(
                    .clientFingerprint,
                    "the same client fingerprint \(fingerprint) (not a stock client's)",
                    weight: Weight.clientFingerprint
                )
            )
        }
        if let (inOrder, detail) = Self.sequence(a.credentials, b.credentials, what: "credentials") {
            reasons.append(
                inOrder
                    ? LinkReason(
                        .credentialList,
                        "the same credential list in the same order: \(detail)",
                        weight: Weight.credentialList
                    )
                    : LinkReason(
                        .credentials,
                        "the same credentials in another order: \(detail)",
                        weight: Weight.credentials
                    )
            )
        }
        if let (inOrder, detail) = Self.sequence(a.commands, b.commands, what: "commands"), inOrder {
            reasons.append(
                LinkReason(.commands, "the same commands in the same order: \(detail)", weight: Weight.commands)
            )
        }
        if let host = Set(a.payloadHosts).intersection(b.payloadHosts).sorted().first {
            reasons.append(
                LinkReason(.payloadHost, "payloads fetched from the same host \(host)", weight: Weight.payloadHost)
            )
        }
        if a.automated, b.automated, a.pace > 0, b.pace > 0, max(a.pace, b.pace) / min(a.pace, b.pace) <= 1.25 {
            reasons.append(
                LinkReason(
                    .pace,
                    String(format: "the same pace: a median %.2f s and %.2f s between events", a.pace, b.pace),
                    weight: Weight.pace
                )
            )
        }
        if let network = a.network, network == b.network {
            reasons.append(LinkReason(.network, "the same network \(network)", weight: Weight.network))
        } else if let asn = a.asn, asn == b.asn {
            reasons.append(LinkReason(.asn, "the same autonomous system AS\(asn)", weight: Weight.asn))
        }
        guard !reasons.isEmpty else { return nil }
        return ActorLink(a: min(a.ip, b.ip), b: max(a.ip, b.ip), reasons: reasons)
    }

    /// Whether two lists share at least `minimumShared` items and most of the shorter one, and whether the shared
    /// items come in the same order (nearly every consecutive shared pair).
    /// Repeats count once (a bot running `uname -a` a hundred times has one command, not a hundred).
    static func sequence(_ a: [String], _ b: [String], what: String) -> (inOrder: Bool, detail: String)? {
        let a = Self.distinct(a)
        let b = Self.distinct(b)
        guard a.count >= Self.minimumShared, b.count >= Self.minimumShared else { return nil }
        var position: [String: Int] = [:]
        for (index, item) in b.enumerated() where position[item] == nil { position[item] = index }
        let positions = a.compactMap { position[$0] }
        let shorter = min(a.count, b.count)
        guard positions.count >= Self.minimumShared, Double(positions.count) >= 0.6 * Double(shorter) else {
            return nil
        }
        let ordered = zip(positions, positions.dropFirst()).filter { $0 < $1 }.count
        let inOrder = Double(ordered) >= 0.8 * Double(positions.count - 1)
        return (inOrder, "\(positions.count) of \(shorter) \(what) shared")
    }

    static func distinct(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }

    // MARK: - Groups

    /// The groups of linked addresses (two or more each), each with the links that joined it. Candidate pairs
    /// come from shared traits (an inverted index), so unrelated addresses are never compared.
    public static func groups(
        _ evidence: [ActorEvidence],
        overrides: [IdentityOverride] = []
    ) -> [(members: [String], links: [ActorLink])] {
        let index = Dictionary(evidence.enumerated().map { ($1.ip, $0) }, uniquingKeysWith: { first, _ in first })
        let pairs = Self.candidates(evidence.map(Self.traits), order: evidence.map(Self.signature))
        let splits = overrides.filter { $0.action == .split }
        var union = UnionFind(evidence.count)
        var links: [ActorLink] = []
        for pair in pairs {
            guard let link = Self.link(evidence[pair.a], evidence[pair.b]), link.score >= Self.threshold - 1e-9 else {
                continue
            }
            if splits.contains(where: { $0.separates(link.a, link.b) }) { continue }
            union.union(pair.a, pair.b)
            links.append(link)
        }
        for merge in overrides where merge.action == .merge {
            guard let a = merge.first.compactMap({ index[$0] }).first,
                let b = merge.second.compactMap({ index[$0] }).first
            else { continue }
            let later = splits.contains { $0.time > merge.time && $0.separates(evidence[a].ip, evidence[b].ip) }
            guard !later else { continue }
            union.union(a, b)
            links.append(
                ActorLink(
                    a: min(evidence[a].ip, evidence[b].ip),
                    b: max(evidence[a].ip, evidence[b].ip),
                    reasons: [LinkReason(.operator, "merged by \(merge.by)", weight: Self.threshold)]
                )
            )
        }
        var members: [Int: [String]] = [:]
        for position in evidence.indices { members[union.find(position), default: []].append(evidence[position].ip) }
        var linksByRoot: [Int: [ActorLink]] = [:]
        for link in links { linksByRoot[union.find(index[link.a]!), default: []].append(link) }
        return members.compactMap { root, ips in
            guard ips.count > 1 else { return nil }
            return (ips.sorted(), linksByRoot[root, default: []])
        }.sorted { $0.members[0] < $1.members[0] }
    }

    /// The traits that make two addresses worth comparing: a rare fingerprint, an early credential or command,
    /// a payload host. Not the network, pace or AS: they add weight to a pair another trait found, and can never
    /// reach the threshold alone (a /24 of 250 busy addresses would be 31,000 pairs to compare for nothing).
    static func traits(_ item: ActorEvidence) -> [String] {
        var traits = item.fingerprints.filter { !CommonFingerprints.isCommon($0) }.map { "f" + $0 }
        traits += item.credentials.prefix(20).map { "c" + $0 }
        traits += item.commands.prefix(10).map { "x" + $0 }
        traits += item.payloadHosts.map { "h" + $0 }
        return traits
    }

    /// What sorts alike evidence next to each other in a large block: the rare fingerprints, the first
    /// credentials and commands, the payload hosts.
    static func signature(_ item: ActorEvidence) -> String {
        [
            item.fingerprints.filter { !CommonFingerprints.isCommon($0) }.sorted().joined(separator: ","),
            item.credentials.prefix(8).joined(separator: ","),
            Self.distinct(item.commands).prefix(5).joined(separator: ";"), item.payloadHosts.joined(separator: ","),
        ].joined(separator: "|")
    }

    /// The pairs (by position) that share a trait, in order: an inverted index, so unrelated items are never
    /// compared. A trait many hold (every bot of a thousand runs `uname -a`, or tries `root:root`) would make a
    /// million pairs; in a block larger than `allPairs` each item is compared with the `window` items after it
    /// in `order` (the sorted-neighbourhood method of record linkage), so a thousand bots with one list and one
    /// client still chain into one group at a thousand times `window` comparisons.
    static func candidates(_ traits: [[String]], order: [String]) -> [Pair] {
        var byTrait: [String: [Int]] = [:]
        for (position, list) in traits.enumerated() {
            for trait in Set(list) { byTrait[trait, default: []].append(position) }
        }
        var pairs = Set<Pair>()
        for members in byTrait.values where members.count > 1 {
            if members.count <= Self.allPairs {
                for i in members.indices {
                    for j in members.indices where j > i { pairs.insert(Pair(members[i], members[j])) }
                }
                continue
            }
            let sorted = members.sorted { (order[$0], $0) < (order[$1], $1) }
            for i in sorted.indices {
                for j in (i + 1)..<min(sorted.count, i + 1 + Self.window) { pairs.insert(Pair(sorted[i], sorted[j])) }
            }
        }
        return pairs.sorted()
    }

    /// Blocks up to this size compare every pair.
    static let allPairs = 64
    /// Neighbours compared in a larger block.
    static let window = 8

    struct Pair: Hashable, Comparable {
        let a: Int
        let b: Int
        init(_ a: Int, _ b: Int) {
            self.a = min(a, b)
            self.b = max(a, b)
        }
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.a, lhs.b) < (rhs.a, rhs.b) }
    }

    // MARK: - Identities

    /// The identities after a run: the previous ones carried over (a group keeps the uuid of the identity it
    /// overlaps, so an identity is stable while its members come and go), new ones formed, identities whose
    /// members now link folded into the oldest (`merged`), and a merged identity whose members no longer link to
    /// the rest given back its own uuid (`unmerged`).
    public static func cluster(
        _ evidence: [ActorEvidence],
        previous: [AttackerIdentity],
        overrides: [IdentityOverride] = [],
        now: Date,
        makeUUID: () -> String = { UUID().uuidString.lowercased() }
    ) -> (identities: [AttackerIdentity], changes: [IdentityChange]) {
        let groups = Self.groups(evidence, overrides: overrides)
        let behaviour = Dictionary(evidence.map { ($0.ip, $0.behaviour) }, uniquingKeysWith: { first, _ in first })
        return Self.assign(groups, previous: previous, now: now, makeUUID: makeUUID) { members in
            let classes = members.compactMap { behaviour[$0] }
            return Dictionary(grouping: classes, by: { $0 }).max {
                ($0.value.count, $1.key.rawValue) < ($1.value.count, $0.key.rawValue)
            }?.key
        }
    }

    static func assign(
        _ groups: [(members: [String], links: [ActorLink])],
        previous: [AttackerIdentity],
        now: Date,
        makeUUID: () -> String,
        behaviour: ([String]) -> BehaviourClass?
    ) -> (identities: [AttackerIdentity], changes: [IdentityChange]) {
        var identities = Dictionary(previous.map { ($0.uuid, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [IdentityChange] = []
        let active = previous.filter { $0.state == .active }
        var holder: [String: String] = [:]
        for identity in active { for member in identity.members { holder[member] = identity.uuid } }
        // Which active identities each group overlaps, and how much.
        var overlaps: [[String: Int]] = groups.map { group in
            group.members.reduce(into: [String: Int]()) { counts, member in
                if let uuid = holder[member] { counts[uuid, default: 0] += 1 }
            }
        }
        var claimants: [String: [Int]] = [:]
        for (group, counts) in overlaps.enumerated() {
            for uuid in counts.keys { claimants[uuid, default: []].append(group) }
        }
        // An identity overlapped by several groups is kept by the group holding most of its own members (those
        // not given to it by a merge); the others are not its.
        var restorable: [Int: String] = [:]
        for (uuid, groupsClaiming) in claimants where groupsClaiming.count > 1 {
            let identity = identities[uuid]!
            let losers = previous.filter { $0.state == .merged && $0.mergedInto == uuid }
            let borrowed = Set(losers.flatMap(\.members))
            let own = Set(identity.members).subtracting(borrowed)
            let keeper = groupsClaiming.max { lhs, rhs in
                let left = (Set(groups[lhs].members).intersection(own).count, overlaps[lhs][uuid]!, -lhs)
                let right = (Set(groups[rhs].members).intersection(own).count, overlaps[rhs][uuid]!, -rhs)
                return left < right
            }!
            for group in groupsClaiming where group != keeper {
                overlaps[group][uuid] = nil
                let members = Set(groups[group].members)
                if restorable[group] == nil,
                    let loser = losers.max(by: {
                        (members.intersection($0.members).count, $1.uuid) < (
                            members.intersection($1.members).count, $0.uuid
                        )
                    }),
                    !members.intersection(loser.members).isEmpty,
                    !restorable.values.contains(loser.uuid)
                {
                    restorable[group] = loser.uuid
                }
            }
        }
        var kept = Set<String>()
        for (position, group) in groups.enumerated() {
            let linksKept = Array(group.links.sorted { $0.score > $1.score }.prefix(AttackerIdentity.maximumLinks))
            let reasons = Self.reasonCounts(group.links)
            let claimed = overlaps[position].keys.sorted {
                (identities[$0]!.formed, $0) < (identities[$1]!.formed, $1)
            }
            if let winner = claimed.first {
                var identity = identities[winner]!
                let added = Set(group.members).subtracting(identity.members).sorted()
                let losers = Array(claimed.dropFirst())
                identity.members = group.members
                identity.links = linksKept
                identity.reasons = reasons
                identity.updated = now
                identity.behaviour = behaviour(group.members)
                identities[winner] = identity
                kept.insert(winner)
                identities.fold(losers, into: winner, now: now)
                kept.formUnion(losers)
                if !losers.isEmpty {
                    changes.append(.merged(into: winner, from: losers))
                } else if !added.isEmpty {
                    changes.append(.linked(winner, added: added))
                }
            } else if let uuid = restorable[position] {
                let from = identities[uuid]!.mergedInto ?? ""
                identities[uuid]!.state = .active
                identities[uuid]!.mergedInto = nil
                identities[uuid]!.members = group.members
                identities[uuid]!.links = linksKept
                identities[uuid]!.reasons = reasons
                identities[uuid]!.updated = now
                identities[uuid]!.behaviour = behaviour(group.members)
                kept.insert(uuid)
                changes.append(.unmerged(uuid, from: from))
            } else {
                let uuid = makeUUID()
                identities[uuid] = AttackerIdentity(
                    uuid: uuid,
                    state: .active,
                    members: group.members,
                    formed: now,
                    updated: now,
                    mergedInto: nil,
                    links: linksKept,
                    reasons: reasons,
                    behaviour: behaviour(group.members)
                )
                kept.insert(uuid)
                changes.append(.formed(uuid, members: group.members))
            }
        }
        // Active identities no group holds any more.
        for identity in active where !kept.contains(identity.uuid) { identities.dissolve(identity.uuid, now: now) }
        let ordered = identities.values.sorted { ($0.formed, $0.uuid) < ($1.formed, $1.uuid) }
        return (ordered, changes)
    }

    static func reasonCounts(_ links: [ActorLink]) -> [AttackerIdentity.ReasonCount] {
        var counts: [LinkReason.Kind: AttackerIdentity.ReasonCount] = [:]
        for link in links {
            for reason in link.reasons {
                counts[
                    reason.kind,
                    default: AttackerIdentity.ReasonCount(kind: reason.kind, links: 0, detail: reason.detail)
                ]
                .links += 1
            }
        }
        return counts.values.sorted { ($1.links, $0.kind.rawValue) < ($0.links, $1.kind.rawValue) }
    }
}

extension IdentityOverride {
    /// Whether this split keeps `a` and `b` apart.
    func separates(_ a: String, _ b: String) -> Bool {
        (self.first.contains(a) && self.second.contains(b)) || (self.first.contains(b) && self.second.contains(a))
    }
}

/// Disjoint sets over 0..<n (path halving, union by size).
struct UnionFind {
    private var parent: [Int]
    private var size: [Int]

    init(_ count: Int) {
        self.parent = Array(0..<count)
        self.size = Array(repeating: 1, count: count)
    }

    mutating func find(_ element: Int) -> Int {
        var element = element
        while self.parent[element] != element {
            self.parent[element] = self.parent[self.parent[element]]
            element = self.parent[element]
        }
        return element
    }

    mutating func union(_ a: Int, _ b: Int) {
        var (rootA, rootB) = (self.find(a), self.find(b))
        guard rootA != rootB else { return }
        if self.size[rootA] < self.size[rootB] { swap(&rootA, &rootB) }
        self.parent[rootB] = rootA
        self.size[rootA] += self.size[rootB]
    }
}
