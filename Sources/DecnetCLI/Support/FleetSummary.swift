import DecnetCore

/// The fleet table `deploy` and `status` print.
enum FleetSummary {
    /// - Parameter network: how the fleet is attached, when not by `networkDriver` on `interface` (a lab, loopback).
    static func render(_ fleet: Fleet, network: String? = nil) -> String {
        let network = network ?? "\(fleet.networkDriver.rawValue) on \(fleet.interface ?? "?")"
        var lines = [
            "\(fleet.deckies.count) decky(s) on \(fleet.subnet) (gateway \(fleet.gateway), \(network), ip_range \(fleet.ipRange), seed \(fleet.seed))",
            "",
        ]
        var table = TextTable("NAME", "IP", "MAC", "HOSTNAME", "OS", "DISTRO", "ARCHETYPE", "SERVICES")
        for decky in fleet.deckies {
            table.add(
                decky.name,
                decky.ip.description,
                decky.mac.description,
                decky.hostname,
                decky.osFamily.rawValue,
                decky.distro,
                decky.archetype ?? "-",
                decky.services.map(\.kind.rawValue).joined(separator: ",")
            )
        }
        lines.append(table.render())
        return lines.joined(separator: "\n")
    }
}
