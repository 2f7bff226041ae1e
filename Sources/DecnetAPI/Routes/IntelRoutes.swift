import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/identities`, `/campaigns` and `/bounty`: what the profiler made of the attackers (it stores them; these
    /// routes read them), and an operator's merge and unmerge.
    func addIntelligence(to group: RouterGroup<APIRequestContext>) {
        group.get("identities") { request, _ -> Page<IdentityBody> in
            let reader = QueryReader(request)
            let state = try reader.choice("state", default: StateFilter.active)
            let limit = try reader.integer("limit", in: 1...1000, default: 50)
            let offset = try reader.integer("offset", in: 0...10_000_000, default: 0)
            let campaigns = try await self.campaignsByActor()
            let identities = try await self.identities()
                .filter { state == .all || $0.state.rawValue == state.rawValue }
                .sorted { ($0.members.count, $1.formed, $1.uuid) > ($1.members.count, $0.formed, $0.uuid) }
            return Page(
                total: identities.count,
                limit: limit,
                offset: offset,
                items: identities.dropFirst(offset).prefix(limit).map { IdentityBody($0, campaign: campaigns[$0.uuid]) }
            )
        }
        group.get("identities/:uuid") { _, context -> IdentityDetail in
            let uuid = try Self.uuid(context)
            let identities = try await self.identities()
            guard let identity = identities.first(where: { $0.uuid == uuid }) else {
                throw APIError.notFound("no identity \(uuid)")
            }
            let profiles = try await self.profiles(identity.members)
            return IdentityDetail(
                identity: IdentityBody(identity, campaign: try await self.campaignsByActor()[uuid]),
                links: identity.links.map(LinkBody.init),
                attackers: profiles.map(MemberBody.init),
                merged: identities.filter { $0.mergedInto == uuid }.map(\.uuid)
            )
        }
        group.post("identities/:uuid/merge") { request, context -> EditedResponse<DecisionBody> in
            let user = try context.requireAdmin()
            let uuid = try Self.uuid(context)
            let body = try await request.decode(as: MergeRequest.self, context: context)
            let decision = try await self.decide {
                try await IdentityDecisions.merge(uuid, body.identity.lowercased(), by: user.username, in: self.store)
            }
            return EditedResponse(status: .accepted, response: DecisionBody(decision))
        }
        group.post("identities/:uuid/unmerge") { request, context -> EditedResponse<DecisionBody> in
            let user = try context.requireAdmin()
            let uuid = try Self.uuid(context)
            let body = try await request.decode(as: UnmergeRequest.self, context: context)
            let decision = try await self.decide {
                try await IdentityDecisions.unmerge(uuid, attackers: body.attackers, by: user.username, in: self.store)
            }
            return EditedResponse(status: .accepted, response: DecisionBody(decision))
        }
        group.get("campaigns") { request, _ -> Page<CampaignBody> in
            let reader = QueryReader(request)
            let state = try reader.choice("state", default: StateFilter.active)
            let limit = try reader.integer("limit", in: 1...1000, default: 50)
            let offset = try reader.integer("offset", in: 0...10_000_000, default: 0)
            let campaigns = try await self.campaigns()
                .filter { state == .all || $0.state.rawValue == state.rawValue }
                .sorted { ($0.last, $0.uuid) > ($1.last, $1.uuid) }
            return Page(
                total: campaigns.count,
                limit: limit,
                offset: offset,
                items: campaigns.dropFirst(offset).prefix(limit).map(CampaignBody.init)
            )
        }
        group.get("campaigns/:uuid") { _, context -> CampaignDetail in
            let uuid = try Self.uuid(context)
            guard let campaign = try await self.campaigns().first(where: { $0.uuid == uuid }) else {
                throw APIError.notFound("no campaign \(uuid)")
            }
            let actors = Set(campaign.actors)
            let identities = try await self.identities().filter { actors.contains($0.uuid) }
            return CampaignDetail(
                campaign: CampaignBody(campaign),
                links: campaign.links.map(LinkBody.init),
                identities: identities.map { IdentityBody($0, campaign: uuid) },
                attackers: try await self.profiles(campaign.attackers).map(MemberBody.init)
            )
        }
        group.get("attackers/:ip/export/:format") { _, context -> Response in
            try await self.export(.attackers([try Self.attackerIP(context)]), context)
        }
        group.get("identities/:uuid/export/:format") { _, context -> Response in
            try await self.export(.identity(try Self.uuid(context)), context)
        }
        group.get("campaigns/:uuid/export/:format") { _, context -> Response in
            try await self.export(.campaign(try Self.uuid(context)), context)
        }
        group.get("bounty") { request, _ -> Response in
            let reader = QueryReader(request)
            let kind = try reader.choice("kind", default: BountyKind.all)
            let limit = try reader.integer("limit", in: 1...1000, default: 50)
            let offset = try reader.integer("offset", in: 0...10_000_000, default: 0)
            return try await self.cache.json(request.uri.description) {
                let filter = kind == .all ? nil : kind.rawValue
                let items = try await self.store.bountyBoard(kind: filter, limit: limit, offset: offset)
                let total = try await self.store.bountyCount(kind: filter)
                let leaders = try await self.store.intelDocuments(kind: "profile")
                    .compactMap { $0.decode(StoredAttackerProfile.self) }
                    .filter { $0.behaviour.score > 0 }
                    .sorted { ($0.behaviour.score, $1.ip) > ($1.behaviour.score, $0.ip) }
                    .prefix(20)
                return BountyBoard(
                    total: total,
                    limit: limit,
                    offset: offset,
                    items: items.map {
                        BountyBoard.Item(
                            time: $0.time,
                            kind: $0.kind,
                            attackerIP: $0.attackerIP,
                            decky: $0.decky,
                            service: $0.service,
                            payload: $0.payload
                        )
                    },
                    leaders: leaders.map {
                        BountyBoard.Leader(
                            attackerIP: $0.ip,
                            score: $0.behaviour.score,
                            behaviour: $0.behaviour.behaviour.rawValue,
                            identity: $0.identity,
                            credentials: $0.evidence.credentials.count,
                            phases: $0.behaviour.phases.map(\.phase.rawValue)
                        )
                    }
                )
            }
        }
    }

    enum StateFilter: String, CaseIterable { case active, merged, dissolved, all }
    enum ExportKind: String, CaseIterable { case stix, misp }

    /// A STIX 2.1 bundle or a MISP event of what the profiler stored, as a download.
    func export(_ scope: ExportScope, _ context: APIRequestContext) async throws -> Response {
        let text = try context.parameters.require("format")
        guard let kind = ExportKind(rawValue: text) else { throw APIError.badRequest("format must be stix or misp") }
        let input: STIXExport.Input
        do {
            input = try await scope.input(from: self.store)
        } catch let missing as ExportScope.NotFound {
            throw APIError.notFound(missing.description)
        }
        let data = kind == .stix ? STIXExport.json(input) : MISPExport.json(input)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/json",
                .contentDisposition: "attachment; filename=\"decnet-\(kind.rawValue).json\"",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
    enum BountyKind: String, CaseIterable { case all, credential, fingerprint, artifact, download }

    static func uuid(_ context: APIRequestContext) throws -> String {
        let uuid = try context.parameters.require("uuid").lowercased()
        guard uuid.count <= 64, uuid.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw APIError.badRequest("'\(uuid.prefix(64))' is not a uuid")
        }
        return uuid
    }

    /// Runs an operator's decision, a refusal answered 400 (404 when the identity does not exist), and wakes an
    /// embedded profiler so it applies at once.
    func decide(_ body: () async throws -> IdentityOverride) async throws -> IdentityOverride {
        do {
            let decision = try await body()
            self.settings.profilerWake?()
            return decision
        } catch let refused as IdentityDecisions.Refused {
            if refused.description.hasPrefix("no identity") { throw APIError.notFound(refused.description) }
            throw APIError.badRequest(refused.description)
        }
    }

    func identities() async throws -> [AttackerIdentity] {
        try await self.store.intelDocuments(kind: "identity").compactMap { $0.decode(AttackerIdentity.self) }
    }

    func campaigns() async throws -> [Campaign] {
        try await self.store.intelDocuments(kind: "campaign").compactMap { $0.decode(Campaign.self) }
    }

    /// The active campaign of each identity.
    func campaignsByActor() async throws -> [String: String] {
        var byActor: [String: String] = [:]
        for campaign in try await self.campaigns() where campaign.state == .active {
            for actor in campaign.actors { byActor[actor] = campaign.uuid }
        }
        return byActor
    }

    /// The stored profiles of these addresses (those the profiler has seen), in order.
    func profiles(_ ips: [String]) async throws -> [StoredAttackerProfile] {
        var found: [StoredAttackerProfile] = []
        for ip in ips.prefix(1000) {
            if let profile = try await self.store.intelDocument(kind: "profile", key: ip)?.decode(
                StoredAttackerProfile.self
            ) {
                found.append(profile)
            }
        }
        return found
    }
}
