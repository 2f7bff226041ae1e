import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird
import JWTKit
import NIOCore

/// The dashboard: server-rendered pages (the data is in the HTML when it arrives) and one small script for what
/// must move without a reload: the live feed (SSE), the events chart, logging in and out, fleet actions.
extension APIServer {
    func addDashboard(to router: Router<APIRequestContext>) {
        router.get("/") { request, _ -> Response in
            Response(
                status: .seeOther,
                headers: [.location: await self.pageIdentity(request) == nil ? "/login" : "/overview"]
            )
        }
        router.get("static/app.css") { _, _ in Self.asset(DashboardAssets.css, type: "text/css; charset=utf-8") }
        router.get("static/app.js") { _, _ in
            Self.asset(
                DashboardAssets.javascript + "\n" + DashboardAssets.topologyJavascript,
                type: "text/javascript; charset=utf-8"
            )
        }
        router.get("login") { _, _ -> Response in
            Self.html(
                HTML.page(
                    title: "Log in",
                    page: "login",
                    identity: nil,
                    """
                    <form id="login-form" class="panel narrow">
                    <h1>Log in</h1>
                    <label>Username <input name="username" id="username" autocomplete="username" required></label>
                    <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
                    <button type="submit">Log in</button>
                    <p class="error" id="login-error" role="alert"></p>
                    </form>
                    """
                )
            )
        }
        router.get("password") { request, _ -> Response in
            guard let identity = await self.pageIdentity(request) else { return Self.redirect("/login") }
            let notice =
                identity.mustChangePassword
                ? "<p class=\"notice\">This is the first login: choose a new password to continue.</p>" : ""
            return Self.html(
                HTML.page(
                    title: "Change password",
                    page: "password",
                    identity: identity,
                    """
                    <form id="password-form" class="panel narrow">
                    <h1>Change password</h1>
                    \(notice)
                    <label>Current password <input id="old-password" type="password" autocomplete="current-password" required></label>
                    <label>New password (8 characters or more) <input id="new-password" type="password" autocomplete="new-password" minlength="8" required></label>
                    <button type="submit">Change password</button>
                    <p class="error" id="password-error" role="alert"></p>
                    </form>
                    """
                )
            )
        }
        router.get("overview") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.overviewPage(identity) }
        }
        router.get("deckies") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.deckiesPage(identity) }
        }
        router.get("attackers") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.attackersPage(identity, QueryReader(request))
            }
        }
        router.get("attackers/:ip") { request, context -> Response in
            let ip = try Self.attackerIP(context)
            return try await self.withPage(request) { identity in try await self.attackerPage(identity, ip: ip) }
        }
        router.get("logs") { request, _ -> Response in
            try await self.withPage(request) { identity in try await self.logsPage(identity, QueryReader(request)) }
        }
        self.addIntelPages(to: router)
        self.addCanaryPages(to: router)
        self.addSwarmPages(to: router)
        self.addTopologyPages(to: router)
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func redirect(_ location: String) -> Response { Response(status: .seeOther, headers: [.location: location]) }

    /// The identity of the session cookie (or a bearer header), nil when there is none or it is no longer valid.
    func pageIdentity(_ request: Request) async -> Identity? {
        guard case (let token?, _) = AuthenticationMiddleware.token(in: request),
            let user = try? await AuthenticationMiddleware.user(of: token, tokens: self.tokens, users: self.users)
        else { return nil }
        return Identity(username: user.username, role: user.role, mustChangePassword: user.mustChangePassword)
    }

    /// A page for a logged-in user; to the login page otherwise, to the password page while a change is due.
    func withPage(_ request: Request, _ render: (Identity) async throws -> String) async throws -> Response {
        guard let identity = await self.pageIdentity(request) else { return Self.redirect("/login") }
        if identity.mustChangePassword { return Self.redirect("/password") }
        return Self.html(try await render(identity))
    }

    func overviewPage(_ identity: Identity) async throws -> String {
        let statistics = try await self.store.statistics(now: Date())
        let fleet = try await self.fleet.snapshot()
        let running = fleet.deckies.filter { $0.state == "running" }.count
        let cards = [
            HTML.card("deckies up", "\(running) / \(fleet.deckies.count)", id: "stat-deckies"),
            HTML.card("attackers today", String(statistics.attackersToday), id: "stat-attackers-today"),
            HTML.card("attackers", String(statistics.attackers), id: "stat-attackers"),
            HTML.card("events (last hour)", String(statistics.eventsLastHour), id: "stat-events-hour"),
            HTML.card("credentials", String(statistics.credentials), id: "stat-credentials"),
            HTML.card("moved between deckies", String(statistics.traversals), id: "stat-traversals"),
        ].joined()
        let alert = try await self.canaryAlert()
        return HTML.page(
            title: "Overview",
            page: "overview",
            identity: identity,
            """
            \(alert)
            <h1>Overview</h1>
            <section class="cards">\(cards)</section>
            <section class="panel">
            <h2>Events per minute <span class="muted">(last hour)</span></h2>
            <svg id="events-chart" class="chart" viewBox="0 0 720 160" preserveAspectRatio="none" role="img" aria-label="events per minute"></svg>
            </section>
            <section class="panel">
            <h2>Live feed <span id="feed-state" class="muted">connecting…</span></h2>
            \(HTML.table(["Time", "Attacker", "Decky", "Service", "Event", "Detail"], [], id: "live-feed", empty: "Waiting for events…"))
            </section>
            """
        )
    }

    func deckiesPage(_ identity: Identity) async throws -> String {
        let fleet = try await self.fleet.snapshot()
        let rows: [[String]] = fleet.deckies.map { decky in
            let services = decky.services.map { service in
                "<span class=\"service \(service.listening ? "up" : "down")\">\(HTML.escape(service.service)):\(service.port)</span>"
            }.joined(separator: " ")
            var actions = ""
            if identity.role == .admin {
                actions = ["start", "stop", "restart"].map {
                    "<button type=\"button\" class=\"small\" data-action=\"\($0)\" data-decky=\"\(HTML.escape(decky.name))\">\($0)</button>"
                }.joined(separator: " ")
            }
            return [
                "<strong>\(HTML.escape(decky.name))</strong>",
                "<span class=\"state \(decky.state)\">\(decky.state)</span>",
                HTML.escape(decky.ip), HTML.escape(decky.mac), HTML.escape(decky.hostname),
                HTML.escape("\(decky.distro) (\(decky.osFamily))"), services, actions,
            ]
        }
        let summary =
            fleet.deckies.isEmpty
            ? "No fleet is deployed in this state directory (<code>decnet deploy</code>)."
            : "\(fleet.deckies.count) deckies, driver \(HTML.escape(fleet.driver ?? "?")), engine \(fleet.engineRunning ? "running" : "not running")."
        return HTML.page(
            title: "Deckies",
            page: "deckies",
            identity: identity,
            """
            <h1>Deckies</h1>
            <p id="fleet-summary">\(summary)</p>
            <p class="error" id="action-error" role="alert"></p>
            \(HTML.table(["Name", "State", "IP", "MAC", "Hostname", "OS", "Services", ""], rows, id: "fleet", empty: "No deckies."))
            """
        )
    }

    func attackersPage(_ identity: Identity, _ reader: QueryReader) async throws -> String {
        let query = try Self.attackerQuery(reader)
        let page = try await self.store.attackers(query)
        let rows: [[String]] = page.items.map { attacker in
            [
                "<a href=\"/attackers/\(HTML.component(attacker.ip))\">\(HTML.escape(attacker.ip))</a>",
                HTML.time(attacker.firstSeen), HTML.time(attacker.lastSeen), String(attacker.eventCount),
                String(attacker.loginAttempts), HTML.escape(attacker.services.joined(separator: ", ")),
                HTML.escape(Self.origin(self.geo?.lookup(attacker.ip).map(GeoBody.init))),
                HTML.escape(attacker.traversalPath),
            ]
        }
        func value(_ text: String?) -> String { HTML.escape(text ?? "") }
        var paging = ""
        if query.offset > 0 {
            paging +=
                "<a href=\"?search=\(HTML.component(query.search ?? ""))&offset=\(max(0, query.offset - query.limit))\">← newer</a> "
        }
        if query.offset + page.items.count < page.total {
            paging +=
                "<a href=\"?search=\(HTML.component(query.search ?? ""))&offset=\(query.offset + query.limit)\">older →</a>"
        }
        return HTML.page(
            title: "Attackers",
            page: "attackers",
            identity: identity,
            """
            <h1>Attackers <span class="muted">(\(page.total))</span></h1>
            <form class="filters" method="get" action="/attackers">
            <input name="search" placeholder="address contains" value="\(value(query.search))">
            <input name="service" placeholder="service" value="\(value(query.service))">
            <input name="decky" placeholder="decky" value="\(value(query.decky))">
            <label class="inline"><input type="checkbox" name="traversal" value="true"\(query.traversalOnly ? " checked" : "")> moved between deckies</label>
            <button type="submit">Filter</button>
            <a class="button" href="/api/v1/attackers/export?format=csv">CSV</a>
            </form>
            \(HTML.table(["Address", "First seen", "Last seen", "Events", "Logins", "Services", "Origin", "Path"], rows, id: "attackers", empty: "No attacker yet."))
            <p class="paging">\(paging)</p>
            """
        )
    }

    func attackerPage(_ identity: Identity, ip: String) async throws -> String {
        guard let profile = try await self.store.attacker(ip: ip) else {
            return HTML.page(
                title: "Unknown attacker",
                page: "attackers",
                identity: identity,
                "<h1>No attacker \(HTML.escape(ip))</h1>"
            )
        }
        let bounty = try await self.store.bounty(attackerIP: ip, limit: 500)
        let credentials: [[String]] = bounty.filter { $0.kind == "credential" }.map {
            [
                HTML.time($0.time), HTML.escape($0.decky), HTML.escape($0.service),
                "<code>\(HTML.escape($0.payload["username"] ?? ""))</code>",
                "<code>\(HTML.escape($0.payload["password"] ?? ""))</code>",
                $0.payload["success"] == "true" ? "<span class=\"state running\">accepted</span>" : "refused",
            ]
        }
        let fingerprints: [[String]] = profile.fingerprints.sorted { $0.key < $1.key }.map {
            [HTML.escape($0.key), $0.value.map { "<code>\(HTML.escape($0))</code>" }.joined(separator: "<br>")]
        }
        let commands = try await self.store.logs(LogQuery(eventType: .commandInput, attackerIP: ip, limit: 2_000))
        let sessions = Self.transcripts(commands).map { session in
            let lines = session.commands.map {
                "<div class=\"line\"><span class=\"prompt\">$</span> \(HTML.escape($0.command))</div>"
            }
            .joined()
            return
                "<details class=\"transcript\" open><summary>\(HTML.escape(session.decky)) · \(HTML.escape(session.service)) · "
                + "\(HTML.time(session.started))</summary><div class=\"terminal\">\(lines)</div></details>"
        }.joined()
        let timeline = try await self.store.logs(LogQuery(attackerIP: ip, limit: 200)).map { event -> [String] in
            let detail = event.fields.prefix(4).map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            return [
                HTML.time(event.time), HTML.escape(event.decky), HTML.escape(event.service.rawValue),
                HTML.escape(event.id.rawValue), "<code>\(HTML.escape(String(detail.prefix(200))))</code>",
            ]
        }
        let hops = profile.traversalPath.components(separatedBy: " -> ")
        let events = try await TraversalStep.events(self.store, ip: ip)
        let steps = TraversalStep.steps(events)
        let behaviour = AttackerProfiler.profile(events)
        let stored = try await self.store.intelDocument(kind: "profile", key: ip)?.decode(StoredAttackerProfile.self)
        var belongs: [String] = []
        if let uuid = stored?.identity { belongs.append("identity " + Self.link("identities", uuid)) }
        if let uuid = stored?.campaign { belongs.append("campaign " + Self.link("campaigns", uuid)) }
        let techniqueRows: [[String]] = (stored?.techniques ?? TTPRuleSet.standard.tag(events, profile: behaviour)).map
        {
            tag in
            [
                "<a href=\"\(HTML.escape(AttackCatalogue.technique(tag.technique)?.url ?? ""))\"><code>\(HTML.escape(tag.technique))</code></a>",
                HTML.escape(tag.name), HTML.escape(tag.tactics.joined(separator: ", ")), HTML.escape(tag.rule),
                HTML.time(tag.first), String(tag.count), "<code>\(HTML.escape(tag.evidence))</code>",
            ]
        }
        let keystrokes =
            behaviour.keystrokes.map { "<p id=\"attacker-keystrokes\">Keystrokes: \(HTML.escape($0.summary))</p>" }
            ?? ""
        let phaseItems = behaviour.phases.map { phase in
            "<li><strong>\(HTML.escape(phase.phase.rawValue))</strong> <span class=\"muted\">\(HTML.time(phase.first))</span> \(HTML.escape(phase.evidence))</li>"
        }.joined()
        let toolRows: [[String]] = behaviour.tools.map {
            [HTML.escape($0.tool), "<code>\(HTML.escape($0.evidence))</code>", HTML.escape($0.source)]
        }
        let stepItems = steps.map { step in
            "<li class=\"step \(step.kind.rawValue)\">\(HTML.escape(step.label)) <span class=\"muted\">\(HTML.time(step.first))</span></li>"
        }.joined()
        let cards = [
            HTML.card("events", String(profile.eventCount), id: "attacker-events"),
            HTML.card("login attempts", String(profile.loginAttempts), id: "attacker-logins"),
            HTML.card("credentials", String(profile.credentialCount), id: "attacker-credentials"),
            HTML.card("commands", String(profile.commandCount), id: "attacker-commands"),
        ].joined()
        return HTML.page(
            title: ip,
            page: "attacker",
            identity: identity,
            """
            <h1>Attacker <code>\(HTML.escape(ip))</code></h1>
            <p class="muted">First seen \(HTML.time(profile.firstSeen)), last seen \(HTML.time(profile.lastSeen)); services \(HTML.escape(profile.services.joined(separator: ", "))).</p>
            <p id="attacker-location">Location: \(HTML.escape(self.geo?.lookup(ip).map(GeoBody.init)?.summary ?? "no location database installed"))</p>
            <section class="cards">\(cards)</section>
            <section class="panel"><h2>Behaviour</h2><p id="attacker-behaviour"><strong>\(HTML.escape(behaviour.behaviour.rawValue))</strong> · score \(behaviour.score) · \(HTML.escape(behaviour.evidence.joined(separator: "; ")))</p>
            <p>\(Self.exportLinks("attackers", ip))</p>
            <p id="attacker-belongs">\(belongs.isEmpty ? "Acts alone: in no identity or campaign (yet)." : "Part of " + belongs.joined(separator: " and "))</p>
            \(keystrokes)
            <ol id="attacker-phases">\(phaseItems)</ol>
            \(HTML.table(["Tool", "Evidence", "Signature source"], toolRows, id: "attacker-tools", empty: "No tool named."))</section>
            <section class="panel"><h2>Techniques (ATT&amp;CK \(AttackCatalogue.release))</h2>\(HTML.table(["Technique", "Name", "Tactics", "Rule", "First", "Events", "Evidence"], techniqueRows, id: "attacker-techniques", empty: "No technique tagged."))<p class="muted">\(HTML.escape(AttackCatalogue.notice))</p></section>
            <section class="panel"><h2>Movement</h2>\(TraversalDrawing.svg(steps: steps))<ol id="traversal-steps">\(stepItems)</ol>
            <details><summary>Traversal path, hop by hop (\(hops.count) decky visits)</summary><p><code id="traversal-path">\(HTML.escape(profile.traversalPath))</code></p></details></section>
            <section class="panel"><h2>Credentials</h2>\(HTML.table(["Time", "Decky", "Service", "Username", "Password", ""], credentials, id: "credentials", empty: "None tried."))</section>
            <section class="panel"><h2>Commands</h2>\(sessions.isEmpty ? "<p class=\"muted\">No shell session.</p>" : sessions)</section>
            <section class="panel"><h2>Fingerprints</h2>\(HTML.table(["Kind", "Values"], fingerprints, id: "fingerprints", empty: "None."))</section>
            <section class="panel"><h2>Timeline</h2>\(HTML.table(["Time", "Decky", "Service", "Event", "Fields"], timeline, id: "timeline", empty: "No events."))</section>
            """
        )
    }

    func logsPage(_ identity: Identity, _ reader: QueryReader) async throws -> String {
        var query = try Self.logQuery(reader)
        query.limit = min(query.limit, 200)
        async let total = self.store.countLogs(query)
        let events = try await self.store.logs(query)
        let rows: [[String]] = events.map { event in
            let fields = event.fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
            return [
                HTML.time(event.time),
                "<a href=\"/attackers/\(HTML.component(event.source.ip))\">\(HTML.escape(event.source.ip))</a>",
                HTML.escape(event.decky), HTML.escape(event.service.rawValue), HTML.escape(event.id.rawValue),
                "<code>\(HTML.escape(String(fields.prefix(300))))</code>",
            ]
        }
        func value(_ name: String) -> String { HTML.escape((try? reader.string(name, maximumLength: 512)) ?? "") }
        let count = try await total
        return HTML.page(
            title: "Logs",
            page: "logs",
            identity: identity,
            """
            <h1>Logs <span class="muted">(\(count) matching)</span></h1>
            <form class="filters" method="get" action="/logs">
            <input name="event_type" placeholder="event type (login.failed)" value="\(value("event_type"))">
            <input name="attacker_ip" placeholder="attacker address" value="\(value("attacker_ip"))">
            <input name="decky" placeholder="decky" value="\(value("decky"))">
            <input name="service" placeholder="service" value="\(value("service"))">
            <input name="field" placeholder="field name:value (username:root)" value="\(value("field"))">
            <button type="submit">Search</button>
            </form>
            \(HTML.table(["Time", "Attacker", "Decky", "Service", "Event", "Fields"], rows, id: "logs", empty: "Nothing matches."))
            """
        )
    }
}

extension APIServer {
    /// The attackers list's short origin: a country code and AS number, or the address's scope.
    static func origin(_ geo: GeoBody?) -> String {
        guard let geo else { return "" }
        guard geo.scope == "public" else { return geo.scope }
        return [geo.countryCode, geo.asn.map { "AS\($0)" }].compactMap { $0 }.joined(separator: " ")
    }
}
