import DecnetCore
import DecnetServiceKit
import Foundation

/// IMAP4rev1 dialogue of a Dovecot persona, without I/O: LOGIN and AUTHENTICATE PLAIN/LOGIN captured, the
/// client's ID recorded, and after a successful login a one-message INBOX to look at.
struct IMAPStateMachine {
    typealias Action = ProtocolAction

    /// Where the dialogue is.
    private enum State {
        /// Not authenticated.
        case notAuthenticated
        /// AUTHENTICATE PLAIN waiting for its response.
        case saslPlain(tag: String)
        /// AUTHENTICATE LOGIN waiting for the username.
        case saslLoginUser(tag: String)
        /// AUTHENTICATE LOGIN waiting for this user's password.
        case saslLoginPassword(tag: String, user: [UInt8])
        /// Logged in; `selected` once a mailbox is selected.
        case authenticated(selected: Bool)
        /// After LOGOUT.
        case closed
    }

    let configuration: DovecotPersona
    private var state = State.notAuthenticated
    private var assembler = IMAPCommandAssembler()
    /// Bad commands before login (Dovecot's imap-login says goodbye at the third).
    private var badCommands = 0

    /// Input not yet read, and where imap-login's reader is in it (see `received(bytes:)`).
    private var pending: [UInt8] = []
    private var reader = Reader.tag

    private enum Reader {
        /// Validating a command's tag and name byte by byte, before its line has ended.
        case tag
        /// Tag and name are good: the whole line goes to the command parser once it has ended.
        case arguments
        /// After a bad tag or name: everything up to the next newline is dropped.
        case skipLine
    }

    /// imap-login's input buffer: a token (or a run being skipped) that does not end within it is fatal.
    static let inputBuffer = 1026
    /// Longest command line read before login.
    static let maximumLine = 16_384

    var isAuthenticated: Bool { if case .authenticated = self.state { true } else { false } }

    /// What imap-login (before login) answers a command it cannot or will not run: one text for all, whatever
    /// the command was (the reply nmap names Dovecot by), and at the third a BYE and a close.
    private mutating func preLoginBad(
        _ tag: String?,
        _ text: String = "Error in IMAP command received by server."
    )
        -> [Action]
    {
        self.badCommands += 1
        if self.badCommands >= DovecotPersona.maximumBadCommands {
            self.state = .closed
            return [.reply("* BYE Too many invalid IMAP commands.\r\n"), .close]
        }
        return [.reply("\(tag ?? "*") BAD \(text)\r\n")]
    }

    init(configuration: DovecotPersona) { self.configuration = configuration }

    static let capabilities = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN"
    static let postLoginCapabilities =
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
        + "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
        + "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE "
        + "SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"

    var greeting: String { "* OK [CAPABILITY \(Self.capabilities)] \(self.configuration.greeting)\r\n" }

    /// Bytes as they arrive. Before login they are read as Dovecot's imap-login reads them, byte by byte: a tag
    /// byte that cannot be one (a control byte, 0x80 or above, one of `(){%*"\]+`), an empty tag, a tag over 126
    /// bytes or an empty or bad command name is a bad command at once, without waiting for the newline, and the
    /// rest of its line is skipped; a token that does not end within the 1,026-byte input buffer ends the
    /// connection. A command whose tag and name are good is parsed when its line has ended. After login (the
    /// `imap` process) and during AUTHENTICATE, input is read by lines.
    mutating func received(bytes: [UInt8]) -> [Action] {
        self.pending += bytes
        var actions: [Action] = []
        while !self.pending.isEmpty {
            if case .closed = self.state {
                self.pending = []
                break
            }
            if case .notAuthenticated = self.state, self.assembler.isIdle, self.reader != .arguments {
                guard let more = self.preLoginScan() else { break }
                actions += more
                continue
            }
            guard let newline = self.pending.firstIndex(of: 10) else {
                if self.pending.count > Self.maximumLine {
                    self.pending = []
                    actions += self.receivedOverlongLine()
                }
                break
            }
            var line = Array(self.pending[..<newline])
            self.pending.removeFirst(newline + 1)
            if line.last == 13 { line.removeLast() }
            actions += self.received(line)
            if self.assembler.isIdle { self.reader = .tag }
        }
        return actions
    }

    /// One step of imap-login's reader over `pending`: its answer, or nil while more bytes are needed.
    private mutating func preLoginScan() -> [Action]? {
        if self.reader == .skipLine {
            guard let newline = self.pending.firstIndex(of: 10), newline < Self.inputBuffer else {
                return self.pending.count >= Self.inputBuffer ? self.bufferFull() : nil
            }
            self.pending.removeFirst(newline + 1)
            self.reader = .tag
            return []
        }
        func ends(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 13 || byte == 10 }
        var index = 0
        while index < self.pending.count && !ends(self.pending[index]) {
            guard Self.isTagByte(self.pending[index]) else { return self.badToken(tag: nil, "invalid tag") }
            index += 1
            if index >= Self.inputBuffer { return self.bufferFull() }
        }
        guard index < self.pending.count else { return nil }
        guard index > 0, index <= 126 else { return self.badToken(tag: nil, "invalid tag") }
        let tag = String(decoding: self.pending[..<index], as: UTF8.self)
        guard self.pending[index] == 0x20 else { return self.badToken(tag: tag, "no command name") }
        let start = index + 1
        index = start
        while index < self.pending.count && !ends(self.pending[index]) {
            let byte = self.pending[index]
            guard Self.isTagByte(byte) || byte == UInt8(ascii: "+") else {
                return self.badToken(tag: tag, "invalid command name")
            }
            index += 1
            if index >= Self.inputBuffer { return self.bufferFull() }
        }
        guard index < self.pending.count else { return nil }
        guard index > start else { return self.badToken(tag: tag, "no command name") }
        self.reader = .arguments
        return []
    }

    /// A byte imap-login takes in a tag (an atom character other than `+` and `]`).
    static func isTagByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x80 && !Array("(){%*\"\\]+".utf8).contains(byte)
    }

    private mutating func badToken(tag: String?, _ reason: String) -> [Action] {
        self.reader = .skipLine
        var fields = EventFields()
        fields.add("error", reason)
        fields.add("preview", attackerBytes: self.pending.prefix(80))
        return [.emit(.clientMalformed, fields)] + self.preLoginBad(tag)
    }

    private mutating func bufferFull() -> [Action] {
        self.pending = []
        return self.receivedOverlongLine()
    }

    mutating func received(_ line: [UInt8]) -> [Action] {
        switch self.state {
        case .closed:
            return []
        case .saslPlain(let tag):
            self.state = .notAuthenticated
            guard let decoded = Self.base64(line) else { return self.saslAborted(tag) }
            let parts = decoded.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else {
                return [.reply("\(tag) NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")]
            }
            return self.login(tag: tag, user: Array(parts[1]), password: Array(parts[2]), method: "AUTHENTICATE PLAIN")
        case .saslLoginUser(let tag):
            guard let user = Self.base64(line) else {
                self.state = .notAuthenticated
                return self.saslAborted(tag)
            }
            self.state = .saslLoginPassword(tag: tag, user: user)
            return [.reply("+ UGFzc3dvcmQ6\r\n")]
        case .saslLoginPassword(let tag, let user):
            self.state = .notAuthenticated
            guard let password = Self.base64(line) else { return self.saslAborted(tag) }
            return self.login(tag: tag, user: user, password: password, method: "AUTHENTICATE LOGIN")
        case .notAuthenticated, .authenticated:
            switch self.assembler.received(line) {
            case .incomplete: return []
            case .continuationNeeded: return [.reply("+ OK\r\n")]
            case .malformed(let tag, let reason):
                var fields = EventFields()
                fields.add("error", reason)
                fields.add("preview", attackerBytes: line.prefix(80))
                if !self.isAuthenticated { return [.emit(.clientMalformed, fields)] + self.preLoginBad(tag) }
                return [
                    .emit(.clientMalformed, fields),
                    .reply("\(tag ?? "*") BAD Error in IMAP command received by server.\r\n"),
                ]
            case .command(let tag, let arguments):
                return self.command(tag: tag, arguments)
            }
        }
    }

    /// A line past the input buffer: Dovecot says so and drops the connection.
    mutating func receivedOverlongLine() -> [Action] {
        var fields = EventFields()
        fields.add("error", "line too long")
        self.assembler = IMAPCommandAssembler()
        self.state = .closed
        return [.emit(.clientMalformed, fields), .reply("* BYE Input buffer full, aborting\r\n"), .close]
    }

    private mutating func command(tag: String, _ arguments: [IMAPToken]) -> [Action] {
        guard case .atom(let rawName) = arguments[0] else {
            if !self.isAuthenticated { return self.preLoginBad(tag) }
            return [.reply("\(tag) BAD Error in IMAP command received by server.\r\n")]
        }
        var name = rawName.uppercased()
        var rest = Array(arguments.dropFirst())
        if name == "UID", case .atom(let sub)? = rest.first {
            name = "UID " + sub.uppercased()
            rest.removeFirst()
        }
        var fields = EventFields()
        fields.add("command", attackerText: name)
        if name != "LOGIN" && name != "AUTHENTICATE" && !rest.isEmpty {
            fields.add("args", attackerText: rest.map(Self.render).joined(separator: " "))
        }
        var actions: [Action] = [.emit(.commandInput, fields)]
        let authenticated = { if case .authenticated = self.state { true } else { false } }()

        switch name {
        case "CAPABILITY":
            let list = authenticated ? Self.postLoginCapabilities : Self.capabilities
            let note =
                authenticated
                ? "Capability completed." : "Pre-login capabilities listed, post-login capabilities have more."
            return actions + [.reply("* CAPABILITY \(list)\r\n\(tag) OK \(note)\r\n")]
        case "NOOP":
            return actions + [.reply("\(tag) OK NOOP completed.\r\n")]
        case "ID":
            var identity = EventFields()
            if case .list(let items)? = rest.first {
                identity.add("client", attackerText: items.map(Self.render).joined(separator: " "))
                actions.append(.emit(.clientFingerprint, identity))
            }
            return actions + [.reply("* ID (\"name\" \"Dovecot\")\r\n\(tag) OK ID completed.\r\n")]
        case "LOGOUT":
            self.state = .closed
            return actions + [.reply("* BYE Logging out\r\n\(tag) OK Logout completed.\r\n"), .close]
        case "ENABLE":
            return actions + [.reply("* ENABLED\r\n\(tag) OK Enabled.\r\n")]
        case "STARTTLS":
            return actions + [.reply("\(tag) BAD TLS support isn't enabled.\r\n")]
        case "LOGIN" where !authenticated:
            guard rest.count == 2, let user = rest[0].bytes, let password = rest[1].bytes else {
                return actions + [.reply("\(tag) BAD Error in IMAP command LOGIN: Invalid arguments.\r\n")]
            }
            return actions + self.login(tag: tag, user: user, password: password, method: "LOGIN")
        case "AUTHENTICATE" where !authenticated:
            guard case .atom(let mechanism)? = rest.first else {
                return actions + [.reply("\(tag) BAD Error in IMAP command AUTHENTICATE: Invalid arguments.\r\n")]
            }
            switch mechanism.uppercased() {
            case "PLAIN":
                if rest.count == 2, let initial = rest[1].bytes {
                    self.state = .saslPlain(tag: tag)
                    return actions + self.received(initial)
                }
                self.state = .saslPlain(tag: tag)
                return actions + [.reply("+ \r\n")]
            case "LOGIN":
                self.state = .saslLoginUser(tag: tag)
                return actions + [.reply("+ VXNlcm5hbWU6\r\n")]
            default:
                return actions + [.reply("\(tag) NO Unsupported authentication mechanism.\r\n")]
            }
        case "LOGIN", "AUTHENTICATE":
            return actions + [.reply("\(tag) BAD Error in IMAP command \(name): Already authenticated.\r\n")]
        default:
            guard authenticated else {
                // A line that starts with LOGIN and goes on with no command imap-login knows: advice, not
                // counted as a bad command.
                if tag.uppercased() == "LOGIN" {
                    return actions + [
                        .reply(
                            "\(tag) BAD First parameter in line is IMAP's command tag, not the command name. Add that before the command, like: a login user pass\r\n"
                        )
                    ]
                }
                return actions + self.preLoginBad(tag)
            }
            return actions + self.mailbox(tag: tag, name, rest)
        }
    }

    private mutating func mailbox(tag: String, _ name: String, _ arguments: [IMAPToken]) -> [Action] {
        let messages = self.configuration.mailbox
        switch name {
        case "LIST", "LSUB":
            return [
                .reply(
                    "* \(name) (\\HasNoChildren) \"/\" INBOX\r\n* \(name) (\\HasNoChildren \\Sent) \"/\" Sent\r\n\(tag) OK \(name.capitalized) completed (0.001 + 0.000 secs).\r\n"
                )
            ]
        case "SELECT", "EXAMINE":
            self.state = .authenticated(selected: true)
            let mode = name == "SELECT" ? "READ-WRITE" : "READ-ONLY"
            return [
                .reply(
                    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
                        + "* \(messages.count) EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1725869642] UIDs valid\r\n* OK [UIDNEXT \(messages.count + 1)] Predicted next UID\r\n"
                        + "\(tag) OK [\(mode)] \(name.capitalized) completed (0.001 + 0.000 secs).\r\n"
                )
            ]
        case "STATUS":
            return [
                .reply(
                    "* STATUS INBOX (MESSAGES \(messages.count) UNSEEN 1)\r\n\(tag) OK Status completed (0.001 + 0.000 secs).\r\n"
                )
            ]
        case "SEARCH", "UID SEARCH":
            return [
                .reply(
                    "* SEARCH \((1...max(1, messages.count)).map(String.init).joined(separator: " "))\r\n\(tag) OK Search completed (0.001 + 0.000 secs).\r\n"
                )
            ]
        case "FETCH", "UID FETCH":
            guard case .authenticated(selected: true) = self.state else {
                return [.reply("\(tag) BAD No mailbox selected.\r\n")]
            }
            let body = messages.first ?? ""
            var fields = EventFields()
            fields.add("filename", "INBOX/1")
            fields.add("url", "imap:\(name) \(arguments.map(Self.render).joined(separator: " "))")
            let uid = name.hasPrefix("UID") ? "UID 1 " : ""
            return [
                .emit(.fileDownload, fields),
                .reply(
                    "* 1 FETCH (\(uid)FLAGS (\\Seen) BODY[] {\(body.utf8.count)}\r\n\(body))\r\n\(tag) OK Fetch completed (0.001 + 0.000 secs).\r\n"
                ),
            ]
        case "CLOSE", "UNSELECT":
            self.state = .authenticated(selected: false)
            return [.reply("\(tag) OK \(name.capitalized) completed.\r\n")]
        case "NAMESPACE":
            return [.reply("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n\(tag) OK Namespace completed.\r\n")]
        default:
            return [.reply("\(tag) BAD Error in IMAP command \(name.prefix(40)): Unknown command.\r\n")]
        }
    }

    private mutating func login(tag: String, user: [UInt8], password: [UInt8], method: String) -> [Action] {
        let fields = EventFields.login(username: user, password: password, method: method)
        let accepted = self.configuration.users.accepts(user: user, password: password)
        guard accepted else {
            return [
                .emit(.loginFailed, fields), .delay(self.configuration.failureDelay),
                .reply("\(tag) NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
            ]
        }
        self.state = .authenticated(selected: false)
        return [
            .emit(.loginSuccess, fields), .reply("\(tag) OK [CAPABILITY \(Self.postLoginCapabilities)] Logged in\r\n"),
        ]
    }

    private func saslAborted(_ tag: String) -> [Action] {
        [.reply("\(tag) BAD Authentication aborted by client.\r\n")]
    }

    /// An argument as text for events: atoms as is, strings quoted, lists in parentheses.
    static func render(_ token: IMAPToken) -> String {
        switch token {
        case .atom(let text): text
        case .string(let bytes): "\"" + String(decoding: bytes, as: UTF8.self) + "\""
        case .list(let items): "(" + items.map(render).joined(separator: " ") + ")"
        }
    }

    static func base64(_ line: [UInt8]) -> [UInt8]? {
        guard line != [UInt8(ascii: "*")], let data = Data(base64Encoded: Data(line)) else { return nil }
        return Array(data)
    }
}
