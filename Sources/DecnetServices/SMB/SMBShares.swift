import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation

/// The shares a decky's SMB server offers after a login and what is in them: the special shares of the persona's
/// OS (ADMIN$, C$ and IPC$ on Windows, NETLOGON and SYSVOL on a domain controller, IPC$ on Samba), and the persona's
/// own shares (`smb_shares`), each a small read-only tree of files an intruder would want to open.
struct SMBShares: Equatable, Sendable {
    enum Kind: Equatable, Sendable { case disk, ipc }

    struct Share: Equatable, Sendable {
        var name: String
        var kind: Kind
        /// The share type srvsvc reports (STYPE_DISKTREE, STYPE_IPC, with STYPE_SPECIAL for the `$` shares).
        var type: UInt32
        var remark: String
        /// Administrative shares: listed, but a tree connect is refused to the users a decky lets in.
        var adminOnly: Bool
        var tree: SMBTree
    }

    var shares: [Share]

    /// No shares (a server that lets nobody in has nothing to show).
    static let none = SMBShares(shares: [])

    init(shares: [Share]) { self.shares = shares }

    init(identity: WindowsIdentity, persona: [String: String], domainController: Bool) {
        let names = (persona["smb_shares"] ?? "Shared").split(separator: ",").map {
            String($0.trimmedOfBlanks())
        }.filter { !$0.isEmpty && $0.count <= 80 }
        let domain = identity.dnsDomain ?? "corp.local"
        var shares: [Share] = []
        if identity.release.isSamba {
            for name in names {
                shares.append(
                    Share(
                        name: name,
                        kind: .disk,
                        type: 0,
                        remark: "",
                        adminOnly: false,
                        tree: .bait(for: name, identity: identity)
                    )
                )
            }
            let version = identity.nativeLanMan
            shares.append(
                Share(
                    name: "IPC$",
                    kind: .ipc,
                    type: 0x8000_0003,
                    remark: "IPC Service (\(version))",
                    adminOnly: false,
                    tree: SMBTree()
                )
            )
            self.shares = shares
            return
        }
        shares.append(
            Share(
                name: "ADMIN$",
                kind: .disk,
                type: 0x8000_0000,
                remark: "Remote Admin",
                adminOnly: true,
                tree: SMBTree()
            )
        )
        shares.append(
            Share(name: "C$", kind: .disk, type: 0x8000_0000, remark: "Default share", adminOnly: true, tree: SMBTree())
        )
        shares.append(
            Share(name: "IPC$", kind: .ipc, type: 0x8000_0003, remark: "Remote IPC", adminOnly: false, tree: SMBTree())
        )
        if domainController {
            shares.append(
                Share(
                    name: "NETLOGON",
                    kind: .disk,
                    type: 0,
                    remark: "Logon server share ",
                    adminOnly: false,
                    tree: .netlogon(identity: identity)
                )
            )
            shares.append(
                Share(
                    name: "SYSVOL",
                    kind: .disk,
                    type: 0,
                    remark: "Logon server share ",
                    adminOnly: false,
                    tree: .sysvol(domain: domain)
                )
            )
        }
        for name in names where !shares.contains(where: { $0.name.lowercased() == name.lowercased() }) {
            shares.append(
                Share(
                    name: name,
                    kind: .disk,
                    type: 0,
                    remark: "",
                    adminOnly: false,
                    tree: .bait(for: name, identity: identity)
                )
            )
        }
        self.shares = shares.sorted { $0.name.uppercased() < $1.name.uppercased() }
    }

    /// The shares with the decky's planted files: those under `/srv/shares/<share>/` in that share (the name
    /// compared without case), as a Samba `path =` would serve them.
    func adding(_ planted: PlantedFiles) -> SMBShares {
        guard planted.root != nil else { return self }
        var copy = self
        let files = planted.files(under: "/srv/shares")
        guard !files.isEmpty else { return self }
        for index in copy.shares.indices where copy.shares[index].kind == .disk && !copy.shares[index].adminOnly {
            let prefix = copy.shares[index].name.lowercased() + "/"
            for (relative, file) in files where relative.lowercased().hasPrefix(prefix) {
                guard let bytes = file.contents() else { continue }
                let inside = relative.dropFirst(prefix.count).split(separator: "/").joined(separator: "\\")
                let seconds = UInt64(max(0, file.modified.timeIntervalSince1970))
                copy.shares[index].tree.add(inside, bytes: bytes, written: (seconds + 11_644_473_600) * 10_000_000)
            }
        }
        return copy
    }

    /// The share a TREE_CONNECT path (`\\server\share`) names, case-insensitively.
    func share(forPath path: String) -> Share? {
        let name = path.split(separator: "\\").last.map(String.init) ?? path
        return self.shares.first { $0.name.lowercased() == name.lowercased() }
    }
}

/// A read-only file tree: paths relative to the share root, backslash-separated, looked up case-insensitively.
struct SMBTree: Equatable, Sendable {
    struct Node: Equatable, Sendable {
        /// The path as the listing shows it ("IT\vpn.txt"); the root is "".
        var path: String
        var isDirectory: Bool
        var data: [UInt8]
        /// Creation and last-write times (Windows FILETIME).
        var created: UInt64
        var written: UInt64
        /// A stable file id (the index number clients see).
        var fileID: UInt64

        var name: String { String(self.path.split(separator: "\\").last ?? "") }
        /// FILE_ATTRIBUTE_DIRECTORY, or FILE_ATTRIBUTE_ARCHIVE as on NTFS.
        var attributes: UInt32 { self.isDirectory ? 0x10 : 0x20 }
        var allocationSize: UInt64 { self.isDirectory ? 0 : (UInt64(self.data.count) + 4095) / 4096 * 4096 }
    }

    private(set) var nodes: [String: Node] = [:]

    init() {
        self.nodes[""] = Node(
            path: "",
            isDirectory: true,
            data: [],
            created: Self.epoch,
            written: Self.epoch,
            fileID: 5
        )
    }

    /// 2024-02-12 08:30 UTC as a FILETIME: when the bait trees were "made".
    static let epoch: UInt64 = (1_707_726_600 + 11_644_473_600) * 10_000_000
    static let day: UInt64 = 86_400 * 10_000_000

    /// Adds a file (and its parent folders), `age` days after the epoch plus a few stable minutes.
    mutating func add(_ path: String, _ text: String, day: UInt64) {
        let minutes = UInt64(Self.fileID(path) % 600) * 60 * 10_000_000
        self.add(path, bytes: Array(text.utf8), written: Self.epoch + day * Self.day + minutes)
    }

    /// Adds a file with its last-write time (a FILETIME), created three days before; folders as of then.
    mutating func add(_ path: String, bytes: [UInt8], written: UInt64) {
        let parts = path.split(separator: "\\").map(String.init)
        var current = ""
        for part in parts.dropLast() {
            current = current.isEmpty ? part : current + "\\" + part
            if self.nodes[current.lowercased()] == nil {
                self.nodes[current.lowercased()] = Node(
                    path: current,
                    isDirectory: true,
                    data: [],
                    created: written - 3 * Self.day,
                    written: written - 3 * Self.day,
                    fileID: Self.fileID(current)
                )
            }
        }
        self.nodes[path.lowercased()] = Node(
            path: path,
            isDirectory: false,
            data: bytes,
            created: written - 3 * Self.day,
            written: written,
            fileID: Self.fileID(path)
        )
    }

    static func fileID(_ path: String) -> UInt64 {
        let digest = SHA256.hash(data: Array(path.lowercased().utf8))
        return digest.prefix(6).reduce(0) { $0 << 8 | UInt64($1) } | 0x0001_0000_0000_0000
    }

    /// The node at a path (leading and trailing backslashes ignored).
    func node(_ path: String) -> Node? {
        self.nodes[Self.normalize(path).lowercased()]
    }

    static func normalize(_ path: String) -> String {
        path.split(separator: "\\", omittingEmptySubsequences: true).joined(separator: "\\")
    }

    /// The children of a directory, sorted by name as NTFS lists them.
    func children(of directory: String) -> [Node] {
        let key = Self.normalize(directory).lowercased()
        return self.nodes.values.filter { node in
            guard !node.path.isEmpty else { return false }
            let lower = node.path.lowercased()
            let parent = lower.split(separator: "\\").dropLast().joined(separator: "\\")
            return parent == key
        }.sorted { $0.name.uppercased() < $1.name.uppercased() }
    }

    // MARK: Bait

    /// A departmental file share: the documents people leave where everyone can read them.
    static func bait(for share: String, identity: WindowsIdentity) -> SMBTree {
        var tree = SMBTree()
        let domain = identity.dnsDomain ?? "corp.local"
        let netbios = identity.netbiosDomain
        let server = identity.netbiosName
        tree.add(
            "IT\\network-notes.txt",
            "Core switch  10.0.0.1   (admin creds in the vault)\r\nBackup NAS   \\\\BACKUP01\\backups\r\n"
                + "VPN          vpn.\(domain)\r\nPrinter      \\\\\(server)\\HP-4th-floor\r\n",
            day: 12
        )
        tree.add(
            "IT\\service-accounts.txt",
            "Service accounts (do not share outside IT)\r\n\r\nsvc_backup   \(netbios)\\svc_backup   Backup2023!\r\n"
                + "svc_sql      \(netbios)\\svc_sql      Sql$erv1ce#24\r\n",
            day: 40
        )
        tree.add(
            "Scripts\\map-drives.ps1",
            "# Maps the department drives at logon\r\n$cred = New-Object PSCredential('\(netbios)\\svc_backup', "
                + "(ConvertTo-SecureString 'Backup2023!' -AsPlainText -Force))\r\n"
                + "New-PSDrive -Name S -PSProvider FileSystem -Root \\\\\(server)\\\(share) -Credential $cred -Persist\r\n",
            day: 55
        )
        tree.add(
            "Finance\\2024-Q3-budget.csv",
            "Department,Q1,Q2,Q3\r\nIT,182000,176500,190250\r\nSales,420000,455000,471300\r\nHR,96000,98400,97750\r\n",
            day: 180
        )
        tree.add(
            "HR\\staff-directory.csv",
            "Name,Title,Email,Extension\r\nAnna Keller,IT Manager,a.keller@\(domain),2101\r\n"
                + "Marc Dubois,Finance Lead,m.dubois@\(domain),2230\r\nSara Lind,HR Partner,s.lind@\(domain),2315\r\n",
            day: 95
        )
        tree.add(
            "readme.txt",
            "Department share. Ask the IT service desk for access to the restricted folders.\r\n",
            day: 3
        )
        return tree
    }

    /// A domain controller's NETLOGON: the logon script.
    static func netlogon(identity: WindowsIdentity) -> SMBTree {
        var tree = SMBTree()
        tree.add(
            "logon.bat",
            "@echo off\r\nnet use H: \\\\\(identity.netbiosName)\\home\\%USERNAME% /persistent:no\r\n"
                + "net time \\\\\(identity.netbiosName) /set /yes\r\n",
            day: 20
        )
        return tree
    }

    /// A domain controller's SYSVOL: the default domain policy's GPT.INI and the scripts folder.
    static func sysvol(domain: String) -> SMBTree {
        var tree = SMBTree()
        let policies = "\(domain)\\Policies"
        tree.add("\(policies)\\{31B2F340-016D-11D2-945F-00C04FB984F9}\\GPT.INI", "[General]\r\nVersion=3\r\n", day: 1)
        tree.add("\(policies)\\{6AC1786C-016F-11D2-945F-00C04fB984F9}\\GPT.INI", "[General]\r\nVersion=1\r\n", day: 1)
        tree.add("\(domain)\\scripts\\logon.bat", "@echo off\r\n", day: 20)
        return tree
    }
}

extension Substring {
    fileprivate func trimmedOfBlanks() -> String {
        let skip: Set<Character> = [" ", "\t"]
        guard let first = self.firstIndex(where: { !skip.contains($0) }),
            let last = self.lastIndex(where: { !skip.contains($0) })
        else { return "" }
        return String(self[first...last])
    }
}
