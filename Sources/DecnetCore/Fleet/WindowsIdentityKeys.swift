/// A Windows decky is one host in every service that names it: smb, rdp, ldap, mssql and llmnr read the same
/// identity keys (the OS and build, the NetBIOS workgroup and name, the DNS domain). The planner gives each of them
/// the keys set on any of them, and refuses a persona that contradicts itself.
enum WindowsIdentityKeys {
    static let services: Set<ServiceKind> = ["smb", "rdp", "ldap", "mssql", "llmnr"]
    static let keys: Set<String> = ["os_version", "build", "workgroup", "server_name", "domain"]
    /// Keys checked against the identity but not shared: ldap's `base_dn` names the DNS domain in its DC= parts.
    static let checked: Set<String> = keys.union(["base_dn"])

    /// Fills each Windows service's identity keys from its siblings: the operator's value wherever it was set,
    /// else a default (smb's first, the richest). A `build` default is dropped when the operator named the OS
    /// without a build, so the build follows the OS they chose.
    static func share(_ services: inout [ServiceInstance], overrides: [ServiceKind: [String: String]]) {
        let indices = services.indices.filter {
            self.services.contains(services[$0].kind) && services[$0].custom == nil
        }
        .sorted { (services[$0].kind == "smb" ? 0 : 1) < (services[$1].kind == "smb" ? 0 : 1) }
        guard indices.count > 1 else { return }
        let kinds = indices.map { services[$0].kind }
        let personas = indices.map { services[$0].persona }
        // An operator's base_dn without a domain names the domain every service shows.
        let domainOfBaseDN = kinds.compactMap { overrides[$0]?["base_dn"] }.first.map(
            ActiveDirectory.domain(fromBaseDN:)
        )
        func operatorValue(_ key: String) -> String? {
            kinds.compactMap { overrides[$0]?[key] }.first ?? (key == "domain" ? domainOfBaseDN : nil)
        }
        for key in self.keys.sorted() {
            var value = operatorValue(key)
            if value == nil && !(key == "build" && operatorValue("os_version") != nil) {
                value = personas.compactMap { $0[key] }.first
            }
            for index in indices where overrides[services[index].kind]?[key] == nil {
                services[index].persona[key] = value
            }
        }
    }

    /// Contradictions among the operator's identity settings of one decky: two releases, two builds, two names for
    /// one thing, or a Windows release on a decky whose `nmap_os` is not windows.
    static func contradictions(
        _ claims: [(service: ServiceKind, key: String, value: Located<String>)],
        deckyName: String,
        nmapOS: Located<OSFamily>?
    ) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var seen: [String: (service: ServiceKind, key: String, value: String, origin: SettingOrigin)] = [:]
        func claim(_ aspect: String, _ value: String, _ service: ServiceKind, _ key: String, _ located: Located<String>)
        {
            if let first = seen[aspect] {
                if first.value.lowercased() != value.lowercased() {
                    diagnostics.append(
                        located.problem(
                            "\(aspect) \(value) contradicts \(first.value) from [\(deckyName).\(first.service)] "
                                + "\(first.key) (\(first.origin)); a decky is one Windows host in every service"
                        )
                    )
                }
            } else {
                seen[aspect] = (service, key, value, located.origin)
            }
        }
        for (service, key, located) in claims {
            let text = located.value.trimmingWhitespace()
            switch key {
            case "os_version":
                if let release = WindowsRelease.named(in: text) {
                    claim("release", release.name, service, key, located)
                    if let family = nmapOS?.value, family != .windows, !release.isSamba {
                        diagnostics.append(
                            located.problem(
                                "\(release.name) on a decky whose nmap_os is \(family); set nmap_os = windows"
                            )
                        )
                    }
                }
                if let build = WindowsRelease.build(in: text) { claim("build", String(build), service, key, located) }
            case "build":
                claim("build", text, service, key, located)
            case "base_dn":
                let domain = ActiveDirectory.domain(fromBaseDN: text)
                if domain.isEmpty {
                    diagnostics.append(
                        located.problem("base_dn \(text) has no DC= parts; a domain's base is DC=corp,DC=local")
                    )
                } else {
                    claim("domain", domain, service, key, located)
                }
            default:
                claim(key.replacingUnderscores, text, service, key, located)
            }
        }
        return diagnostics
    }
}

/// Names as Active Directory writes them.
public enum ActiveDirectory {
    /// The DNS domain a distinguished name's DC= parts spell (`DC=corp,DC=local` is `corp.local`); empty if none.
    public static func domain(fromBaseDN dn: String) -> String {
        dn.split(separator: ",").compactMap { part -> String? in
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, String(pair[0]).trimmingWhitespace().uppercased() == "DC" else { return nil }
            return String(pair[1]).trimmingWhitespace().lowercased()
        }.joined(separator: ".")
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(self.map { $0 == "_" ? " " : $0 }) }
}
