import DecnetCore
import DecnetServiceKit

/// Who a Windows (or Samba) decky says it is, the same in every service that shows it: the names and version in
/// the NTLM challenge, the SMB negotiate, RDP and LDAP. Built from the persona keys `os_version`, `build`,
/// `workgroup`, `server_name` and `domain` and the decky's hostname.
public struct WindowsIdentity: Sendable, Equatable {
    public var release: WindowsRelease
    /// The operating system string as the persona wrote it ("Windows Server 2019 Standard 17763").
    public var osVersion: String
    /// The build the version fields carry.
    public var build: UInt16
    /// NetBIOS computer name (15 characters at most, upper case).
    public var netbiosName: String
    /// NetBIOS domain or workgroup (upper case).
    public var netbiosDomain: String
    /// DNS domain when the host is a domain member, nil in a workgroup.
    public var dnsDomain: String?
    /// The host's DNS name (`srv01.corp.local`, or the bare host name in a workgroup).
    public var dnsHostName: String

    /// Whether the decky belongs to a domain (its workgroup is a domain, or the persona names a DNS domain).
    public var isDomainMember: Bool { self.dnsDomain != nil }

    /// Reads the persona. An `os_version` naming a release this table does not know keeps the text and takes the
    /// version fields of the closest family (Windows Server 2019 for "Server", Windows 10 otherwise).
    public init(persona: [String: String], hostname: String, osFamily: OSFamily) {
        let hostLabel = String(hostname.split(separator: ".").first ?? Substring(hostname))
        let osVersion =
            persona["os_version"] ?? (osFamily == .windows ? "Windows Server 2019 Standard 17763" : "Samba")
        let release = WindowsRelease.named(in: osVersion) ?? WindowsRelease.closest(to: osVersion)
        self.release = release
        self.osVersion = osVersion
        self.build = UInt16(persona["build"] ?? "") ?? WindowsRelease.build(in: osVersion) ?? release.build
        self.netbiosName = String((persona["server_name"] ?? hostLabel).uppercased().prefix(15))
        let workgroup = (persona["workgroup"] ?? "WORKGROUP").uppercased()
        self.netbiosDomain = String(workgroup.prefix(15))
        if let domain = persona["domain"], !domain.isEmpty {
            self.dnsDomain = domain.lowercased()
        } else if workgroup != "WORKGROUP" && !release.isSamba {
            self.dnsDomain = workgroup.lowercased() + ".local"
        } else {
            self.dnsDomain = nil
        }
        // Windows keeps the computer name's case in its DNS name (`FOREST.htb.local`, `desktop-7`).
        self.dnsHostName = self.dnsDomain.map { hostLabel + "." + $0 } ?? hostLabel
    }

    /// The NTLM VERSION structure (MS-NLMP 2.2.2.10): major, minor, build, three reserved bytes, revision 15.
    public var ntlmVersion: [UInt8] {
        [self.release.major, self.release.minor, UInt8(self.build & 0xFF), UInt8(self.build >> 8), 0, 0, 0, 0x0F]
    }

    /// "10.0.17763", as nmap prints Product_Version.
    public var productVersion: String { "\(self.release.major).\(self.release.minor).\(self.build)" }

    /// SMB1's NativeOS ("Windows Server 2016 Standard 14393"), as Windows fills it.
    public var nativeOS: String {
        if self.release.isSamba { return "Windows 6.1" }
        let hasEdition = self.osVersion.count > self.release.name.count + 1
        let base = hasEdition ? self.osVersion : self.release.name + " " + self.release.defaultEdition
        return WindowsRelease.trailingNumber(base) == nil ? base + " \(self.build)" : base
    }

    /// SMB1's NativeLanMan ("Windows Server 2016 Standard 6.3"; Samba writes "Samba 4.17.12-Debian").
    public var nativeLanMan: String {
        if self.release.isSamba { return self.osVersion == "Samba" ? "Samba 4.17.12-Debian" : self.osVersion }
        var words = self.nativeOS.split(separator: " ")
        if WindowsRelease.trailingNumber(self.nativeOS) != nil { words.removeLast() }
        return words.joined(separator: " ")
            + (self.release.major == 10 ? " 6.3" : " \(self.release.major).\(self.release.minor)")
    }
}
