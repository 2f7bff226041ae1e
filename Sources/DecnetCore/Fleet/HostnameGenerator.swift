/// Makes the hostname a machine of this kind would really have, unique within one fleet.
///
/// Windows machines get the names Windows setup gives (`DESKTOP-` plus seven characters, `WIN-` plus eleven on
/// servers, `DC01` for controllers); printers and IoT boards get their firmware's factory name, built from the
/// MAC as theirs are (`NPI` + last three octets on HP Jetdirect, `BRN` + the MAC on Brother, `ESP_` on
/// Espressif); Linux names follow the distro's habits (`web-02`, `ip-192-168-1-110`, `kali-3f9a`).
public struct HostnameGenerator: Sendable {
    private var taken: Set<String> = []
    private var roleCounters: [String: Int] = [:]

    public init() {}

    /// What the generator needs to know about one decky.
    public struct Subject: Sendable {
        public var distro: DistroProfile
        public var osFamily: OSFamily
        public var deviceClass: DeviceClass
        public var role: String
        public var ip: IPv4Address
        public var mac: MACAddress
        public var vendor: MACVendor

        public init(
            distro: DistroProfile,
            osFamily: OSFamily,
            deviceClass: DeviceClass,
            role: String,
            ip: IPv4Address,
            mac: MACAddress,
            vendor: MACVendor
        ) {
            self.distro = distro
            self.osFamily = osFamily
            self.deviceClass = deviceClass
            self.role = role
            self.ip = ip
            self.mac = mac
            self.vendor = vendor
        }
    }

    /// Marks a name as used (an operator's explicit `hostname=`), so no generated one repeats it.
    public mutating func reserve(_ hostname: String) { self.taken.insert(hostname.lowercased()) }

    public mutating func hostname(for subject: Subject, using generator: inout some RandomNumberGenerator) -> String {
        for attempt in 0..<64 {
            let candidate = self.candidate(for: subject, attempt: attempt, using: &generator)
            if self.taken.insert(candidate.lowercased()).inserted { return candidate }
        }
        // Unreachable in practice: random parts make 64 collisions in a row impossible for any real fleet.
        let fallback = "host-\(subject.ip.description.replacingDots())"
        self.taken.insert(fallback)
        return fallback
    }

    private mutating func candidate(
        for subject: Subject,
        attempt: Int,
        using generator: inout some RandomNumberGenerator
    ) -> String {
        let macHex = subject.mac.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined().uppercased()
        switch subject.deviceClass {
        case .printer:
            if subject.vendor.name.hasPrefix("Brother") { return "BRN" + macHex }
            if subject.vendor.name.hasPrefix("Hewlett") { return "NPI" + macHex.suffix(6) }
            return "\(subject.vendor.name.prefix(while: { $0.isLetter }).lowercased())-prn\(self.next("prn"))"
        case .iot:
            if subject.vendor.name.hasPrefix("Espressif") { return "ESP_" + macHex.suffix(6) }
            if subject.vendor.name.hasPrefix("Raspberry") {
                return attempt == 0 ? "raspberrypi" : "raspberrypi-\(attempt)"
            }
            return "IPC-" + macHex.suffix(6)
        case .industrial:
            return "plc-\(self.next("plc"))"
        case .network:
            return "sw-access-\(self.next("sw"))"
        case .apple:
            if subject.vendor.name.hasPrefix("Apple") {
                let owner = Self.firstNames.randomElement(using: &generator)!
                return "\(owner)s-MacBook-Pro" + (attempt == 0 ? "" : "-\(attempt + 1)")
            }
            return "freebsd-\(self.next("freebsd"))"
        case .server, .workstation:
            break
        }
        if subject.osFamily == .windows {
            switch subject.role {
            case "dc": return "DC\(self.next("dc"))"
            case "desktop": return "DESKTOP-" + Self.randomCharacters(7, using: &generator)
            default: return "WIN-" + Self.randomCharacters(11, using: &generator)
            }
        }
        switch subject.distro.hostnameStyle {
        case .corporate:
            return "\(subject.role)-\(self.next(subject.role))"
        case .cloudAddress:
            return attempt == 0
                ? "ip-\(subject.ip.description.replacingDots())" : "\(subject.role)-\(self.next(subject.role))"
        case .distroName:
            let base = subject.distro.slug == "arch" ? "archlinux" : subject.distro.slug
            return "\(base)-" + Self.randomCharacters(4, alphabet: Self.hexDigits, using: &generator)
        }
    }

    /// The next two-digit number for a role: `01`, `02`, …
    private mutating func next(_ role: String) -> String {
        let number = self.roleCounters[role, default: 0] + 1
        self.roleCounters[role] = number
        return number < 10 ? "0\(number)" : String(number)
    }

    private static let windowsAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    private static let hexDigits = Array("0123456789abcdef")
    private static let firstNames = ["John", "Maria", "David", "Anna", "Peter", "Laura", "Paul", "Sarah"]

    private static func randomCharacters(
        _ count: Int,
        alphabet: [Character] = windowsAlphabet,
        using generator: inout some RandomNumberGenerator
    ) -> String {
        String((0..<count).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// The word for a machine's job, from its archetype or else from its first telling service.
    public static func role(archetype: Archetype?, services: [ServiceKind]) -> String {
        if let archetype { return archetype.hostnameRole }
        let roles: [(ServiceKind, String)] = [
            ("http", "web"), ("mysql", "db"), ("postgres", "db"), ("mssql", "sql"), ("mongodb", "db"),
            ("redis", "cache"), ("elasticsearch", "search"), ("smtp", "mail"), ("imap", "mail"), ("pop3", "mail"),
            ("smb", "files"), ("ftp", "files"), ("ldap", "dc"), ("sip", "pbx"), ("k8s", "k8s"),
            ("docker_api", "docker"), ("snmp", "mon"), ("mqtt", "iot"), ("ssh", "srv"),
        ]
        for (kind, role) in roles where services.contains(kind) { return role }
        return "host"
    }
}

extension String {
    fileprivate func replacingDots() -> String { String(self.map { $0 == "." ? "-" : $0 }) }
}
