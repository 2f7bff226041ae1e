import Crypto
import DecnetCore

/// A small Active Directory a domain controller decky serves to searches: the domain object, its containers, the
/// built-in and a few staff and service accounts (one with a password in its description, one with an SPN, as
/// real domains have), the well-known groups and some computers, all named from the persona. Enumeration tools
/// (ldapsearch, ldapdomaindump, windapsearch, impacket's GetADUsers and GetUserSPNs) get believable answers.
struct LDAPDirectory: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var dn: String
        /// Attribute names as AD spells them, values as AD writes them (binary ones raw).
        var attributes: [(name: String, values: [[UInt8]])]

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.dn == rhs.dn
                && lhs.attributes.elementsEqual(rhs.attributes) { $0.name == $1.name && $0.values == $1.values }
        }

        func values(_ name: String) -> [[UInt8]] {
            let lower = name.lowercased()
            return self.attributes.first { $0.name.lowercased() == lower }?.values ?? []
        }
    }

    let entries: [Entry]
    let baseDN: String

    /// The staff accounts a persona without `ldap_users` has.
    static let defaultStaff = [
        "anna.keller", "marc.dubois", "sara.lind", "tom.baker", "julia.moreau", "peter.novak", "lena.fischer",
        "david.cho",
    ]

    init(identity: WindowsIdentity, baseDN: String, domain: String, staff: [String]) {
        self.baseDN = baseDN
        let domainSID = Self.domainSID(domain)
        var entries: [Entry] = []
        let created = "20240212083000.0Z"
        let filetime = String((1_707_726_600 + 11_644_473_600) * 10_000_000)
        func text(_ values: String...) -> [[UInt8]] { values.map { Array($0.utf8) } }
        func object(_ dn: String, _ classes: [String], _ extra: [(String, [[UInt8]])]) {
            let name = String(dn.split(separator: ",").first?.split(separator: "=", maxSplits: 1).last ?? "")
            let category = Self.categories[classes.last ?? ""] ?? "Container"
            var attributes: [(name: String, values: [[UInt8]])] = [
                ("objectClass", classes.map { Array($0.utf8) }),
                ("objectCategory", text("CN=\(category),CN=Schema,CN=Configuration,\(baseDN)")),
                ("distinguishedName", text(dn)),
                ("name", text(name)),
                ("whenCreated", text(created)),
                ("objectGUID", [Self.guid(dn)]),
            ]
            attributes += extra.map { (name: $0.0, values: $0.1) }
            entries.append(Entry(dn: dn, attributes: attributes))
        }
        object(
            baseDN,
            ["top", "domain", "domainDNS"],
            [
                ("dc", text(String(domain.split(separator: ".").first ?? ""))), ("objectSid", [domainSID]),
                ("ms-DS-MachineAccountQuota", text("10")), ("minPwdLength", text("7")),
                ("lockoutThreshold", text("0")), ("pwdProperties", text("1")),
                ("maxPwdAge", text("-36288000000000")), ("minPwdAge", text("-864000000000")),
                ("pwdHistoryLength", text("24")), ("lockoutDuration", text("-18000000000")),
            ]
        )
        for container in ["Users", "Computers", "Builtin"] {
            object("CN=\(container),\(baseDN)", ["top", "container"], [("cn", text(container))])
        }
        object("OU=Domain Controllers,\(baseDN)", ["top", "organizationalUnit"], [("ou", text("Domain Controllers"))])
        let netbios = identity.netbiosDomain
        func user(_ sam: String, rid: UInt32, uac: Int, display: String? = nil, extra: [(String, [[UInt8]])] = []) {
            let cn = display ?? sam
            object(
                "CN=\(cn),CN=Users,\(baseDN)",
                ["top", "person", "organizationalPerson", "user"],
                [
                    ("cn", text(cn)), ("sAMAccountName", text(sam)), ("userPrincipalName", text("\(sam)@\(domain)")),
                    ("userAccountControl", text(String(uac))), ("objectSid", [domainSID + Self.le32(rid)]),
                    ("primaryGroupID", text("513")), ("sAMAccountType", text("805306368")),
                    ("pwdLastSet", text(filetime)), ("lastLogonTimestamp", text(filetime)),
                    ("badPwdCount", text("0")), ("logonCount", text(rid < 1000 ? "0" : "57")),
                ] + extra
            )
        }
        user(
            "Administrator",
            rid: 500,
            uac: 66048,
            extra: [
                ("description", text("Built-in account for administering the computer/domain")),
                ("adminCount", text("1")),
                (
                    "memberOf",
                    text(
                        "CN=Group Policy Creator Owners,CN=Users,\(baseDN)",
                        "CN=Domain Admins,CN=Users,\(baseDN)",
                        "CN=Enterprise Admins,CN=Users,\(baseDN)",
                        "CN=Schema Admins,CN=Users,\(baseDN)"
                    )
                ),
            ]
        )
        user(
            "Guest",
            rid: 501,
            uac: 66082,
            extra: [("description", text("Built-in account for guest access to the computer/domain"))]
        )
        user("krbtgt", rid: 502, uac: 514, extra: [("description", text("Key Distribution Center Service Account"))])
        var rid: UInt32 = 1103
        for (index, name) in staff.enumerated() {
            let parts = name.split(separator: ".").map { $0.prefix(1).uppercased() + $0.dropFirst() }
            let display = parts.joined(separator: " ")
            var extra: [(String, [[UInt8]])] = [
                ("givenName", text(parts.first ?? name)), ("sn", text(parts.last ?? name)),
                ("displayName", text(display)), ("mail", text("\(name)@\(domain)")),
            ]
            if index == min(2, staff.count - 1) {
                extra.append(("description", text("New hire - initial password Welcome2024!")))
            }
            if index == 0 {
                extra.append(("memberOf", text("CN=IT Admins,CN=Users,\(baseDN)")))
            }
            user(name, rid: rid, uac: 512, display: display, extra: extra)
            rid += 1
        }
        user(
            "svc_backup",
            rid: rid,
            uac: 66048,
            extra: [
                ("description", text("Backup service account")),
                ("memberOf", text("CN=Backup Operators,CN=Builtin,\(baseDN)")),
            ]
        )
        user(
            "svc_sql",
            rid: rid + 1,
            uac: 66048,
            extra: [
                ("description", text("SQL Server service")),
                ("servicePrincipalName", text("MSSQLSvc/sql01.\(domain):1433", "MSSQLSvc/sql01.\(domain)")),
            ]
        )
        func group(
            _ name: String,
            rid: UInt32,
            container: String = "Users",
            description: String,
            members: [String] = []
        ) {
            var extra: [(String, [[UInt8]])] = [
                ("cn", text(name)), ("sAMAccountName", text(name)), ("objectSid", [domainSID + Self.le32(rid)]),
                ("groupType", text(container == "Builtin" ? "-2147483643" : "-2147483646")),
                ("sAMAccountType", text("268435456")), ("description", text(description)),
            ]
            if !members.isEmpty { extra.append(("member", members.map { Array($0.utf8) })) }
            object("CN=\(name),CN=\(container),\(baseDN)", ["top", "group"], extra)
        }
        let admin = "CN=Administrator,CN=Users,\(baseDN)"
        group("Domain Admins", rid: 512, description: "Designated administrators of the domain", members: [admin])
        group("Domain Users", rid: 513, description: "All domain users")
        group("Domain Computers", rid: 515, description: "All workstations and servers joined to the domain")
        group("Domain Controllers", rid: 516, description: "All domain controllers in the domain")
        group("Schema Admins", rid: 518, description: "Designated administrators of the schema", members: [admin])
        group(
            "Enterprise Admins",
            rid: 519,
            description: "Designated administrators of the enterprise",
            members: [admin]
        )
        group(
            "Group Policy Creator Owners",
            rid: 520,
            description: "Members in this group can modify group policy for the domain",
            members: [admin]
        )
        group(
            "Backup Operators",
            rid: 551,
            container: "Builtin",
            description:
                "Backup Operators can override security restrictions for the sole purpose of backing up or restoring files",
            members: ["CN=svc_backup,CN=Users,\(baseDN)"]
        )
        if let first = staff.first {
            let parts = first.split(separator: ".").map { $0.prefix(1).uppercased() + $0.dropFirst() }
            group(
                "IT Admins",
                rid: rid + 2,
                description: "Helpdesk and server administrators",
                members: ["CN=\(parts.joined(separator: " ")),CN=Users,\(baseDN)"]
            )
        }
        func computer(_ name: String, rid: UInt32, os: String, version: String, dc: Bool) {
            let container = dc ? "OU=Domain Controllers" : "CN=Computers"
            object(
                "CN=\(name),\(container),\(baseDN)",
                ["top", "person", "organizationalPerson", "user", "computer"],
                [
                    ("cn", text(name)), ("sAMAccountName", text(name + "$")),
                    ("dNSHostName", text(name.lowercased() + "." + domain)),
                    ("userAccountControl", text(dc ? "532480" : "4096")), ("objectSid", [domainSID + Self.le32(rid)]),
                    ("primaryGroupID", text(dc ? "516" : "515")), ("sAMAccountType", text("805306369")),
                    ("operatingSystem", text(os)), ("operatingSystemVersion", text(version)),
                    ("lastLogonTimestamp", text(filetime)),
                ]
            )
        }
        let os = identity.osVersion.split(separator: " ").prefix { !$0.allSatisfy(\.isNumber) }.joined(separator: " ")
        computer(
            identity.netbiosName,
            rid: 1000,
            os: os,
            version: "\(identity.release.major).\(identity.release.minor) (\(identity.build))",
            dc: true
        )
        computer("FS01", rid: 1101, os: "Windows Server 2019 Standard", version: "10.0 (17763)", dc: false)
        computer("WS-\(netbios.prefix(4))-014", rid: 1102, os: "Windows 10 Pro", version: "10.0 (19045)", dc: false)
        self.entries = entries
    }

    /// objectCategory per most specific class (users are Person, as in AD).
    static let categories: [String: String] = [
        "domainDNS": "Domain-DNS", "container": "Container", "organizationalUnit": "Organizational-Unit",
        "user": "Person", "group": "Group", "computer": "Computer",
    ]

    /// The domain SID's binary form (S-1-5-21-a-b-c), its sub-authorities stable per domain.
    static func domainSID(_ domain: String) -> [UInt8] {
        let digest = Array(SHA256.hash(data: Array("decnet domain sid \(domain)".utf8)))
        var sid: [UInt8] = [1, 5, 0, 0, 0, 0, 0, 5]
        sid += Self.le32(21)
        for index in 0..<3 {
            sid += Self.le32(
                UInt32(digest[index * 4]) << 24 | UInt32(digest[index * 4 + 1]) << 16 | UInt32(digest[index * 4 + 2])
                    << 8 | UInt32(digest[index * 4 + 3])
            )
        }
        return sid
    }

    static func guid(_ dn: String) -> [UInt8] {
        var bytes = Array(SHA256.hash(data: Array("decnet guid \(dn.lowercased())".utf8)).prefix(16))
        bytes[7] = bytes[7] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return bytes
    }

    static func le32(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
    }

    /// A DN compared as AD compares it: case-insensitive, spaces around the separators ignored.
    static func normalize(_ dn: String) -> String {
        dn.split(separator: ",").map { part in
            part.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }.joined(separator: "=")
        }.joined(separator: ",").lowercased()
    }

    func entry(_ dn: String) -> Entry? {
        let key = Self.normalize(dn)
        return self.entries.first { Self.normalize($0.dn) == key }
    }

    /// The entries a search's base and scope reach (0 base, 1 one level, 2 subtree), in directory order.
    func scope(_ base: String, _ scope: Int) -> [Entry] {
        let key = Self.normalize(base)
        return self.entries.filter { entry in
            let dn = Self.normalize(entry.dn)
            switch scope {
            case 0: return dn == key
            case 1: return dn.hasSuffix("," + key) && !dn.dropLast(key.count + 1).contains(",")
            default: return dn == key || dn.hasSuffix("," + key)
            }
        }
    }

    /// The nearest existing ancestor of a DN that does not exist (AD's "best match").
    func bestMatch(_ dn: String) -> String {
        var parts = dn.split(separator: ",").suffix(16).map(String.init)
        while !parts.isEmpty {
            parts.removeFirst()
            if let entry = self.entry(parts.joined(separator: ",")) { return entry.dn }
        }
        return ""
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        guard let first = self.firstIndex(where: { $0 != " " }), let last = self.lastIndex(where: { $0 != " " }) else {
            return ""
        }
        return String(self[first...last])
    }
}

/// An LDAP search filter (RFC 4511 §4.5.1), as a tree the directory evaluates.
indirect enum LDAPFilter: Equatable, Sendable {
    case and([LDAPFilter])
    case or([LDAPFilter])
    case not(LDAPFilter)
    case equal(String, [UInt8])
    case substrings(String, initial: [UInt8]?, any: [[UInt8]], final: [UInt8]?)
    case greaterOrEqual(String, [UInt8])
    case lessOrEqual(String, [UInt8])
    case present(String)
    case approximate(String, [UInt8])
    /// An extensible match: AD's bitwise AND (1.2.840.113556.1.4.803) and OR (…804) rules, others as equality.
    case extensible(String, rule: String, [UInt8])
    case undefined

    /// Whether an entry matches (RFC 4511's three-valued logic folded: Undefined does not match).
    func matches(_ entry: LDAPDirectory.Entry) -> Bool {
        switch self {
        case .and(let filters): return filters.allSatisfy { $0.matches(entry) }
        case .or(let filters): return filters.contains { $0.matches(entry) }
        case .not(let filter): return !filter.matches(entry)
        case .present(let name):
            return name.lowercased() == "objectclass" || !entry.values(name).isEmpty
        case .equal(let name, let value), .approximate(let name, let value):
            let wanted = Self.fold(value)
            if name.lowercased() == "objectcategory", !wanted.contains(UInt8(ascii: "=")) {
                // AD takes a class's display name for its category: (objectCategory=person).
                let short = Self.fold(
                    Array(
                        (LDAPDirectory.categories[String(decoding: value, as: UTF8.self)]
                            ?? LDAPDirectory.categories.first {
                                $0.key.lowercased() == String(decoding: wanted, as: UTF8.self)
                            }?.value
                            ?? String(decoding: value, as: UTF8.self)).utf8
                    )
                )
                return entry.values(name).contains {
                    Self.fold($0).starts(with: Array("cn=".utf8) + short + [UInt8(ascii: ",")])
                }
            }
            return entry.values(name).contains { Self.fold($0) == wanted }
        case .greaterOrEqual(let name, let value):
            return entry.values(name).contains { Self.compare($0, value) >= 0 }
        case .lessOrEqual(let name, let value):
            return entry.values(name).contains { Self.compare($0, value) <= 0 }
        case .substrings(let name, let initial, let any, let final):
            return entry.values(name).contains { value in
                var rest = Self.fold(value)[...]
                if let initial {
                    let prefix = Self.fold(initial)
                    guard rest.starts(with: prefix) else { return false }
                    rest = rest.dropFirst(prefix.count)
                }
                for piece in any.map(Self.fold) where !piece.isEmpty {
                    guard let range = Self.find(piece, in: rest) else { return false }
                    rest = rest[range.upperBound...]
                }
                if let final { return rest.reversed().starts(with: Self.fold(final).reversed()) }
                return true
            }
        case .extensible(let name, let rule, let value):
            guard let wanted = Int64(String(decoding: value, as: UTF8.self)) else { return false }
            return entry.values(name).contains { raw in
                guard let have = Int64(String(decoding: raw, as: UTF8.self)) else { return false }
                switch rule {
                case "1.2.840.113556.1.4.803": return have & wanted == wanted
                case "1.2.840.113556.1.4.804": return have & wanted != 0
                default: return have == wanted
                }
            }
        case .undefined: return false
        }
    }

    /// AD's default matching: case-insensitive for text.
    static func fold(_ bytes: [UInt8]) -> [UInt8] { bytes.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 } }

    /// Integers compare as integers, anything else byte-wise, case-insensitively.
    static func compare(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        if let left = Int64(String(decoding: lhs, as: UTF8.self)),
            let right = Int64(String(decoding: rhs, as: UTF8.self))
        {
            return left < right ? -1 : (left == right ? 0 : 1)
        }
        let left = Self.fold(lhs), right = Self.fold(rhs)
        return left.lexicographicallyPrecedes(right) ? -1 : (left == right ? 0 : 1)
    }

    static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index..<(index + needle.count) }
            index += 1
        }
        return nil
    }
}
