import DecnetCore
import DecnetDocker

/// The Docker driver's status table: a row per decky, its address, and the state of each of its containers.
enum DockerFleetTable {
    static func render(_ fleet: Fleet, containers: [DockerEngine.Container]) -> String {
        var table = TextTable("DECKY", "IP", "MAC", "BASE", "SERVICES")
        for decky in fleet.deckies {
            let mine = containers.filter { $0.decky == decky.name }
            let base = mine.first { $0.role == "base" }
            let services = decky.services.map { service in
                let container = mine.first { $0.role == "service" && $0.service == service.kind.rawValue }
                return "\(service.kind.rawValue):\(container?.state ?? "missing")"
            }
            table.add([
                decky.name, decky.ip.description, decky.mac.description, base?.state ?? "missing",
                services.joined(separator: " "),
            ])
        }
        return table.render()
    }
}
