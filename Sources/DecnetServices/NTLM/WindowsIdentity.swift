import DecnetCore
import DecnetServiceKit

/// Who a Windows (or Samba) decky says it is, the same in every service that shows it: the names and version in
/// the NTLM challenge, the SMB negotiate, RDP and LDAP. Built from the persona keys `os_version`, `build`,
/// `workgroup`, `server_name` and `domain` and the decky's hostname.
public struct WindowsIdentity: Sendable, Equatable {
    /// One release of Windows as its servers show it (our table, from the releases' published version numbers).
    public struct Release: Sendable, Equatable {
        /// How `os_version` names it (the longest match wins).
        var name: String
        var major: UInt8
        var minor: UInt8
        var build: UInt16
        /// Highest SMB2 dialect the release speaks.
        var topDialect: UInt16
        /// Whether SMB1 is on in a default install (off from Windows 10 1709 and Server 2019, and in Samba ≥ 4.11).
        var smb1: Bool
        /// The edition a bare name gets in SMB1's NativeOS ("Windows Server 2016 Standard 14393").
        var defaultEdition: String
        var isSamba: Bool = false
    }

    /// Releases a persona can claim, newest first.
    static let releases: [Release] = [
        Release(
            name: "Windows Server 2022",
            major: 10,
            minor: 0,
            build: 20348,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Standard"
        ),
        Release(
            name: "Windows Server 2019",
            major: 10,
            minor: 0,
            build: 17763,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Standard"
        ),
        Release(
            name: "Windows Server 2016",
            major: 10,
            minor: 0,
            build: 14393,
            topDialect: 0x0311,
            smb1: true,
            defaultEdition: "Standard"
        ),
        Release(
            name: "Windows Server 2012 R2",
            major: 6,
            minor: 3,
            build: 9600,
            topDialect: 0x0302,
            smb1: true,
            defaultEdition: "Standard"
        ),
        Release(
            name: "Windows Server 2012",
            major: 6,
            minor: 2,
            build: 9200,
            topDialect: 0x0300,
            smb1: true,
            defaultEdition: "Standard"
        ),
        Release(
            name: "Windows Server 2008 R2",
            major: 6,
            minor: 1,
            build: 7601,
            topDialect: 0x0210,
            smb1: true,
            defaultEdition: "Standard"
        ),
        Release(
            name: "Windows 11",
            major: 10,
            minor: 0,
            build: 22631,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Pro"
        ),
        Release(
            name: "Windows 10",
            major: 10,
            minor: 0,
            build: 19045,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Pro"
        ),
        Release(
            name: "Windows 8.1",
            major: 6,
            minor: 3,
            build: 9600,
            topDialect: 0x0302,
            smb1: true,
            defaultEdition: "Pro"
        ),
        Release(
            name: "Windows 7",
            major: 6,
            minor: 1,
            build: 7601,
            topDialect: 0x0210,
            smb1: true,
            defaultEdition: "Professional"
        ),
        // Samba's NTLM version field is 6.1.0 (Samba sets no build); it speaks up to 3.1.1 and has SMB1 off.
        Release(
            name: "Samba",
            major: 6,
            minor: 1,
            build: 0,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "",
            isSamba: true
        ),
    ]

    public var release: Release
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
        let release =
            Self.releases.filter { osVersion.lowercased().contains($0.name.lowercased()) }
            .max { $0.name.count < $1.name.count }
            ?? (osVersion.contains("Server") ? Self.releases[1] : Self.releases[7])
        self.release = release
        self.osVersion = osVersion
        self.build = UInt16(persona["build"] ?? "") ?? Self.trailingNumber(osVersion) ?? release.build
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

    /// A trailing build number in the OS string ("… Standard 17763").
    static func trailingNumber(_ text: String) -> UInt16? {
        guard let last = text.split(separator: " ").last, last.allSatisfy(\.isNumber) else { return nil }
        return UInt16(last)
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
        return Self.trailingNumber(base) == nil ? base + " \(self.build)" : base
    }

    /// SMB1's NativeLanMan ("Windows Server 2016 Standard 6.3"; Samba writes "Samba 4.17.12-Debian").
    public var nativeLanMan: String {
        if self.release.isSamba { return self.osVersion == "Samba" ? "Samba 4.17.12-Debian" : self.osVersion }
        var words = self.nativeOS.split(separator: " ")
        if Self.trailingNumber(self.nativeOS) != nil { words.removeLast() }
        return words.joined(separator: " ")
            + (self.release.major == 10 ? " 6.3" : " \(self.release.major).\(self.release.minor)")
    }
}
