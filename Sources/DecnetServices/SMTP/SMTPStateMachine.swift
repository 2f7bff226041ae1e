import DecnetCore
import DecnetServiceKit
import Foundation

/// SMTP dialogue of a Postfix, Exim or Sendmail persona, without I/O.
///
/// Credentials from `AUTH PLAIN` and `AUTH LOGIN` are captured; mail for the decky's own domains is accepted
/// and its message handed out for storage; relaying without authentication is refused as a stock MTA does, and
/// the attempt recorded (open-relay probes).
struct SMTPStateMachine {
    /// What the connection does with one step's result.
    enum Action: Equatable {
        /// Write this reply line (or lines); CRLF is added by the writer.
        case reply(String)
        /// Raise this event.
        case emit(EventID, EventFields)
        /// Store a received message, then raise `payload.received` for it.
        case storeMessage([UInt8], sender: String, recipients: [String])
        /// Close after the replies are written.
        case close
    }

    /// Where the dialogue is.
    private enum State {
        /// Reading commands.
        case command
        /// `AUTH LOGIN` asked for the username.
        case authLoginUser
        /// `AUTH LOGIN` asked for the password of this user.
        case authLoginPassword(user: [UInt8])
        /// `AUTH PLAIN` without an initial response: waiting for it.
        case authPlain
        /// Inside `DATA`: collecting the message; `overflow` once it outgrew the size limit.
        case data(message: [UInt8], overflow: Bool)
        /// After QUIT: nothing more is served.
        case closed
    }

    let configuration: SMTPService.Configuration
    private var state = State.command
    private var sender: String?
    private var recipients: [String] = []
    private var authenticated = false
    private var queueCounter: UInt32

    init(configuration: SMTPService.Configuration, seed: UInt32) {
        self.configuration = configuration
        self.queueCounter = seed
    }

    /// The greeting sent on connect.
    var greeting: String { "220 \(self.configuration.banner)" }

    /// A line arrived.
    mutating func received(_ line: [UInt8]) -> [Action] {
        switch self.state {
        case .closed:
            return []
        case .data(var message, let overflow):
            // Drop the state's reference first, so appending to the message does not copy it every line.
            self.state = .closed
            return self.dataLine(line, message: &message, overflow: overflow)
        case .authLoginUser:
            guard let user = Self.base64(line) else { return self.authAborted(line) }
            self.state = .authLoginPassword(user: user)
            return [.reply("334 UGFzc3dvcmQ6")]
        case .authLoginPassword(let user):
            self.state = .command
            guard let password = Self.base64(line) else { return self.authAborted(line) }
            return self.login(user: user, password: password, method: "LOGIN")
        case .authPlain:
            self.state = .command
            return self.plain(line)
        case .command:
            return self.command(line)
        }
    }

    /// A line longer than the decoder allows arrived.
    mutating func receivedOverlongLine() -> [Action] {
        if case .data(let message, _) = self.state {
            self.state = .data(message: message, overflow: true)
            return []
        }
        var fields = EventFields()
        fields.add("error", "line too long")
        return [.emit(.clientMalformed, fields), .reply("500 5.5.0 Error: line too long")]
    }

    private mutating func command(_ line: [UInt8]) -> [Action] {
        let text = String(decoding: line, as: UTF8.self)
        let verb = text.prefix { $0 != " " }.uppercased()
        let argument = text.dropFirst(verb.count).trimmingWhitespace()
        var actions: [Action] = []
        var fields = EventFields()
        fields.add("command", attackerText: verb)
        if verb != "AUTH" && !argument.isEmpty { fields.add("args", attackerText: argument) }
        let isRelay = verb == "RCPT" && !self.authenticated && !self.isLocal(Self.address(in: argument))
        if isRelay { fields.add("relay_probe", "true") }
        actions.append(.emit(.commandInput, fields))

        let mta = self.configuration.mta
        if mta == .postfix {
            // Postfix's command loop, measured against Debian 12's (bench/differential): the whole line must be
            // UTF-8; it is then read as a C string (to its first NUL) split on blanks, and a line with no word is
            // bad syntax; an unknown word that looks like a mail header, or matches smtpd_forbidden_commands
            // (CONNECT, GET, POST, or anything not starting with a letter), ends the session.
            if String(validating: line, as: UTF8.self) == nil {
                return actions + [.reply("500 5.5.2 Error: bad UTF-8 syntax")]
            }
            let blanks: [UInt8] = [0x20, 0x09, 0x0B, 0x0C, 0x0D, 0x0A]
            let cString = line.prefix { $0 != 0 }
            guard let first = cString.split(whereSeparator: { blanks.contains($0) }).first else {
                return actions + [.reply("500 5.5.2 Error: bad syntax")]
            }
            let word = String(decoding: first, as: UTF8.self).uppercased()
            let known = ["EHLO", "HELO", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "QUIT", "STARTTLS"]
            let headerLike =
                word.hasSuffix(":") && word.dropLast().allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }
            if !known.contains(word)
                && (["CONNECT", "GET", "POST"].contains(word) || headerLike
                    || !(first.first.map(Self.isLetter) ?? false))
            {
                self.state = .closed
                return actions + [.reply("221 2.7.0 Error: I can break rules, too. Goodbye."), .close]
            }
            if verb == "STARTTLS" {
                // Known to Postfix, and not implemented where no TLS is configured.
                return actions + [
                    .reply(argument.isEmpty ? "502 5.5.1 Error: command not implemented" : "501 5.5.4 Syntax: STARTTLS")
                ]
            }
        }
        switch verb {
        case "EHLO":
            guard !argument.isEmpty else { return actions + [.reply("501 Syntax: EHLO hostname")] }
            return actions + [.reply(self.ehloReply(helo: argument))]
        case "HELO":
            guard !argument.isEmpty else { return actions + [.reply("501 Syntax: HELO hostname")] }
            return actions + [.reply("250 \(self.configuration.hostname)")]
        case "AUTH":
            guard self.configuration.auth else {
                return actions + [.reply("503 5.5.1 Error: authentication not enabled")]
            }
            return actions + self.auth(argument)
        case "MAIL":
            guard argument.uppercased().hasPrefix("FROM:") else {
                return actions + [.reply("501 5.5.4 Syntax: MAIL FROM:<address>")]
            }
            if self.sender != nil { return actions + [.reply("503 5.5.1 Error: nested MAIL command")] }
            self.sender = Self.address(in: argument)
            self.recipients = []
            return actions + [.reply("250 2.1.0 Ok")]
        case "RCPT":
            guard self.sender != nil else { return actions + [.reply("503 5.5.1 Error: need MAIL command")] }
            guard argument.uppercased().hasPrefix("TO:") else {
                return actions + [.reply("501 5.5.4 Syntax: RCPT TO:<address>")]
            }
            let recipient = Self.address(in: argument)
            if isRelay {
                return actions + [.reply("454 4.7.1 <\(recipient)>: Relay access denied")]
            }
            self.recipients.append(recipient)
            return actions + [.reply("250 2.1.5 Ok")]
        case "DATA":
            guard self.sender != nil, !self.recipients.isEmpty else {
                return actions + [.reply("503 5.5.1 Error: need RCPT command")]
            }
            self.state = .data(message: [], overflow: false)
            return actions + [.reply("354 End data with <CR><LF>.<CR><LF>")]
        case "RSET":
            self.sender = nil
            self.recipients = []
            return actions + [.reply("250 2.0.0 Ok")]
        case "NOOP":
            return actions + [.reply("250 2.0.0 Ok")]
        case "VRFY":
            return actions + [.reply(argument.isEmpty ? "501 5.5.4 Syntax: VRFY address" : "252 2.0.0 \(argument)")]
        case "QUIT":
            self.state = .closed
            return actions + [.reply("221 2.0.0 Bye"), .close]
        default:
            return actions + [
                .reply(mta == .exim ? "500 unrecognized command" : "500 5.5.2 Error: command not recognized")
            ]
        }
    }

    private func ehloReply(helo: String) -> String {
        let host = self.configuration.hostname
        let lines: [String]
        switch self.configuration.mta {
        case .postfix:
            lines =
                [host, "PIPELINING", "SIZE \(SMTPService.maximumMessageSize)", "VRFY", "ETRN"]
                + (self.configuration.auth ? ["AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN"] : [])
                + ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8"]
        case .exim:
            lines = [
                "\(host) Hello \(helo)", "SIZE \(SMTPService.maximumMessageSize)", "8BITMIME", "PIPELINING",
                "AUTH PLAIN LOGIN", "HELP",
            ]
        case .sendmail:
            lines = [
                "\(host) Hello \(helo), pleased to meet you", "ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME",
                "SIZE \(SMTPService.maximumMessageSize)", "DSN", "AUTH PLAIN LOGIN", "DELIVERBY", "HELP",
            ]
        }
        return lines.enumerated().map { index, line in (index == lines.count - 1 ? "250 " : "250-") + line }
            .joined(separator: "\r\n")
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private mutating func auth(_ argument: String) -> [Action] {
        if self.authenticated { return [.reply("503 5.5.1 Error: already authenticated")] }
        let parts = argument.split(separator: " ", maxSplits: 1).map(String.init)
        switch parts.first?.uppercased() {
        case "PLAIN":
            if parts.count == 2 { return self.plain(Array(parts[1].utf8)) }
            self.state = .authPlain
            return [.reply("334 ")]
        case "LOGIN":
            if parts.count == 2 {
                guard let user = Self.base64(Array(parts[1].utf8)) else {
                    return self.authAborted(Array(parts[1].utf8))
                }
                self.state = .authLoginPassword(user: user)
                return [.reply("334 UGFzc3dvcmQ6")]
            }
            self.state = .authLoginUser
            return [.reply("334 VXNlcm5hbWU6")]
        case nil:
            return [.reply("501 5.5.4 Syntax: AUTH mechanism")]
        default:
            return [.reply("535 5.7.8 Error: authentication failed: Invalid authentication mechanism")]
        }
    }

    /// `AUTH PLAIN` response: base64 of `authzid \0 user \0 password`.
    private mutating func plain(_ line: [UInt8]) -> [Action] {
        guard let decoded = Self.base64(line) else { return self.authAborted(line) }
        let parts = decoded.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return [.reply("535 5.7.8 Error: authentication failed: Invalid base64 data in continued response")]
        }
        return self.login(user: Array(parts[1]), password: Array(parts[2]), method: "PLAIN")
    }

    private mutating func login(user: [UInt8], password: [UInt8], method: String) -> [Action] {
        let fields = EventFields.login(username: user, password: password, method: method)
        let accepted = self.configuration.users.accepts(user: user, password: password)
        if accepted {
            self.authenticated = true
            return [.emit(.loginSuccess, fields), .reply("235 2.7.0 Authentication successful")]
        }
        return [.emit(.loginFailed, fields), .reply("535 5.7.8 Error: authentication failed: authentication failure")]
    }

    private mutating func authAborted(_ line: [UInt8]) -> [Action] {
        self.state = .command
        if line == [UInt8(ascii: "*")] { return [.reply("501 5.7.0 Authentication aborted")] }
        return [.reply("501 5.5.2 Cannot decode response")]
    }

    private mutating func dataLine(_ line: [UInt8], message: inout [UInt8], overflow: Bool) -> [Action] {
        if line == [UInt8(ascii: ".")] {
            self.state = .command
            let sender = self.sender ?? ""
            let recipients = self.recipients
            self.sender = nil
            self.recipients = []
            if overflow { return [.reply("552 5.3.4 Error: message file too big")] }
            self.queueCounter = self.queueCounter &* 1_103_515_245 &+ 12345
            let queueID = String(self.queueCounter, radix: 16, uppercase: true).padding(
                toLength: 10,
                withPad: "0",
                startingAt: 0
            )
            return [
                .storeMessage(message, sender: sender, recipients: recipients),
                .reply("250 2.0.0 Ok: queued as \(queueID)"),
            ]
        }
        var overflow = overflow
        if !overflow {
            // Dot-stuffing (RFC 5321 4.5.2): a leading dot was doubled by the client.
            let body = line.first == UInt8(ascii: ".") ? line.dropFirst() : line[...]
            if message.count + body.count + 2 > SMTPService.maximumMessageSize {
                overflow = true
                message = []
            } else {
                message.append(contentsOf: body)
                message.append(contentsOf: [0x0D, 0x0A])
            }
        }
        self.state = .data(message: message, overflow: overflow)
        return []
    }

    /// Whether mail to `address` is for this host (no relaying needed).
    private func isLocal(_ address: String) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return true }  // a bare local part is local
        let domain = address[address.index(after: at)...].lowercased()
        return self.configuration.localDomains.contains(domain)
    }

    /// The address inside `FROM:<a@b> SIZE=1` or `TO:a@b`.
    static func address(in argument: String) -> String {
        guard let colon = argument.firstIndex(of: ":") else { return "" }
        let rest = argument[argument.index(after: colon)...].trimmingWhitespace()
        if rest.hasPrefix("<"), let close = rest.firstIndex(of: ">") {
            return String(rest[rest.index(after: rest.startIndex)..<close])
        }
        return String(rest.prefix { $0 != " " })
    }

    static func base64(_ line: [UInt8]) -> [UInt8]? {
        guard let data = Data(base64Encoded: Data(line)) else { return nil }
        return Array(data)
    }
}
