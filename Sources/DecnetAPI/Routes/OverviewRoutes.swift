import DecnetCore
import DecnetRuntime
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/stats`, `/health`, `/config`.
    func addOverview(to group: RouterGroup<APIRequestContext>) {
        group.get("stats") { request, _ -> Response in
            try await self.cache.json(request.uri.description) { try await self.statistics() }
        }
        group.get("health") { request, _ -> Response in
            try await self.cache.json(request.uri.description) { await self.health() }
        }
        group.get("config") { _, _ -> ConfigBody in ConfigBody(settings: self.settings.configuration) }
    }

    /// The overview's totals: the store's and the fleet's.
    func statistics() async throws -> StatsBody {
        let statistics = try await self.store.statistics(now: Date())
        let fleet = try await self.fleet.snapshot()
        return StatsBody(
            events: statistics.events,
            attackers: statistics.attackers,
            credentials: statistics.credentials,
            eventsLastHour: statistics.eventsLastHour,
            attackersToday: statistics.attackersToday,
            traversals: statistics.traversals,
            deckiesTotal: fleet.deckies.count,
            deckiesRunning: fleet.deckies.filter { $0.state == "running" }.count
        )
    }

    /// The API, its store and the daemons of this state directory.
    func health() async -> HealthBody {
        var store = HealthBody.StoreHealth(backend: self.settings.databaseBackend, ok: true, error: nil, counts: [:])
        do {
            store.counts = try await self.store.counts()
        } catch {
            store.ok = false
            store.error = "\(error)"
        }
        var components = [ComponentBody(name: "api", running: true, pid: getpid(), detail: nil)]
        for name in ["engine", "workers", "bus", "forwarder", "listener"] {
            let path = (self.settings.stateDirectory as NSString).appendingPathComponent("decnet-\(name).pid")
            let pid = PIDLock.runningPID(path: path)
            components.append(ComponentBody(name: name, running: pid != nil, pid: pid, detail: nil))
        }
        let workersDown = !(components.first { $0.name == "workers" }?.running ?? false)
        return HealthBody(
            status: !store.ok ? "failing" : workersDown ? "degraded" : "ok",
            version: Self.version,
            uptimeSeconds: Int(Date().timeIntervalSince(self.started)),
            store: store,
            components: components
        )
    }
}
