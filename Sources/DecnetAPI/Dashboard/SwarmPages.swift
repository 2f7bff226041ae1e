import DecnetPipeline
import Foundation
import Hummingbird

/// The dashboard's swarm page: the agent hosts the master pinned (`decnet swarm add`), and what its listener sees
/// of each (up; down when its heartbeats stopped; never seen). A down host is a finding: its segment is unwatched.
extension APIServer {
    func addSwarmPages(to router: Router<APIRequestContext>) {
        router.get("swarm") { request, _ -> Response in
            try await self.withPage(request) { identity in try self.swarmPage(identity) }
        }
    }

    func swarmPage(_ identity: Identity) throws -> String {
        let hosts = (try? SwarmStatus.hosts(stateDirectory: self.settings.stateDirectory)) ?? []
        let rows: [[String]] = hosts.map { view in
            let state = HTML.escape(view.state)
            return [
                "<strong>\(HTML.escape(view.host.name))</strong>", "<code>\(HTML.escape(view.host.address))</code>",
                "<span class=\"state swarm-\(state.replacingOccurrences(of: " ", with: "-"))\">\(state)</span>",
                view.lastSeen.map(HTML.time) ?? "<span class=\"muted\">never</span>",
                view.heartbeatSeconds.map { String(format: "%g s", $0) } ?? "",
                "<code title=\"\(HTML.escape(view.host.fingerprint))\">\(HTML.escape(String(view.host.fingerprint.prefix(23))))…</code>",
                HTML.time(view.host.added),
            ]
        }
        let down = hosts.filter { $0.state == "down" }.map(\.host.name)
        let alert =
            down.isEmpty
            ? ""
            : """
            <section class="alert" id="swarm-down" role="alert"><h2>Agent\(down.count == 1 ? "" : "s") down</h2>
            <p>No heartbeat from \(down.map { "<strong>\(HTML.escape($0))</strong>" }.joined(separator: ", ")): its segment is not watched until it is back (its events wait on it).</p>
            </section>
            """
        return HTML.page(
            title: "Swarm",
            page: "swarm",
            identity: identity,
            """
            <h1>Swarm hosts <span class="muted">(\(hosts.count))</span></h1>
            <p class="muted">Agents pinned to their certificates (<code>decnet swarm add</code>); the master's listener (<code>decnet listener start --swarm</code>) reports one down after three missed heartbeats.</p>
            \(alert)
            <section class="panel">
            \(HTML.table(["Host", "Address", "State", "Last heard", "Heartbeat", "Certificate", "Added"], rows, id: "swarm-hosts", empty: "No swarm host: this master watches its own segment only."))
            </section>
            """
        )
    }
}
