import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Foundation
import Testing

@testable import DecnetServices

/// Files planted in a decky's tree, as each file-serving emulator shows them: the shell with their mode and age,
/// FTP by login, SMB in the share they are under, POP3/IMAP as mail; removed at once when revoked.
@Suite struct PlantedFilesTests {
    static let old = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14 22:13:20 UTC

    static func tree() throws -> (TemporaryDirectory, PlantedFiles) {
        let directory = try TemporaryDirectory()
        let planted = PlantedFiles(root: directory.path + "/planted")
        try planted.plant(
            Array("API_BASE_URL=http://x/c/1\n".utf8),
            at: "/opt/app/.env",
            mode: 0o600,
            modified: Self.old
        )
        try planted.plant(
            [0x50, 0x4B, 0x03, 0x04, 0xFF, 0x00],
            at: "/root/Documents/passwords.docx",
            mode: 0o644,
            modified: Self.old
        )
        try planted.plant(
            Array("%PDF-1.4".utf8),
            at: "/srv/shares/Shared/IT/vpn-access.pdf",
            mode: 0o644,
            modified: Self.old
        )
        try planted.plant(Array("pub".utf8), at: "/srv/ftp/pub/readme-first.txt", mode: 0o644, modified: Self.old)
        try planted.plant(
            Array("From: it@corp.local\nSubject: VPN\n\nhttp://x/c/2\n".utf8),
            at: "/var/mail/root/1.eml",
            mode: 0o600,
            modified: Self.old
        )
        return (directory, planted)
    }

    @Test func theShellListsThemWithTheirModeAgeAndBytes() throws {
        let (directory, planted) = try Self.tree()
        defer { directory.remove() }
        var profile = ShellProfile(
            hostname: "web-01",
            distro: DistroCatalogue.all[0],
            osFamily: .linux,
            ip: "10.0.0.11",
            mac: "00:0c:29:4f:8e:35",
            kernelOverride: nil
        )
        profile.planted = planted
        let files = ShellFileSystem(profile: profile, user: "root", home: "/root")
        let listing = try #require(files.list("/opt/app", long: true, all: true))
        #expect(listing.contains("-rw------- 1 root root    26 Nov 14  2023 .env"), "\(listing)")
        #expect(files.list("/opt/app", long: false, all: false) == "", "a dot file is hidden without -a")
        #expect(files.read("/opt/app/.env") == "API_BASE_URL=http://x/c/1\n")
        #expect(
            files.bytes("/root/Documents/passwords.docx") == [0x50, 0x4B, 0x03, 0x04, 0xFF, 0x00],
            "bytes as planted"
        )
        #expect(files.isDirectory("/root/Documents") && files.isDirectory("/srv/shares/Shared/IT"))
        #expect(files.list("/root", long: false, all: false)?.contains("Documents") == true)
        // Revoked: gone from the next session's tree.
        #expect(planted.remove("/opt/app/.env"))
        #expect(ShellFileSystem(profile: profile, user: "root", home: "/root").read("/opt/app/.env") == nil)
    }

    @Test func ftpShowsTheTreeToAccountsAndSrvFtpToAnonymous() throws {
        let (directory, planted) = try Self.tree()
        defer { directory.remove() }
        var account = FTPFileSystem(home: "/home/admin")
        account.add(planted, anonymous: false)
        #expect(account.entry("/opt/app/.env") == .file(Array("API_BASE_URL=http://x/c/1\n".utf8), size: 26))
        #expect(account.isDirectory("/root/Documents"))
        var anonymous = FTPFileSystem(home: "/")
        anonymous.add(planted, anonymous: true)
        #expect(anonymous.entry("/pub/readme-first.txt") == .file(Array("pub".utf8), size: 3))
        #expect(anonymous.entry("/opt/app/.env") == nil && anonymous.entry("/srv/ftp/pub/readme-first.txt") == nil)
    }

    @Test func smbSharesGetWhatIsUnderSrvShares() throws {
        let (directory, planted) = try Self.tree()
        defer { directory.remove() }
        let identity = WindowsIdentity(persona: [:], hostname: "FS01", osFamily: .windows)
        let shares = SMBShares(identity: identity, persona: ["smb_shares": "Shared,Finance"], domainController: false)
            .adding(planted)
        let shared = try #require(shares.share(forPath: "\\\\FS01\\shared"))
        let node = try #require(shared.tree.node("IT\\vpn-access.pdf"))
        #expect(node.data == Array("%PDF-1.4".utf8) && !node.isDirectory)
        #expect(node.written == (1_700_000_000 + 11_644_473_600) * 10_000_000, "the planted time as a FILETIME")
        #expect(try #require(shares.share(forPath: "\\\\FS01\\Finance")).tree.node("IT\\vpn-access.pdf") == nil)
        #expect(try #require(shares.share(forPath: "\\\\FS01\\C$")).tree.node("IT\\vpn-access.pdf") == nil)
    }

    @Test func plantedMailIsInTheInbox() throws {
        let (directory, planted) = try Self.tree()
        defer { directory.remove() }
        var context = ServiceContext(
            decky: "mail-01",
            hostname: "mail-01.corp.local",
            service: "pop3",
            persona: [:],
            sink: EventCapture()
        )
        context.planted = planted
        let persona = DovecotPersona(context: context)
        let mailbox = persona.withPlantedMail().mailbox
        #expect(mailbox.count == persona.mailbox.count + 1)
        #expect(mailbox.last == "From: it@corp.local\r\nSubject: VPN\r\n\r\nhttp://x/c/2\r\n", "CRLF line ends")
    }
}
