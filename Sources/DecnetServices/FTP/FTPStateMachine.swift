import DecnetCore
import DecnetServiceKit

/// The FTP control dialogue of vsftpd 3, without I/O. Data transfers are requested as actions; the connection
/// runs them over the data channel and reports back with `transferFinished`.
struct FTPStateMachine {
    /// What the connection does with one step's result.
    enum Action: Equatable {
        /// Write this reply (one or more CRLF-terminated lines are added by the writer).
        case reply(String)
        /// Raise this event.
        case emit(EventID, EventFields)
        /// Open a passive data socket and call `passiveOpened(port:)`.
        case openPassive(extended: Bool)
        /// Remember an active-mode target for the next transfer.
        case setActive(host: String, port: Int)
        /// Run a transfer over the data channel, then call `transferFinished`.
        case transfer(Transfer)
        /// Close after the replies are written.
        case close
        /// Wait before going on (PAM's delay before a failed login is answered).
        case delay(Duration)
    }

    /// A transfer over the data channel.
    enum Transfer: Equatable {
        /// Send these bytes (a directory listing, or a file).
        case send([UInt8], listing: Bool)
        /// Receive a file (until the client closes the data connection).
        case receive(path: String)
    }

    /// Where the dialogue is.
    private enum State: Equatable {
        /// Waiting for USER.
        case awaitingUser
        /// USER given; waiting for PASS.
        case awaitingPassword(user: String)
        /// Logged in.
        case loggedIn(user: String, anonymous: Bool)
        /// A transfer is running; commands wait.
        case transferring(user: String, anonymous: Bool, kind: Transfer)
        /// After QUIT or too many failed logins.
        case closed
    }

    let configuration: FTPService.Configuration
    let localAddress: String
    let peerAddress: String
    private var state = State.awaitingUser
    private var failures = 0
    private var cwd = "/"
    private var files: FTPFileSystem
    private var hasDataEndpoint = false
    private var renameFrom: String?

    init(configuration: FTPService.Configuration, localAddress: String, peerAddress: String) {
        self.configuration = configuration
        self.localAddress = localAddress
        self.peerAddress = peerAddress
        self.files = FTPFileSystem(home: "/")
    }

    var greeting: String { "220 \(self.configuration.banner)" }

    mutating func received(_ line: [UInt8]) -> [Action] {
        if self.state == .closed { return [] }
        // vsftpd reads an empty line as nothing at all.
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { return [] }
        let text = String(decoding: line, as: UTF8.self)
        let verb = text.prefix { $0 != " " }.uppercased()
        let argument = String(text.dropFirst(verb.count).drop { $0 == " " })
        var fields = EventFields()
        fields.add("command", attackerText: verb)
        if verb != "PASS" && !argument.isEmpty { fields.add("args", attackerText: argument) }
        return [.emit(.commandInput, fields)] + self.command(verb, argument)
    }

    mutating func receivedOverlongLine() -> [Action] {
        self.state = .closed
        var fields = EventFields()
        fields.add("error", "line too long")
        return [.emit(.clientMalformed, fields), .reply("500 Input line too long."), .close]
    }

    private mutating func command(_ verb: String, _ argument: String) -> [Action] {
        switch (self.state, verb) {
        case (.transferring, _):
            return verb == "ABOR" ? [.reply("225 No transfer to ABOR.")] : []
        case (_, "QUIT"):
            self.state = .closed
            return [.reply("221 Goodbye."), .close]
        case (_, "FEAT"):
            return [
                .reply(
                    "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End"
                )
            ]
        case (_, "NOOP"):
            return [.reply("200 NOOP ok.")]
        case (_, "OPTS"):
            return [
                .reply(
                    argument.uppercased().hasPrefix("UTF8") ? "200 Always in UTF8 mode." : "501 Option not understood."
                )
            ]
        case (.awaitingUser, "USER"), (.awaitingPassword, "USER"):
            guard !argument.isEmpty else { return [.reply("500 OOPS: invalid username")] }
            self.state = .awaitingPassword(user: argument)
            return [.reply("331 Please specify the password.")]
        case (.awaitingPassword(let user), "PASS"):
            return self.login(user: user, password: argument)
        case (.awaitingUser, "PASS"):
            return [.reply("503 Login with USER first.")]
        case (.awaitingUser, _), (.awaitingPassword, _):
            return [.reply("530 Please login with USER and PASS.")]
        case (.loggedIn(let user, let anonymous), _):
            return self.session(verb, argument, user: user, anonymous: anonymous)
        default:
            return [.reply("500 Unknown command.")]
        }
    }

    private mutating func login(user: String, password: String) -> [Action] {
        let anonymous = ["anonymous", "ftp"].contains(user.lowercased())
        var fields = EventFields()
        fields.add("username", attackerText: user)
        fields.add("password", attackerText: password, secret: true)
        fields.add("method", anonymous ? "anonymous" : "password")
        let accepted =
            anonymous ? self.configuration.anonymous : self.configuration.users.accepts(user: user, password: password)
        guard accepted else {
            self.failures += 1
            self.state = .awaitingUser
            // PAM's pam_faildelay: about 3 s (2 s ± 25 % plus the authentication itself) before the answer.
            let delay = Action.delay(.milliseconds(Int64(self.configuration.failureDelayMilliseconds)))
            if self.failures >= 3 {
                self.state = .closed
                return [.emit(.loginFailed, fields), delay, .reply("530 Login incorrect."), .close]
            }
            return [.emit(.loginFailed, fields), delay, .reply("530 Login incorrect.")]
        }
        self.state = .loggedIn(user: user, anonymous: anonymous)
        let home = anonymous ? "/" : "/home/\(user)"
        self.files = FTPFileSystem(home: home)
        self.files.add(self.configuration.planted, anonymous: anonymous)
        self.cwd = home
        return [.emit(.loginSuccess, fields), .reply("230 Login successful.")]
    }

    private mutating func session(_ verb: String, _ argument: String, user: String, anonymous: Bool) -> [Action] {
        let path = FTPFileSystem.resolve(argument, from: self.cwd)
        switch verb {
        case "SYST": return [.reply("215 \(self.configuration.system)")]
        case "PWD", "XPWD": return [.reply("257 \"\(self.cwd)\" is the current directory")]
        case "CWD", "XCWD", "CDUP":
            let target = verb == "CDUP" ? FTPFileSystem.resolve("..", from: self.cwd) : path
            guard self.files.isDirectory(target) else { return [.reply("550 Failed to change directory.")] }
            self.cwd = target
            return [.reply("250 Directory successfully changed.")]
        case "TYPE":
            switch argument.uppercased() {
            case "A", "A N": return [.reply("200 Switching to ASCII mode.")]
            case "I", "L 8": return [.reply("200 Switching to Binary mode.")]
            default: return [.reply("500 Unrecognised TYPE command.")]
            }
        case "PASV", "EPSV":
            return [.openPassive(extended: verb == "EPSV")]
        case "PORT", "EPRT":
            guard let (host, port) = Self.activeTarget(verb, argument) else {
                return [.reply("500 Illegal \(verb) command.")]
            }
            // Only back to the client itself: no FTP bounce through the decoy.
            guard host == self.peerAddress else { return [.reply("500 Illegal \(verb) command.")] }
            self.hasDataEndpoint = true
            let note =
                verb == "PORT"
                ? "PORT command successful. Consider using PASV." : "EPRT command successful. Consider using EPSV."
            return [.setActive(host: host, port: port), .reply("200 \(note)")]
        case "LIST", "NLST":
            let target = argument.hasPrefix("-") || argument.isEmpty ? self.cwd : path
            guard self.files.isDirectory(target) else {
                return self.startTransfer(
                    .send([], listing: true),
                    reply: "150 Here comes the directory listing.",
                    user: user,
                    anonymous: anonymous
                )
            }
            let listing = self.files.listing(of: target, namesOnly: verb == "NLST")
            return self.startTransfer(
                .send(Array(listing.utf8), listing: true),
                reply: "150 Here comes the directory listing.",
                user: user,
                anonymous: anonymous
            )
        case "RETR":
            guard case .file(let bytes, _)? = self.files.entry(path) else {
                return [.reply("550 Failed to open file.")]
            }
            var fields = EventFields()
            fields.add("filename", attackerText: path)
            fields.add("url", "ftp:RETR \(path)")
            return [.emit(.fileDownload, fields)]
                + self.startTransfer(
                    .send(bytes, listing: false),
                    reply: "150 Opening BINARY mode data connection for \(argument) (\(bytes.count) bytes).",
                    user: user,
                    anonymous: anonymous
                )
        case "STOR", "APPE", "STOU":
            guard !anonymous else { return [.reply("550 Permission denied.")] }
            guard !argument.isEmpty || verb == "STOU" else { return [.reply("553 Could not create file.")] }
            let target =
                verb == "STOU" ? FTPFileSystem.resolve("upload.\(Int.random(in: 1000...9999))", from: self.cwd) : path
            return self.startTransfer(
                .receive(path: target),
                reply: "150 Ok to send data.",
                user: user,
                anonymous: anonymous
            )
        case "SIZE":
            guard case .file(_, let size)? = self.files.entry(path) else {
                return [.reply("550 Could not get file size.")]
            }
            return [.reply("213 \(size)")]
        case "MDTM":
            guard case .file? = self.files.entry(path) else {
                return [.reply("550 Could not get file modification time.")]
            }
            return [.reply("213 20240909081402")]
        case "MKD", "XMKD":
            guard !anonymous else { return [.reply("550 Permission denied.")] }
            self.files.makeDirectory(path)
            return [.reply("257 \"\(path)\" created")]
        case "RMD", "XRMD", "DELE":
            guard !anonymous else { return [.reply("550 Permission denied.")] }
            guard self.files.entry(path) != nil else {
                return [
                    .reply(verb == "DELE" ? "550 Delete operation failed." : "550 Remove directory operation failed.")
                ]
            }
            self.files.remove(path)
            return [
                .reply(
                    verb == "DELE" ? "250 Delete operation successful." : "250 Remove directory operation successful."
                )
            ]
        case "RNFR":
            guard !anonymous else { return [.reply("550 Permission denied.")] }
            guard self.files.entry(path) != nil else { return [.reply("550 RNFR command failed.")] }
            self.renameFrom = path
            return [.reply("350 Ready for RNTO.")]
        case "RNTO":
            guard let from = self.renameFrom else { return [.reply("503 RNFR required first.")] }
            self.renameFrom = nil
            self.files.move(from, to: path)
            return [.reply("250 Rename successful.")]
        case "REST":
            return [.reply("350 Restart position accepted (\(Int(argument) ?? 0)).")]
        case "ABOR":
            return [.reply("225 No transfer to ABOR.")]
        case "SITE":
            return [
                .reply(argument.uppercased().hasPrefix("HELP") ? "214 CHMOD UMASK HELP" : "500 Unknown SITE command.")
            ]
        case "HELP":
            return [
                .reply(
                    "214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n MODE NLST NOOP OPTS PASS PASV PORT PWD  QUIT REIN REST RETR RMD  RNFR\r\n RNTO SITE SIZE SMNT STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD\r\n XPWD XRMD\r\n214 Help OK."
                )
            ]
        case "USER", "PASS":
            return [.reply("230 Already logged in.")]
        default:
            return [.reply("500 Unknown command.")]
        }
    }

    private mutating func startTransfer(_ transfer: Transfer, reply: String, user: String, anonymous: Bool) -> [Action]
    {
        guard self.hasDataEndpoint else { return [.reply("425 Use PORT or PASV first.")] }
        self.hasDataEndpoint = false
        self.state = .transferring(user: user, anonymous: anonymous, kind: transfer)
        return [.reply(reply), .transfer(transfer)]
    }

    /// The passive socket is listening on `port` (or could not be opened: nil).
    mutating func passiveOpened(port: Int?, extended: Bool) -> [Action] {
        guard let port else { return [.reply("425 Could not open passive connection.")] }
        self.hasDataEndpoint = true
        if extended { return [.reply("229 Entering Extended Passive Mode (|||\(port)|)")] }
        let address = self.localAddress.split(separator: ".").joined(separator: ",")
        return [.reply("227 Entering Passive Mode (\(address),\(port >> 8),\(port & 0xFF)).")]
    }

    /// The transfer ended; `received` holds an upload's bytes, nil when the data connection never came.
    mutating func transferFinished(connected: Bool, received: [UInt8]) -> [Action] {
        guard case .transferring(let user, let anonymous, let kind) = self.state else { return [] }
        self.state = .loggedIn(user: user, anonymous: anonymous)
        guard connected else { return [.reply("425 Failed to establish connection.")] }
        switch kind {
        case .send(_, let listing):
            return [.reply(listing ? "226 Directory send OK." : "226 Transfer complete.")]
        case .receive(let path):
            self.files.store(path, received)
            return [.reply("226 Transfer complete.")]
        }
    }

    /// `PORT h1,h2,h3,h4,p1,p2` or `EPRT |1|h|p|`.
    static func activeTarget(_ verb: String, _ argument: String) -> (String, Int)? {
        if verb == "PORT" {
            let parts = argument.split(separator: ",").compactMap { Int($0.trimmingWhitespace()) }
            guard parts.count == 6, parts.allSatisfy({ (0...255).contains($0) }) else { return nil }
            let port = parts[4] << 8 | parts[5]
            guard port > 0 else { return nil }
            return (parts[0..<4].map(String.init).joined(separator: "."), port)
        }
        guard let delimiter = argument.first else { return nil }
        let parts = argument.split(separator: delimiter, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[1] == "1", let port = Int(parts[3]), (1...65535).contains(port),
            IPv4Address(String(parts[2])) != nil
        else { return nil }
        return (String(parts[2]), port)
    }
}
