import ArgumentParser
import DecnetCore
import DecnetServiceKit
import DecnetServices

/// `decnet services`: the 25 registered honeypot services.
struct ServicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "List all registered honeypot services, their ports and persona keys."
    )

    @Flag(help: "Print JSON for scripts.") var json = false

    struct Row: Encodable {
        let slug: String
        let ports: [Int]
        let transports: [String]
        let role: String
        let personaKeys: [String]
        /// Whether this build has an emulator for it (`decnet status` lists the others as not served).
        let implemented: Bool
    }

    func run() throws {
        let rows = (ServiceCatalogue.all + ServiceCatalogue.additions).map { definition in
            Row(
                slug: definition.kind.rawValue,
                ports: definition.ports.map { Int($0.number) },
                transports: definition.ports.map(\.description) + definition.extraPorts.map { "\($0) (+)" },
                role: definition.role,
                personaKeys: definition.personaKeys.map(\.name),
                implemented: ServiceRegistry.builtin.implements(definition.kind)
            )
        }
        if self.json { return try JSONOutput.print(rows) }
        var table = TextTable("SLUG", "PORTS", "EMULATOR", "PROTOCOL / ROLE", "PERSONA KEYS")
        for row in rows {
            table.add(
                row.slug,
                row.transports.joined(separator: ", "),
                row.implemented ? "yes" : "planned",
                row.role,
                row.personaKeys.joined(separator: ", ")
            )
        }
        print(table.render())
        print(
            "\n\(rows.count) services, \(rows.filter(\.implemented).count) with an emulator; (+) a port DECNET-Swift adds to the seed's"
        )
    }
}

/// `decnet archetypes`: the machine archetype profiles.
struct ArchetypesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archetypes",
        abstract: "List machine archetype profiles (services, OS fingerprint, preferred distros)."
    )

    @Flag(help: "Print JSON for scripts.") var json = false

    struct Row: Encodable {
        let slug: String
        let services: [String]
        let osFamily: String
        let preferredDistros: [String]
        let description: String
    }

    func run() throws {
        let rows = ArchetypeCatalogue.all.map {
            Row(
                slug: $0.slug,
                services: $0.services.map(\.rawValue),
                osFamily: $0.osFamily.rawValue,
                preferredDistros: $0.preferredDistros,
                description: $0.description
            )
        }
        if self.json { return try JSONOutput.print(rows) }
        var table = TextTable("SLUG", "SERVICES", "OS FINGERPRINT", "DISTROS", "DESCRIPTION")
        for row in rows {
            table.add(
                row.slug,
                row.services.joined(separator: ", "),
                row.osFamily,
                row.preferredDistros.joined(separator: ", "),
                row.description
            )
        }
        print(table.render())
        print("\n\(rows.count) archetypes")
    }
}

/// `decnet distros`: the OS distro profiles.
struct DistrosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distros",
        abstract: "List OS distro profiles (image, display name, hostname style)."
    )

    @Flag(help: "Print JSON for scripts.") var json = false

    struct Row: Encodable {
        let slug: String
        let image: String
        let displayName: String
        let hostnameStyle: String
        let sshVersion: String
        let kernelVersion: String
    }

    func run() throws {
        let rows = DistroCatalogue.all.map {
            Row(
                slug: $0.slug,
                image: $0.image,
                displayName: $0.displayName,
                hostnameStyle: $0.hostnameStyle.rawValue,
                sshVersion: $0.sshVersion,
                kernelVersion: $0.kernelVersion
            )
        }
        if self.json { return try JSONOutput.print(rows) }
        var table = TextTable("SLUG", "DOCKER IMAGE", "DISPLAY NAME", "HOSTNAMES", "SSH", "KERNEL")
        for row in rows {
            table.add(row.slug, row.image, row.displayName, row.hostnameStyle, row.sshVersion, row.kernelVersion)
        }
        print(table.render())
        print("\n\(rows.count) distros")
    }
}
