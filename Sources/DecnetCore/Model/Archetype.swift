/// A pre-packaged machine identity: one slug sets services, OS fingerprint and preferred distros at once.
public struct Archetype: Hashable, Sendable, Identifiable {
    public let slug: String
    public let services: [ServiceKind]
    public let osFamily: OSFamily
    public let description: String
    /// Distros cycled through for deckies of this archetype (their base image, SSH banner and kernel).
    public let preferredDistros: [String]
    /// The word that names the machine's job in generated hostnames (`web`, `db`, `mail`).
    public let hostnameRole: String

    public var id: String { self.slug }

    public init(
        _ slug: String,
        services: [ServiceKind],
        osFamily: OSFamily,
        description: String,
        preferredDistros: [String],
        hostnameRole: String
    ) {
        self.slug = slug
        self.services = services
        self.osFamily = osFamily
        self.description = description
        self.preferredDistros = preferredDistros
        self.hostnameRole = hostnameRole
    }
}

/// The 15 archetypes of the seed's table, in its order.
public enum ArchetypeCatalogue {
    public static let all: [Archetype] = [
        Archetype(
            "deaddeck",
            services: ["ssh"],
            osFamily: .linux,
            description: "Initial machine to be exploited. Real SSH container.",
            preferredDistros: ["debian", "ubuntu22"],
            hostnameRole: "dev"
        ),
        Archetype(
            "windows-workstation",
            services: ["smb", "rdp"],
            osFamily: .windows,
            description: "Corporate Windows desktop",
            preferredDistros: ["debian"],
            hostnameRole: "desktop"
        ),
        Archetype(
            "windows-server",
            services: ["smb", "rdp", "ldap"],
            osFamily: .windows,
            description: "Windows domain member",
            preferredDistros: ["debian"],
            hostnameRole: "srv"
        ),
        Archetype(
            "domain-controller",
            services: ["ldap", "smb", "rdp", "llmnr"],
            osFamily: .windows,
            description: "Active Directory DC",
            preferredDistros: ["debian"],
            hostnameRole: "dc"
        ),
        Archetype(
            "linux-server",
            services: ["ssh", "http"],
            osFamily: .linux,
            description: "General-purpose Linux host",
            preferredDistros: ["debian", "ubuntu22", "rocky9", "ubuntu20"],
            hostnameRole: "app"
        ),
        Archetype(
            "web-server",
            services: ["http", "ftp"],
            osFamily: .linux,
            description: "Public-facing web host",
            preferredDistros: ["ubuntu22", "debian", "ubuntu20"],
            hostnameRole: "web"
        ),
        Archetype(
            "database-server",
            services: ["mysql", "postgres", "redis"],
            osFamily: .linux,
            description: "Data tier host",
            preferredDistros: ["debian", "rocky9", "ubuntu22"],
            hostnameRole: "db"
        ),
        Archetype(
            "mail-server",
            services: ["smtp", "pop3", "imap"],
            osFamily: .linux,
            description: "SMTP/IMAP/POP3 relay",
            preferredDistros: ["debian", "ubuntu22", "centos7"],
            hostnameRole: "mail"
        ),
        Archetype(
            "file-server",
            services: ["smb", "ftp", "ssh"],
            osFamily: .linux,
            description: "SMB/FTP/SFTP storage node",
            preferredDistros: ["debian", "ubuntu20", "rocky9"],
            hostnameRole: "files"
        ),
        Archetype(
            "printer",
            services: ["snmp", "ftp"],
            osFamily: .embedded,
            description: "Network-attached printer",
            preferredDistros: ["alpine"],
            hostnameRole: "printer"
        ),
        Archetype(
            "iot-device",
            services: ["mqtt", "snmp", "telnet"],
            osFamily: .embedded,
            description: "Embedded/IoT device",
            preferredDistros: ["alpine"],
            hostnameRole: "iot"
        ),
        Archetype(
            "industrial-control",
            services: ["conpot", "snmp"],
            osFamily: .embedded,
            description: "ICS/SCADA node",
            preferredDistros: ["alpine", "debian"],
            hostnameRole: "plc"
        ),
        Archetype(
            "voip-server",
            services: ["sip"],
            osFamily: .linux,
            description: "SIP PBX / VoIP gateway",
            preferredDistros: ["debian", "centos7"],
            hostnameRole: "pbx"
        ),
        Archetype(
            "monitoring-node",
            services: ["snmp", "ssh"],
            osFamily: .linux,
            description: "Infrastructure monitoring host",
            preferredDistros: ["ubuntu22", "debian", "rocky9"],
            hostnameRole: "mon"
        ),
        Archetype(
            "devops-host",
            services: ["docker_api", "ssh", "k8s"],
            osFamily: .linux,
            description: "CI/CD / container host",
            preferredDistros: ["ubuntu22", "fedora", "arch"],
            hostnameRole: "build"
        ),
    ]

    private static let bySlug = Dictionary(uniqueKeysWithValues: all.map { ($0.slug, $0) })

    public static func archetype(for slug: String) -> Archetype? { bySlug[slug] }
}
