/// One release of Windows (or Samba) as its servers show it: the version in NTLM messages, the SMB dialects and
/// whether SMB1 is on by default. Our table, from the releases' published version numbers; the Windows services
/// read it through the decky's identity, and the planner checks a persona against it.
public struct WindowsRelease: Sendable, Equatable {
    /// How `os_version` names it (the longest name found in the text wins).
    public var name: String
    public var major: UInt8
    public var minor: UInt8
    public var build: UInt16
    /// Highest SMB2 dialect the release speaks.
    public var topDialect: UInt16
    /// Whether SMB1 is on in a default install (off from Windows 10 1709 and Server 2019, and in Samba ≥ 4.11).
    public var smb1: Bool
    /// The edition a bare name gets in SMB1's NativeOS ("Windows Server 2016 Standard 14393").
    public var defaultEdition: String
    public var isSamba: Bool = false

    /// Releases a persona can claim, newest first.
    public static let all: [WindowsRelease] = [
        WindowsRelease(
            name: "Windows Server 2022",
            major: 10,
            minor: 0,
            build: 20348,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Standard"
        ),
        WindowsRelease(
            name: "Windows Server 2019",
            major: 10,
            minor: 0,
            build: 17763,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Standard"
        ),
        WindowsRelease(
            name: "Windows Server 2016",
            major: 10,
            minor: 0,
            build: 14393,
            topDialect: 0x0311,
            smb1: true,
            defaultEdition: "Standard"
        ),
        WindowsRelease(
            name: "Windows Server 2012 R2",
            major: 6,
            minor: 3,
            build: 9600,
            topDialect: 0x0302,
            smb1: true,
            defaultEdition: "Standard"
        ),
        WindowsRelease(
            name: "Windows Server 2012",
            major: 6,
            minor: 2,
            build: 9200,
            topDialect: 0x0300,
            smb1: true,
            defaultEdition: "Standard"
        ),
        WindowsRelease(
            name: "Windows Server 2008 R2",
            major: 6,
            minor: 1,
            build: 7601,
            topDialect: 0x0210,
            smb1: true,
            defaultEdition: "Standard"
        ),
        WindowsRelease(
            name: "Windows 11",
            major: 10,
            minor: 0,
            build: 22631,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Pro"
        ),
        WindowsRelease(
            name: "Windows 10",
            major: 10,
            minor: 0,
            build: 19045,
            topDialect: 0x0311,
            smb1: false,
            defaultEdition: "Pro"
        ),
        WindowsRelease(
            name: "Windows 8.1",
            major: 6,
            minor: 3,
            build: 9600,
            topDialect: 0x0302,
            smb1: true,
            defaultEdition: "Pro"
        ),
        WindowsRelease(
            name: "Windows 7",
            major: 6,
            minor: 1,
            build: 7601,
            topDialect: 0x0210,
            smb1: true,
            defaultEdition: "Professional"
        ),
        // Samba's NTLM version field is 6.1.0 (Samba sets no build); it speaks up to 3.1.1 and has SMB1 off.
        WindowsRelease(
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

    /// The release an OS string names ("Windows Server 2016 Standard 14393" → Windows Server 2016), if any.
    public static func named(in text: String) -> WindowsRelease? {
        let lowered = text.lowercased()
        return self.all.filter { lowered.contains($0.name.lowercased()) }.max { $0.name.count < $1.name.count }
    }

    /// For an OS string the table does not know: Windows Server 2019's fields for a server, Windows 10's otherwise.
    public static func closest(to text: String) -> WindowsRelease {
        text.contains("Server") ? self.all[1] : self.all[7]
    }

    /// The build an OS string ends with ("Windows Server 2019 Standard 17763" → 17763), not counting the number
    /// in the release's own name ("Windows Server 2016" has none).
    public static func build(in text: String) -> UInt16? {
        let lowered = text.lowercased()
        var rest = lowered
        if let release = self.named(in: text), let range = lowered.firstRange(of: release.name.lowercased()) {
            rest = String(lowered[range.upperBound...])
        }
        return self.trailingNumber(rest)
    }

    /// A trailing number in a text ("… Standard 17763").
    public static func trailingNumber(_ text: String) -> UInt16? {
        guard let last = text.split(separator: " ").last, last.allSatisfy(\.isNumber) else { return nil }
        return UInt16(last)
    }
}
