import ArgumentParser
import DecnetIntel
import Foundation

/// `decnet geoip`: the seed's GeoIP and ASN enrichment, from the IPFire Location database on this machine.
struct GeoIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "geoip",
        abstract: "Country, network and autonomous system of addresses (the IPFire Location database, offline).",
        discussion: """
            The database is Debian's libloc-database (CC BY-SA 4.0, IPFire Project), read through libloc; no lookup \
            leaves the machine. It is found at $DECNET_GEOIP_DB, else /var/lib/location/database.db (which \
            `location update` refreshes), else /usr/share/libloc-location/location.db. Private, loopback, \
            link-local, documentation and other special-purpose addresses are named as such and never looked up.
            """,
        subcommands: [Lookup.self, Info.self]
    )

    struct DatabaseOption: ParsableArguments {
        @Option(help: "The location database file (default: $DECNET_GEOIP_DB or Debian's).")
        var database: String?

        func open() throws -> LocationDatabase {
            guard let path = self.database ?? LocationDatabase.defaultPath() else {
                throw CommandFailure(
                    "no location database: install Debian's libloc-database (apt-get install libloc-database) or set "
                        + "DECNET_GEOIP_DB to a location.db file"
                )
            }
            do {
                return try LocationDatabase(path: path)
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct Lookup: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Look addresses up.")

        @Argument(help: "IPv4 or IPv6 addresses.") var addresses: [String]
        @OptionGroup var database: DatabaseOption
        @Flag(help: "Print JSON for scripts.") var json = false

        func validate() throws {
            guard !self.addresses.isEmpty else { throw ValidationError("give at least one address") }
            for address in self.addresses where AddressScope(address) == nil {
                throw ValidationError("'\(address)' is not an IPv4 or IPv6 address")
            }
        }

        func run() throws {
            let database = try self.database.open()
            let records = self.addresses.compactMap(database.lookup)
            if self.json { return try JSONOutput.print(records) }
            for record in records { print(Self.render(record)) }
        }

        /// The `location lookup` layout, with the country code and the special-purpose scopes added.
        static func render(_ record: GeoRecord) -> String {
            var lines = ["\(record.address):"]
            func line(_ label: String, _ value: String) {
                lines.append("  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + ": " + value)
            }
            guard record.scope == .public else {
                line("Scope", record.scope.rawValue + " (not routed on the Internet; no location)")
                return lines.joined(separator: "\n")
            }
            line("Network", record.network ?? "not in the database")
            if let code = record.countryCode { line("Country", "\(record.countryName ?? code) (\(code))") }
            if let asn = record.asn { line("Autonomous System", "AS\(asn)" + (record.asName.map { " - \($0)" } ?? "")) }
            let labels = [
                "anonymous-proxy": "Anonymous Proxy", "satellite-provider": "Satellite Provider", "anycast": "Anycast",
                "drop": "Hostile Networks Safety (DROP)",
            ]
            for flag in record.flags { line(labels[flag] ?? flag, "yes") }
            line("Source", record.source ?? "")
            return lines.joined(separator: "\n")
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say which database answers, and how old it is.")

        @OptionGroup var database: DatabaseOption
        @Flag(help: "Print JSON for scripts.") var json = false

        struct Row: Encodable {
            let path: String
            let createdAt: Date
            let vendor: String
            let description: String
            let license: String
            let source: String
        }

        func run() throws {
            let database = try self.database.open()
            let row = Row(
                path: database.path,
                createdAt: database.createdAt,
                vendor: database.vendor,
                description: database.databaseDescription,
                license: database.license,
                source: database.source
            )
            if self.json { return try JSONOutput.print(row) }
            print("Database : \(row.path)")
            print("Created  : \(row.source.dropFirst("libloc:".count)) (\(row.createdAt))")
            print("Vendor   : \(row.vendor)")
            print("License  : \(row.license)")
            print("Update   : `location update` (needs the Internet) refreshes /var/lib/location/database.db")
        }
    }
}
