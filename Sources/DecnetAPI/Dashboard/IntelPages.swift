import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

/// The dashboard's identity, campaign and bounty pages: what the profiler stored, server-rendered (every value an
/// attacker chose goes through `HTML.escape`).
extension APIServer {
    func addIntelPages(to router: Router<APIRequestContext>) {
        router.get("identities") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.identitiesPage(identity) }
        }
        router.get("identities/:uuid") { request, context -> Response in
            let uuid = try Self.uuid(context)
            return try await self.withPage(request) { identity in try await self.identityPage(identity, uuid: uuid) }
        }
        router.get("campaigns") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.campaignsPage(identity) }
        }
        router.get("campaigns/:uuid") { request, context -> Response in
            let uuid = try Self.uuid(context)
            return try await self.withPage(request) { identity in try await self.campaignPage(identity, uuid: uuid) }
        }
        router.get("bounty") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.bountyPage(identity) }
        }
    }

    static func link(_ kind: String, _ uuid: String) -> String {
        "<a href=\"/\(kind)/\(HTML.component(uuid))\"><code>\(HTML.escape(String(uuid.prefix(8))))</code></a>"
    }

    /// Download links for the STIX bundle and the MISP event of what the page shows.
    static func exportLinks(_ kind: String, _ key: String) -> String {
        let base = "/api/v1/\(kind)/\(HTML.component(key))/export"
        return "<a class=\"button\" id=\"export-stix\" href=\"\(base)/stix\">STIX 2.1</a> "
            + "<a class=\"button\" id=\"export-misp\" href=\"\(base)/misp\">MISP</a>"
    }

    static func attackerLink(_ ip: String) -> String {
        "<a href=\"/attackers/\(HTML.component(ip))\">\(HTML.escape(ip))</a>"
    }

    static func reasons(_ counts: [AttackerIdentity.ReasonCount]) -> String {
        counts.map {
            "<li><strong>\(HTML.escape($0.kind.rawValue))</strong> (\($0.links) link\($0.links == 1 ? "" : "s")): \(HTML.escape($0.detail))</li>"
        }
        .joined()
    }

    static func linkRows(_ links: [ActorLink]) -> [[String]] {
        links.map { link in
            [
                HTML.escape(link.a), HTML.escape(link.b), String(format: "%.2f", link.score),
                link.reasons.map { HTML.escape($0.detail) }.joined(separator: "<br>"),
            ]
        }
    }

    static func memberRows(_ profiles: [StoredAttackerProfile]) -> [[String]] {
        profiles.map { profile in
            [
                Self.attackerLink(profile.ip), HTML.escape(profile.behaviour.behaviour.rawValue),
                String(profile.behaviour.score),
                HTML.escape(profile.evidence.clients.prefix(2).joined(separator: ", ")),
                String(profile.evidence.credentials.count), HTML.time(profile.lastSeen),
            ]
        }
    }

    func identitiesPage(_ identity: Identity) async throws -> String {
        let campaigns = try await self.campaignsByActor()
        let identities = try await self.identities().filter { $0.state == .active }
            .sorted { ($0.members.count, $1.formed) > ($1.members.count, $0.formed) }
        let rows: [[String]] = identities.prefix(500).map { item in
            [
                Self.link("identities", item.uuid), String(item.members.count),
                HTML.escape(item.behaviour?.rawValue ?? ""),
                item.reasons.map { HTML.escape($0.kind.rawValue) }.joined(separator: ", "),
                campaigns[item.uuid].map { Self.link("campaigns", $0) } ?? "",
                HTML.time(item.formed), HTML.time(item.updated),
            ]
        }
        return HTML.page(
            title: "Identities",
            page: "identities",
            identity: identity,
            """
            <h1>Identities <span class="muted">(\(identities.count))</span></h1>
            <p class="muted">Attacker addresses held to be one actor: their links (a rare client fingerprint, the same credential list in the same order, the same commands, the same payload host, the same network) add up to 1.0. A stock client's fingerprint counts for nothing.</p>
            \(HTML.table(["Identity", "Addresses", "Behaviour", "Linked by", "Campaign", "Formed", "Updated"], rows, id: "identities", empty: "No identity yet: no two attackers are linked."))
            """
        )
    }

    func identityPage(_ identity: Identity, uuid: String) async throws -> String {
        let identities = try await self.identities()
        guard let item = identities.first(where: { $0.uuid == uuid }) else {
            return HTML.page(
                title: "Unknown identity",
                page: "identities",
                identity: identity,
                "<h1>No identity \(HTML.escape(uuid))</h1>"
            )
        }
        let campaign = try await self.campaignsByActor()[uuid]
        let merged = identities.filter { $0.mergedInto == uuid }.map { Self.link("identities", $0.uuid) }
        let profiles = try await self.profiles(item.members)
        var state = HTML.escape(item.state.rawValue)
        if let into = item.mergedInto { state += " into " + Self.link("identities", into) }
        return HTML.page(
            title: "Identity \(uuid.prefix(8))",
            page: "identity",
            identity: identity,
            """
            <h1>Identity <code id="identity-uuid">\(HTML.escape(uuid))</code></h1>
            <p id="identity-summary">\(state) · <strong>\(item.members.count)</strong> addresses · \(HTML.escape(item.behaviour?.rawValue ?? "")) · formed \(HTML.time(item.formed))\(campaign.map { " · campaign " + Self.link("campaigns", $0) } ?? "")\(merged.isEmpty ? "" : " · merged from " + merged.joined(separator: ", "))</p>
            <p>\(Self.exportLinks("identities", uuid))</p>
            <section class="panel"><h2>Why one actor</h2><ul id="identity-reasons">\(Self.reasons(item.reasons))</ul></section>
            <section class="panel"><h2>Attackers</h2>\(HTML.table(["Address", "Behaviour", "Score", "Client", "Credentials", "Last seen"], Self.memberRows(profiles), id: "identity-members", empty: "No member."))</section>
            <section class="panel"><h2>Links</h2>\(HTML.table(["Address", "Address", "Score", "Reasons"], Self.linkRows(item.links), id: "identity-links", empty: "No link."))</section>
            <p class="muted">An admin merges or unmerges identities with <code>POST /api/v1/identities/{uuid}/merge</code> and <code>/unmerge</code>.</p>
            """
        )
    }

    func campaignsPage(_ identity: Identity) async throws -> String {
        let campaigns = try await self.campaigns().filter { $0.state == .active }.sorted { $0.last > $1.last }
        let rows: [[String]] = campaigns.prefix(500).map { item in
            [
                Self.link("campaigns", item.uuid), String(item.actors.count), String(item.attackers.count),
                item.reasons.map { HTML.escape($0.kind.rawValue) }.joined(separator: ", "),
                HTML.escape(item.phases.map(\.rawValue).joined(separator: " → ")),
                HTML.time(item.first), HTML.time(item.last),
            ]
        }
        return HTML.page(
            title: "Campaigns",
            page: "campaigns",
            identity: identity,
            """
            <h1>Campaigns <span class="muted">(\(campaigns.count))</span></h1>
            <p class="muted">Identities and lone attackers whose activity is related (shared credentials, commands or payload hosts, with the same pace, targets or phases) and no more than 14 days apart.</p>
            \(HTML.table(["Campaign", "Actors", "Addresses", "Related by", "Phases", "First", "Last"], rows, id: "campaigns", empty: "No campaign yet."))
            """
        )
    }

    func campaignPage(_ identity: Identity, uuid: String) async throws -> String {
        guard let item = try await self.campaigns().first(where: { $0.uuid == uuid }) else {
            return HTML.page(
                title: "Unknown campaign",
                page: "campaigns",
                identity: identity,
                "<h1>No campaign \(HTML.escape(uuid))</h1>"
            )
        }
        let actors = item.actors.map { actor in
            actor.hasPrefix("ip:") ? Self.attackerLink(String(actor.dropFirst(3))) : Self.link("identities", actor)
        }
        let profiles = try await self.profiles(item.attackers)
        return HTML.page(
            title: "Campaign \(uuid.prefix(8))",
            page: "campaign",
            identity: identity,
            """
            <h1>Campaign <code id="campaign-uuid">\(HTML.escape(uuid))</code></h1>
            <p id="campaign-summary">\(HTML.escape(item.state.rawValue)) · <strong>\(item.actors.count)</strong> actors, \(item.attackers.count) addresses · \(HTML.time(item.first)) to \(HTML.time(item.last)) · deckies \(HTML.escape(item.deckies.joined(separator: ", ")))</p>
            <p id="campaign-actors">Actors: \(actors.joined(separator: ", "))</p>
            <p>\(Self.exportLinks("campaigns", uuid))</p>
            <section class="panel"><h2>Why related</h2><ul id="campaign-reasons">\(Self.reasons(item.reasons))</ul></section>
            <section class="panel"><h2>Attackers</h2>\(HTML.table(["Address", "Behaviour", "Score", "Client", "Credentials", "Last seen"], Self.memberRows(profiles), id: "campaign-members", empty: "No member."))</section>
            <section class="panel"><h2>Links</h2>\(HTML.table(["Actor", "Actor", "Score", "Reasons"], Self.linkRows(item.links), id: "campaign-links", empty: "No link."))</section>
            """
        )
    }

    func bountyPage(_ identity: Identity) async throws -> String {
        let leaders = try await self.store.intelDocuments(kind: "profile")
            .compactMap { $0.decode(StoredAttackerProfile.self) }
            .sorted { ($0.behaviour.score, $1.ip) > ($1.behaviour.score, $0.ip) }
            .prefix(20)
        let leaderRows: [[String]] = leaders.map { profile in
            [
                Self.attackerLink(profile.ip), String(profile.behaviour.score),
                HTML.escape(profile.behaviour.behaviour.rawValue),
                HTML.escape(profile.behaviour.phases.map(\.phase.rawValue).joined(separator: " → ")),
                profile.identity.map { Self.link("identities", $0) } ?? "",
            ]
        }
        let items = try await self.store.bountyBoard(kind: nil, limit: 200, offset: 0)
        let rows: [[String]] = items.map { bounty in
            let payload = bounty.payload.sorted { $0.key < $1.key }.filter { $0.key != "event_type" }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return [
                HTML.time(bounty.time), HTML.escape(bounty.kind), Self.attackerLink(bounty.attackerIP),
                HTML.escape(bounty.decky), HTML.escape(bounty.service),
                "<code>\(HTML.escape(String(payload.prefix(300))))</code>",
            ]
        }
        return HTML.page(
            title: "Bounty",
            page: "bounty",
            identity: identity,
            """
            <h1>Bounty</h1>
            <section class="panel"><h2>Top attackers by score</h2>\(HTML.table(["Address", "Score", "Behaviour", "Phases", "Identity"], leaderRows, id: "bounty-leaders", empty: "Nothing profiled yet."))</section>
            <section class="panel"><h2>Harvested, newest first</h2>\(HTML.table(["Time", "Kind", "Attacker", "Decky", "Service", "Payload"], rows, id: "bounty", empty: "Nothing harvested yet."))</section>
            """
        )
    }
}
