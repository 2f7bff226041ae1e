import DecnetCore
import DecnetStore
import Foundation
import Synchronization

/// What the profiler keeps per attacker (`profile` documents, keyed by address).
public struct StoredAttackerProfile: Sendable, Codable, Equatable {
    public var ip: String
    /// The attacker's event count and last event when profiled: a change means it is profiled again.
    public var eventCount: Int
    public var lastSeen: Date
    public var profiled: Date
    public var behaviour: AttackerBehaviour
    public var evidence: ActorEvidence
    public var identity: String?
    public var campaign: String?
    /// The ATT&CK techniques its events and profile imply (`TTPRuleSet`).
    public var techniques: [TechniqueTag]?

    public init(
        ip: String,
        eventCount: Int,
        lastSeen: Date,
        profiled: Date,
        behaviour: AttackerBehaviour,
        evidence: ActorEvidence,
        identity: String? = nil,
        campaign: String? = nil,
        techniques: [TechniqueTag]? = nil
    ) {
        self.ip = ip
        self.eventCount = eventCount
        self.lastSeen = lastSeen
        self.profiled = profiled
        self.behaviour = behaviour
        self.evidence = evidence
        self.identity = identity
        self.campaign = campaign
        self.techniques = techniques
    }
}

/// The seed's profiler worker (`decnet profiler start`, or inside the API with `DECNET_EMBED_PROFILER=true`): it
/// profiles every attacker whose events changed, clusters identities and campaigns, stores the results and
/// publishes what changed (`attacker.scored`, `identity.*`, `campaign.*`).
///
/// The store is the truth and the bus only a wake-up: each run compares every attacker's event count and last
/// event with its stored profile, so an `attacker.observed` message dropped by a full bus, or a worker restarted,
/// loses nothing; it is only late by one `interval`.
public actor ProfilerWorker {
    public struct Report: Sendable, Equatable {
        public var profiled = 0
        public var identities = 0
        public var campaigns = 0
        /// Subjects published, in order.
        public var published: [String] = []
    }

    public struct Statistics: Sendable, Codable, Equatable {
        public var runs = 0
        public var profiled = 0
        public var attackers = 0
        public var identities = 0
        public var campaigns = 0
        public var lastRun: Date?
        /// Seconds the last run took.
        public var lastRunSeconds = 0.0
    }

    let store: any EventStore
    let geo: LocationDatabase?
    let clock: @Sendable () -> Date
    let publish: @Sendable (String, [UInt8]) -> Void
    let makeUUID: @Sendable () -> String
    /// The operator's TTP rule files (`*.ini`, on top of the default rules), read again when one changes.
    let rulesDirectory: String?
    private var rules = TTPRuleSet.standard
    private var ruleStamps: [String: Date] = [:]
    /// Problems in the operator's rule files, as last read.
    public private(set) var ruleDiagnostics: [Diagnostic] = []

    private var profiles: [String: StoredAttackerProfile] = [:]
    private var identities: [AttackerIdentity] = []
    private var campaigns: [Campaign] = []
    private var overrides: [IdentityOverride] = []
    private var loaded = false
    public private(set) var statistics = Statistics()
    private let woken = Mutex(false)

    public init(
        store: any EventStore,
        geo: LocationDatabase? = nil,
        clock: @escaping @Sendable () -> Date = { Date() },
        makeUUID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
        rulesDirectory: String? = nil,
        publish: @escaping @Sendable (String, [UInt8]) -> Void = { _, _ in }
    ) {
        self.rulesDirectory = rulesDirectory
        self.store = store
        self.geo = geo
        self.clock = clock
        self.makeUUID = makeUUID
        self.publish = publish
    }

    /// Something changed (an `attacker.observed` message, an operator's decision): run soon.
    public nonisolated func wake() { self.woken.withLock { $0 = true } }

    /// Runs whenever woken (checked every `poll`), and every `interval` regardless, until cancelled.
    public func run(interval: Duration = .seconds(5), poll: Duration = .milliseconds(250)) async {
        let clock = ContinuousClock()
        var last = clock.now - interval
        while !Task.isCancelled {
            let woken = self.woken.withLock { value in
                defer { value = false }
                return value
            }
            if woken || clock.now - last >= interval {
                last = clock.now
                do {
                    _ = try await self.runOnce()
                } catch {
                    FileHandle.standardError.write(Data("profiler: run failed: \(error)\n".utf8))
                }
            }
            do { try await Task.sleep(for: poll) } catch { return }
        }
    }

    /// Profiles what changed and clusters again when anything did.
    @discardableResult
    public func runOnce() async throws -> Report {
        let started = ContinuousClock.now
        var report = Report()
        let now = self.clock()
        if !self.loaded {
            for document in try await self.store.intelDocuments(kind: "profile") {
                if let profile = document.decode(StoredAttackerProfile.self) { self.profiles[profile.ip] = profile }
            }
            self.identities = try await self.store.intelDocuments(kind: "identity").compactMap {
                $0.decode(AttackerIdentity.self)
            }
            self.campaigns = try await self.store.intelDocuments(kind: "campaign").compactMap {
                $0.decode(Campaign.self)
            }
            self.loaded = true
        }
        let overrides = try await self.store.intelDocuments(kind: "override").compactMap {
            $0.decode(IdentityOverride.self)
        }.sorted { ($0.time, $0.uuid) < ($1.time, $1.uuid) }
        let overridesChanged = overrides != self.overrides
        self.overrides = overrides
        // Rule files changed: every attacker is tagged again.
        let stamps = TTPRuleSet.stamp(of: self.rulesDirectory)
        var retag = false
        if stamps != self.ruleStamps {
            (self.rules, self.ruleDiagnostics) = TTPRuleSet.load(directory: self.rulesDirectory)
            for problem in self.ruleDiagnostics {
                FileHandle.standardError.write(Data("profiler: TTP rules: \(problem)\n".utf8))
            }
            retag = !self.ruleStamps.isEmpty || !stamps.isEmpty
            self.ruleStamps = stamps
        }

        var changedProfiles = Set<String>()
        for attacker in try await self.store.attackers() {
            if !retag, let known = self.profiles[attacker.ip], known.eventCount == attacker.eventCount,
                RFC5424Formatter.timestamp(known.lastSeen) == RFC5424Formatter.timestamp(attacker.lastSeen)
            {
                continue
            }
            let events = try await self.store.logs(
                LogQuery(attackerIP: attacker.ip, limit: AttackerProfiler.maximumEvents)
            )
            let behaviour = AttackerProfiler.profile(events)
            let asn = self.geo?.lookup(attacker.ip)?.asn
            let evidence = ActorEvidence(ip: attacker.ip, events: events, profile: behaviour, asn: asn)
            let techniques = self.rules.tag(events, profile: behaviour)
            let before = self.profiles[attacker.ip]
            self.profiles[attacker.ip] = StoredAttackerProfile(
                ip: attacker.ip,
                eventCount: attacker.eventCount,
                lastSeen: attacker.lastSeen,
                profiled: now,
                behaviour: behaviour,
                evidence: evidence,
                identity: before?.identity,
                campaign: before?.campaign,
                techniques: techniques
            )
            changedProfiles.insert(attacker.ip)
            report.profiled += 1
            if before?.behaviour.behaviour != behaviour.behaviour || before?.behaviour.score != behaviour.score
                || before?.behaviour.phases.map(\.phase) != behaviour.phases.map(\.phase)
            {
                self.send("attacker.scored", Scored(ip: attacker.ip, behaviour: behaviour), &report)
            }
            // ttp.tagged when a technique is new for the attacker, and ttp.rule.fired.{technique} for each.
            let known = Set((before?.techniques ?? []).map { $0.technique + "/" + $0.rule })
            let fresh = techniques.filter { !known.contains($0.technique + "/" + $0.rule) }
            if !fresh.isEmpty {
                self.send(
                    "ttp.tagged",
                    Tagged(ip: attacker.ip, techniques: techniques.map(\.technique), new: fresh),
                    &report
                )
                for tag in fresh {
                    self.send("ttp.rule.fired.\(tag.technique)", Fired(ip: attacker.ip, tag: tag), &report)
                }
            }
        }

        var documents: [IntelDocument] = []
        if !changedProfiles.isEmpty || overridesChanged {
            let evidence = self.profiles.values.map(\.evidence).sorted { $0.ip < $1.ip }
            let previousIdentities = Dictionary(self.identities.map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
            let (identities, identityChanges) = IdentityClustering.cluster(
                evidence,
                previous: self.identities,
                overrides: self.overrides,
                now: now,
                makeUUID: self.makeUUID
            )
            self.identities = identities
            let actors = CampaignClustering.actors(evidence, identities: identities)
            let previousCampaigns = Dictionary(self.campaigns.map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
            let (campaigns, campaignChanges) = CampaignClustering.cluster(
                actors,
                previous: self.campaigns,
                now: now,
                makeUUID: self.makeUUID
            )
            self.campaigns = campaigns
            // Each attacker's identity and campaign, kept on its profile for the attacker page.
            var identityOf: [String: String] = [:]
            for identity in identities where identity.state == .active {
                for member in identity.members { identityOf[member] = identity.uuid }
            }
            var campaignOf: [String: String] = [:]
            for campaign in campaigns where campaign.state == .active {
                for attacker in campaign.attackers { campaignOf[attacker] = campaign.uuid }
            }
            for (ip, var profile) in self.profiles {
                let identity = identityOf[ip]
                let campaign = campaignOf[ip]
                guard profile.identity != identity || profile.campaign != campaign else { continue }
                profile.identity = identity
                profile.campaign = campaign
                self.profiles[ip] = profile
                changedProfiles.insert(ip)
            }
            for identity in identities where previousIdentities[identity.uuid] != identity {
                documents.append(try IntelDocument(kind: "identity", key: identity.uuid, value: identity, updated: now))
            }
            for campaign in campaigns where previousCampaigns[campaign.uuid] != campaign {
                documents.append(try IntelDocument(kind: "campaign", key: campaign.uuid, value: campaign, updated: now))
            }
            for change in identityChanges { self.send(change, identities, &report) }
            for change in campaignChanges { self.send(change, campaigns, &report) }
        }
        for ip in changedProfiles.sorted() {
            documents.append(try IntelDocument(kind: "profile", key: ip, value: self.profiles[ip]!, updated: now))
        }
        try await self.store.putIntelDocuments(documents, deleting: [])

        report.identities = self.identities.filter { $0.state == .active }.count
        report.campaigns = self.campaigns.filter { $0.state == .active }.count
        self.statistics.runs += 1
        self.statistics.profiled += report.profiled
        self.statistics.attackers = self.profiles.count
        self.statistics.identities = report.identities
        self.statistics.campaigns = report.campaigns
        self.statistics.lastRun = now
        let took = (ContinuousClock.now - started).components
        self.statistics.lastRunSeconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
        return report
    }

    // MARK: - Publishing

    /// `attacker.scored`.
    struct Scored: Encodable {
        let ip: String
        let behaviour: AttackerBehaviour

        enum CodingKeys: String, CodingKey {
            case attackerIP = "attacker_ip"
            case behaviour, score, phases, tools, evidence
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.ip, forKey: .attackerIP)
            try container.encode(self.behaviour.behaviour, forKey: .behaviour)
            try container.encode(self.behaviour.score, forKey: .score)
            try container.encode(self.behaviour.phases.map(\.phase), forKey: .phases)
            try container.encode(self.behaviour.tools.map(\.tool), forKey: .tools)
            try container.encode(self.behaviour.evidence, forKey: .evidence)
        }
    }

    /// `ttp.tagged`.
    struct Tagged: Encodable {
        let ip: String
        let techniques: [String]
        let new: [TechniqueTag]

        enum CodingKeys: String, CodingKey {
            case attackerIP = "attacker_ip"
            case techniques, new
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.ip, forKey: .attackerIP)
            try container.encode(Array(Set(self.techniques)).sorted(), forKey: .techniques)
            try container.encode(self.new.map { [$0.technique, $0.rule] }, forKey: .new)
        }
    }

    /// `ttp.rule.fired.{technique}`.
    struct Fired: Encodable {
        let ip: String
        let tag: TechniqueTag

        enum CodingKeys: String, CodingKey {
            case attackerIP = "attacker_ip"
            case technique, name, rule, evidence, first, confidence
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.ip, forKey: .attackerIP)
            try container.encode(self.tag.technique, forKey: .technique)
            try container.encode(self.tag.name, forKey: .name)
            try container.encode(self.tag.rule, forKey: .rule)
            try container.encode(self.tag.evidence, forKey: .evidence)
            try container.encode(RFC5424Formatter.timestamp(self.tag.first), forKey: .first)
            try container.encode(self.tag.confidence, forKey: .confidence)
        }
    }

    struct Message: Encodable {
        var identityUUID: String?
        var campaignUUID: String?
        var members: [String]?
        var added: [String]?
        var merged: [String]?
        var from: String?
        var reasons: [AttackerIdentity.ReasonCount]?

        enum CodingKeys: String, CodingKey {
            case identityUUID = "identity_uuid"
            case campaignUUID = "campaign_uuid"
            case members, added, merged, from, reasons
        }
    }

    private func send(_ subject: String, _ value: some Encodable, _ report: inout Report) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return }
        self.publish(subject, Array(data))
        report.published.append(subject)
    }

    private func send(_ change: IdentityChange, _ identities: [AttackerIdentity], _ report: inout Report) {
        let reasons = { (uuid: String) in identities.first { $0.uuid == uuid }?.reasons }
        let message: Message
        switch change {
        case .formed(let uuid, let members):
            message = Message(identityUUID: uuid, members: members, reasons: reasons(uuid))
        case .linked(let uuid, let added):
            message = Message(identityUUID: uuid, added: added, reasons: reasons(uuid))
        case .merged(let winner, let losers):
            message = Message(identityUUID: winner, merged: losers, reasons: reasons(winner))
        case .unmerged(let uuid, let from):
            message = Message(identityUUID: uuid, from: from, reasons: reasons(uuid))
        }
        self.send(change.subject, message, &report)
    }

    private func send(_ change: CampaignChange, _ campaigns: [Campaign], _ report: inout Report) {
        let reasons = { (uuid: String) in campaigns.first { $0.uuid == uuid }?.reasons }
        let message: Message
        switch change {
        case .formed(let uuid, let actors):
            message = Message(campaignUUID: uuid, members: actors, reasons: reasons(uuid))
        case .assigned(let uuid, let added):
            message = Message(campaignUUID: uuid, added: added, reasons: reasons(uuid))
        case .merged(let winner, let losers):
            message = Message(campaignUUID: winner, merged: losers, reasons: reasons(winner))
        }
        self.send(change.subject, message, &report)
    }
}

/// An operator's merge and unmerge, written for the profiler to apply on its next run.
public enum IdentityDecisions {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Folds identity `b` into `a` (and keeps them together from now on).
    @discardableResult
    public static func merge(
        _ a: String,
        _ b: String,
        by user: String,
        in store: any EventStore,
        now: Date = Date()
    ) async throws -> IdentityOverride {
        guard a != b else { throw Refused(description: "an identity cannot be merged with itself") }
        let first = try await Self.identity(a, store)
        let second = try await Self.identity(b, store)
        guard first.state == .active, second.state == .active else {
            throw Refused(description: "only active identities can be merged")
        }
        let decision = IdentityOverride(
            uuid: UUID().uuidString.lowercased(),
            action: .merge,
            first: first.members,
            second: second.members,
            by: user,
            time: now
        )
        try await store.putIntelDocuments(
            [try IntelDocument(kind: "override", key: decision.uuid, value: decision, updated: now)],
            deleting: []
        )
        return decision
    }

    /// Gives a merged identity back its members (apart from the identity it was merged into), or splits
    /// `attackers` off an active identity.
    @discardableResult
    public static func unmerge(
        _ uuid: String,
        attackers: [String]? = nil,
        by user: String,
        in store: any EventStore,
        now: Date = Date()
    ) async throws -> IdentityOverride {
        let identity = try await Self.identity(uuid, store)
        let first: [String]
        let second: [String]
        switch identity.state {
        case .merged:
            guard let into = identity.mergedInto else { throw Refused(description: "identity \(uuid) has no winner") }
            let winner = try await Self.identity(into, store)
            first = identity.members
            second = winner.members.filter { !identity.members.contains($0) }
        case .active:
            guard let attackers, !attackers.isEmpty else {
                throw Refused(description: "identity \(uuid) is not merged: name the attackers to split off")
            }
            let unknown = attackers.filter { !identity.members.contains($0) }
            guard unknown.isEmpty else {
                throw Refused(description: "not members of identity \(uuid): \(unknown.joined(separator: ", "))")
            }
            first = attackers
            second = identity.members.filter { !attackers.contains($0) }
        case .dissolved:
            throw Refused(description: "identity \(uuid) is dissolved")
        }
        guard !second.isEmpty else { throw Refused(description: "nothing would be left to split from") }
        let decision = IdentityOverride(
            uuid: UUID().uuidString.lowercased(),
            action: .split,
            first: first,
            second: second,
            by: user,
            time: now
        )
        try await store.putIntelDocuments(
            [try IntelDocument(kind: "override", key: decision.uuid, value: decision, updated: now)],
            deleting: []
        )
        return decision
    }

    static func identity(_ uuid: String, _ store: any EventStore) async throws -> AttackerIdentity {
        guard let document = try await store.intelDocument(kind: "identity", key: uuid.lowercased()),
            let identity = document.decode(AttackerIdentity.self)
        else { throw Refused(description: "no identity \(uuid)") }
        return identity
    }
}
