import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

/// The dashboard's canary and webhook pages, and the canary alert at the top of the overview. A trigger's
/// fields (its URL, user agent, DNS name) are the attacker's text, and go through `HTML.escape` like the rest.
extension APIServer {
    func addCanaryPages(to router: Router<APIRequestContext>) {
        router.get("canary") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.canaryPage(identity) }
        }
        router.get("webhooks") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.webhooksPage(identity) }
        }
    }

    /// The overview's alert: the latest canary triggers, or nothing when no token ever fired. A trigger is the
    /// surest sign of an intruder a decky gives (someone took a planted file and used it), so it comes first.
    func canaryAlert() async throws -> String {
        let query = LogQuery(eventType: .canaryTriggered, limit: 5)
        let events = try await self.store.logs(query)
        guard !events.isEmpty else { return "" }
        let total = try await self.store.countLogs(query)
        let rows: [[String]] = events.map(CanaryTriggerBody.init).map { trigger in
            [
                HTML.time(trigger.time), "<strong>\(HTML.escape(trigger.label))</strong>", HTML.escape(trigger.type),
                Self.planted(trigger.plantedDecky, trigger.plantedPath), Self.attackerLink(trigger.source),
                HTML.escape(trigger.via),
            ]
        }
        return """
            <section class="alert" id="canary-alert" role="alert">
            <h2>Canary token\(total == 1 ? "" : "s") triggered <span class="count">(\(total))</span></h2>
            <p>Someone used a file planted on a decky: opened it, fetched its URL or looked up its name.</p>
            \(HTML.table(["Time", "Label", "Token", "Planted at", "Source", "Via"], rows, id: "canary-alert-triggers", empty: ""))
            <p><a href="/canary">Every token and trigger →</a></p>
            </section>
            """
    }

    /// Where a token was planted, `decky:path`, or that it was only minted (for the operator to place).
    static func planted(_ decky: String?, _ path: String?) -> String {
        guard let decky else { return "<span class=\"muted\">nowhere (minted)</span>" }
        return "<code>\(HTML.escape(decky)):\(HTML.escape(path ?? ""))</code>"
    }

    /// What a trigger tells beyond who: the request (method, URL, user agent) or the DNS question.
    static func triggerDetail(_ trigger: CanaryTriggerBody) -> String {
        let text =
            trigger.via == "dns"
            ? [trigger.qname, trigger.qtype].compactMap { $0 }.joined(separator: " ")
            : [trigger.method, trigger.url, trigger.userAgent.map { "· \($0)" }].compactMap { $0 }.joined(
                separator: " "
            )
        return "<code>\(HTML.escape(String(text.prefix(300))))</code>"
    }

    func canaryPage(_ identity: Identity) async throws -> String {
        let tokens = CanaryTokenDirectory(stateDirectory: self.settings.stateDirectory).all().reversed()
        let admin = identity.role == .admin
        var rows: [[String]] = []
        for token in tokens.prefix(1000) {
            let state =
                token.revoked.map { "<span class=\"state revoked\">revoked</span> \(HTML.time($0))" }
                ?? "<span class=\"state active\">active</span>"
            let revoke =
                admin && token.isActive
                ? "<button type=\"button\" class=\"small\" data-canary-revoke=\"\(HTML.escape(token.id))\">revoke</button>"
                : ""
            rows.append([
                "<code>\(HTML.escape(token.id))</code>", HTML.escape(token.kind.rawValue),
                HTML.escape(token.label), state, String(try await self.canaryTriggerCount(token.id)),
                Self.planted(token.decky, token.path), "<code>\(HTML.escape(token.url ?? token.hostname ?? ""))</code>",
                HTML.time(token.created), revoke,
            ])
        }
        let triggers = try await self.store.logs(LogQuery(eventType: .canaryTriggered, limit: 100))
        let triggerRows: [[String]] = triggers.map(CanaryTriggerBody.init).map { trigger in
            [
                HTML.time(trigger.time), HTML.escape(trigger.label), "<code>\(HTML.escape(trigger.token))</code>",
                HTML.escape(trigger.type), HTML.escape(trigger.via), Self.attackerLink(trigger.source),
                HTML.escape(trigger.decky), Self.planted(trigger.plantedDecky, trigger.plantedPath),
                Self.triggerDetail(trigger),
            ]
        }
        return HTML.page(
            title: "Canary tokens",
            page: "canary",
            identity: identity,
            """
            <h1>Canary tokens <span class="muted">(\(tokens.count))</span></h1>
            <p class="muted">Files planted on deckies (a <code>.env</code> with a URL, an SSH config naming a host, a document or picture that loads a URL, a mail with a link) that call home to the canary service when used. Plant one with <code>decnet canary plant</code> or <code>POST /api/v1/canary</code>.</p>
            \(admin ? self.plantForm() : "")
            <p class="error" id="canary-error" role="alert"></p>
            <section class="panel"><h2>Tokens</h2>
            \(HTML.table(["Token", "Type", "Label", "State", "Triggers", "Planted at", "Fires on", "Created", ""], rows, id: "canary-tokens", empty: "No canary token planted."))
            </section>
            <section class="panel"><h2>Latest triggers</h2>
            <p class="muted">The source of a <code>dns</code> trigger is the resolver that asked for the intruder, not the intruder.</p>
            \(HTML.table(["Time", "Label", "Token", "Type", "Via", "Source", "Answered by", "Planted at", "Detail"], triggerRows, id: "canary-triggers", empty: "No token has fired."))
            </section>
            """
        )
    }

    /// The admin's form to plant a token on a decky of the fleet (or mint one to place by hand).
    func plantForm() -> String {
        let deckies = (try? self.fleet.state()?.fleet.deckies.map(\.name)) ?? []
        let options =
            "<option value=\"\">no decky (only mint it)</option>"
            + deckies.map { "<option value=\"\(HTML.escape($0))\">\(HTML.escape($0))</option>" }.joined()
        let kinds = CanaryToken.Kind.allCases.map { "<option>\($0.rawValue)</option>" }.joined()
        return """
            <form id="canary-plant" class="filters">
            <select id="canary-type" aria-label="type">\(kinds)</select>
            <input id="canary-label" placeholder="label (what it is, for people)" maxlength="200" required>
            <select id="canary-decky" aria-label="decky">\(options)</select>
            <input id="canary-path" placeholder="path on the decky (default per type)" maxlength="1024">
            <button type="submit">Plant</button>
            </form>
            """
    }

    func webhooksPage(_ identity: Identity) async throws -> String {
        let subscriptions = try await WebhookStore.all(self.store)
        let admin = identity.role == .admin
        var sections = ""
        for subscription in subscriptions {
            let uuid = HTML.escape(subscription.uuid)
            let attempts = try await WebhookStore.deliveries(subscription.uuid, in: self.store).prefix(10)
            let rows: [[String]] = attempts.map { attempt in
                let result =
                    attempt.delivered
                    ? "<span class=\"ok\">delivered (HTTP \(attempt.status ?? 0))</span>"
                    : "<span class=\"error\">\(HTML.escape(attempt.status.map { "HTTP \($0)" } ?? attempt.error ?? "no answer"))</span>"
                return [
                    HTML.time(attempt.time), "<code>\(HTML.escape(attempt.id))</code>", HTML.escape(attempt.subject),
                    String(attempt.attempt), result,
                ]
            }
            // A chat service's incoming-webhook URL is itself a credential: only admins see it.
            let url = admin ? "<code>\(HTML.escape(subscription.url))</code> · " : ""
            let test =
                admin
                ? "<p><button type=\"button\" class=\"small\" data-webhook-test=\"\(uuid)\">Send test</button> "
                    + "<span class=\"test-result\" id=\"test-result-\(uuid)\" role=\"status\"></span></p>" : ""
            sections += """
                <section class="panel webhook" id="webhook-\(uuid)">
                <h2>\(HTML.escape(subscription.name)) <span class="muted">\(HTML.escape(subscription.format.rawValue)) · \(subscription.enabled ? "enabled" : "disabled")</span></h2>
                <p>\(url)topics <code>\(HTML.escape(subscription.topics.joined(separator: " ")))</code> · created \(HTML.time(subscription.created)) · <code class="muted">\(uuid)</code></p>
                \(test)
                \(HTML.table(["Time", "Delivery", "Subject", "Attempt", "Result"], rows, id: "deliveries-\(uuid)", empty: "Nothing delivered yet."))
                </section>
                """
        }
        return HTML.page(
            title: "Webhooks",
            page: "webhooks",
            identity: identity,
            """
            <h1>Webhooks <span class="muted">(\(subscriptions.count))</span></h1>
            <p class="muted">Bus messages delivered to HTTP receivers, signed (Standard Webhooks: <code>webhook-signature: v1,…</code>), by the profiler's process; each subscription's latest deliveries below. Add one with <code>decnet webhook create</code> or <code>POST /api/v1/webhooks</code>.</p>
            <p class="error" id="webhook-error" role="alert"></p>
            \(sections.isEmpty ? "<p class=\"panel muted\" id=\"no-webhooks\">No webhook subscription.</p>" : sections)
            """
        )
    }
}
