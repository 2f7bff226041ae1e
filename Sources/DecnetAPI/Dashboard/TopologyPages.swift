import DecnetCore
import DecnetStore
import Foundation
import Hummingbird

/// The dashboard's MazeNET pages: the topologies (and, for admins, a form to create one from a topology file),
/// and each topology's canvas: its segments, routers and deckies as nodes an admin drags into place (positions
/// kept per topology), their live state, and the attackers' paths drawn across the segments. The canvas is drawn
/// by /static/app.js from `GET /api/v1/topology/{id}`; the page itself carries no data an attacker wrote.
extension APIServer {
    func addTopologyPages(to router: Router<APIRequestContext>) {
        router.get("topology") { request, _ -> Response in
            try await self.withPage(request) { identity in self.topologyListPage(identity) }
        }
        router.get("topology/:id") { request, context -> Response in
            let id = try context.parameters.require("id")
            return try await self.withPage(request) { identity in
                guard let record = TopologyStore(stateDirectory: self.settings.stateDirectory).find(id) else {
                    return HTML.page(
                        title: "Topology",
                        page: "topology-missing",
                        identity: identity,
                        "<h1>No such topology</h1><p><a href=\"/topology\">All topologies</a></p>"
                    )
                }
                return self.topologyPage(record, identity)
            }
        }
    }

    func topologyListPage(_ identity: Identity) -> String {
        let records = TopologyStore(stateDirectory: self.settings.stateDirectory).all()
        let rows: [[String]] = records.map { record in
            let last = record.mutations.last.map { "\($0.operation) \($0.state)" } ?? ""
            return [
                "<a href=\"/topology/\(record.id)\">\(HTML.escape(record.name))</a>", "<code>\(record.id)</code>",
                "<span class=\"state topology-\(HTML.escape(record.status))\">\(HTML.escape(record.status))</span>",
                HTML.escape(last), HTML.time(record.created),
            ]
        }
        let form =
            identity.role == .admin
            ? """
            <section class="panel">
            <h2>New topology</h2>
            <form id="topology-form">
            <label>Name <input id="topology-name" required maxlength="64" pattern="[A-Za-z0-9_-]+"></label>
            <label>Topology file (docs/mazenet.md)<textarea id="topology-config" rows="14" required></textarea></label>
            <button type="submit">Create</button> <span id="topology-error" class="error"></span>
            </form>
            </section>
            """
            : ""
        return HTML.page(
            title: "Topologies",
            page: "topologies",
            identity: identity,
            """
            <h1>MazeNET topologies <span class="muted">(\(records.count))</span></h1>
            <p class="muted">Segments joined by router deckies (<code>decnet topology</code>); open one for its canvas.</p>
            <section class="panel">
            \(HTML.table(["Topology", "Id", "Status", "Last mutation", "Created"], rows, id: "topologies", empty: "No topology yet."))
            </section>
            \(form)
            """
        )
    }

    func topologyPage(_ record: TopologyRecord, _ identity: Identity) -> String {
        let actions =
            identity.role == .admin
            ? """
            <button type="button" id="topology-deploy">Deploy</button>
            <button type="button" id="topology-teardown">Tear down</button>
            """
            : ""
        return HTML.page(
            title: record.name,
            page: "topology",
            identity: identity,
            """
            <h1>\(HTML.escape(record.name)) <span class="muted"><code>\(record.id)</code></span></h1>
            <p>\(actions) <span id="topology-mutation" class="muted"></span> <span id="topology-error" class="error"></span></p>
            <section class="panel">
            <svg id="canvas" data-topology="\(record.id)" data-editable="\(identity.role == .admin)" width="1200" height="560" viewBox="0 0 1200 560" role="img" aria-label="Topology canvas"></svg>
            <p class="muted">Drag a segment or a node to arrange the canvas; positions are kept for this topology. A red line is an attacker's way across the segments.</p>
            </section>
            <section class="panel">
            <h2>Attackers' paths</h2>
            <table id="topology-paths"><thead><tr><th>Attacker</th><th>Segments</th><th>Routers crossed</th><th>Deckies</th><th>Last seen</th></tr></thead><tbody></tbody></table>
            </section>
            """
        )
    }
}
