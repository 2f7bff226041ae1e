import DecnetServiceKit
import Foundation

/// What the POP3 and IMAP emulators share: Dovecot's greeting as the distro packages it, the accepted logins,
/// and a small mailbox a successful login finds.
struct DovecotPersona: Sendable, Equatable {
    /// `Dovecot (Debian) ready.`
    var greeting: String
    var users: AcceptedCredentials
    /// Messages in INBOX, CRLF line ends.
    var mailbox: [String]
    /// How long Dovecot waits before it answers a failed login (`auth_failure_delay`, 2 s by default).
    var failureDelay: Duration = .seconds(2)
    /// Bad commands before login after which Dovecot's login process says goodbye (`CLIENT_MAX_BAD_COMMANDS`).
    static let maximumBadCommands = 3
    /// Mails planted on the decky: the `.eml` files under `/var/mail/`, added to INBOX at each login.
    var planted = PlantedFiles(root: nil)

    /// The persona with the planted mails at the end of INBOX (oldest first), line ends made CRLF.
    func withPlantedMail() -> DovecotPersona {
        var copy = self
        let mails = self.planted.files(under: "/var/mail").filter { $0.relative.lowercased().hasSuffix(".eml") }
            .sorted { $0.file.modified < $1.file.modified }
        for (_, file) in mails {
            guard let bytes = file.contents() else { continue }
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            copy.mailbox.append(text.replacingOccurrences(of: "\n", with: "\r\n"))
        }
        return copy
    }

    init(context: ServiceContext) {
        switch context.distro {
        case "debian", "kali": self.greeting = "Dovecot (Debian) ready."
        case "ubuntu22", "ubuntu20": self.greeting = "Dovecot (Ubuntu) ready."
        default: self.greeting = "Dovecot ready."
        }
        self.users = AcceptedCredentials(context.persona["users"])
        self.planted = context.planted
        if let milliseconds = context.persona["password_delay_ms"].flatMap({ Int($0) }) {
            self.failureDelay = .milliseconds(Int64(max(0, milliseconds)))
        }
        let domain =
            context.hostname.contains(".") ? String(context.hostname.drop { $0 != "." }.dropFirst()) : "corp.local"
        self.mailbox = [
            [
                "Return-Path: <it-support@\(domain)>",
                "From: IT Support <it-support@\(domain)>",
                "To: staff@\(domain)",
                "Subject: VPN access for the new site",
                "Date: Mon, 09 Sep 2024 08:14:02 +0000",
                "Message-ID: <20240909081402.4F2B81C0A3@\(domain)>",
                "",
                "Hi all,",
                "",
                "the VPN gateway for the new site is vpn.\(domain). Use your usual account;",
                "the temporary password for first login is Welcome2024! and must be changed.",
                "",
                "IT Support",
                "",
            ].joined(separator: "\r\n")
        ]
    }
}
