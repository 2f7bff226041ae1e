import DecnetCore
import DecnetServiceKit
import Foundation

/// POP3 dialogue of a Dovecot persona (RFC 1939, CAPA from RFC 2449, SASL from RFC 5034), without I/O.
struct POP3StateMachine {
    typealias Action = ProtocolAction

    /// Where the dialogue is.
    private enum State {
        /// AUTHORIZATION state; `user` once USER was given.
        case authorization(user: [UInt8]?)
        /// `AUTH PLAIN` without an initial response: waiting for it.
        case saslPlain
        /// `AUTH LOGIN` waiting for the username.
        case saslLoginUser
        /// `AUTH LOGIN` waiting for this user's password.
        case saslLoginPassword(user: [UInt8])
        /// TRANSACTION state, logged in.
        case transaction
        /// After QUIT.
        case closed
    }

    let configuration: DovecotPersona
    private var state = State.authorization(user: nil)
    private var deleted: Set<Int> = []
    /// Bad commands before login (Dovecot's pop3-login closes after the third).
    private var badCommands = 0

    init(configuration: DovecotPersona) { self.configuration = configuration }

    var greeting: String { "+OK \(self.configuration.greeting)\r\n" }

    static let capabilities =
        "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"

    mutating func received(_ line: [UInt8]) -> [Action] {
        switch self.state {
        case .closed:
            return []
        case .saslPlain:
            self.state = .authorization(user: nil)
            return self.plain(line)
        case .saslLoginUser:
            guard let user = Self.base64(line) else { return self.saslAborted() }
            self.state = .saslLoginPassword(user: user)
            return [.reply("+ UGFzc3dvcmQ6\r\n")]
        case .saslLoginPassword(let user):
            self.state = .authorization(user: nil)
            guard let password = Self.base64(line) else { return self.saslAborted() }
            return self.login(user: user, password: password, method: "AUTH LOGIN")
        case .authorization, .transaction:
            return self.command(line)
        }
    }

    /// A line past the input buffer: Dovecot says so and drops the connection.
    mutating func receivedOverlongLine() -> [Action] {
        var fields = EventFields()
        fields.add("error", "line too long")
        self.state = .closed
        return [.emit(.clientMalformed, fields), .reply("-ERR Input buffer full, aborting\r\n"), .close]
    }

    private mutating func command(_ line: [UInt8]) -> [Action] {
        let text = String(decoding: line, as: UTF8.self)
        let verb = text.prefix { $0 != " " }.uppercased()
        let argument = String(text.dropFirst(verb.count).drop { $0 == " " })
        // Every command is recorded; a password (PASS, AUTH's initial response) only in its login event.
        var fields = EventFields()
        fields.add("command", attackerText: verb)
        if verb == "AUTH" {
            let mechanism = argument.prefix { $0 != " " }
            if !mechanism.isEmpty { fields.add("args", attackerText: String(mechanism)) }
        } else if verb != "PASS" && !argument.isEmpty {
            fields.add("args", attackerText: argument)
        }
        let actions: [Action] = [.emit(.commandInput, fields)]
        switch (self.state, verb) {
        case (_, "CAPA"):
            return actions + [.reply(Self.capabilities)]
        case (_, "NOOP"):
            return actions + [.reply("+OK\r\n")]
        case (_, "QUIT"):
            let wasIn = { if case .transaction = self.state { true } else { false } }()
            self.state = .closed
            // pop3-login (before login) says it without a period; the pop3 process after login with one.
            return actions + [
                .reply(wasIn ? "+OK Logging out, messages deleted.\r\n" : "+OK Logging out\r\n"), .close,
            ]
        case (.authorization, "USER"):
            guard !argument.isEmpty else { return actions + [.reply("-ERR Invalid arguments.\r\n")] }
            self.state = .authorization(user: Array(argument.utf8))
            return actions + [.reply("+OK\r\n")]
        case (.authorization(let user), "PASS"):
            guard let user else { return actions + [.reply("-ERR No username given.\r\n")] }
            self.state = .authorization(user: nil)
            return actions + self.login(user: user, password: Array(argument.utf8), method: "USER/PASS")
        case (.authorization, "AUTH"):
            let parts = argument.split(separator: " ", maxSplits: 1).map(String.init)
            switch parts.first?.uppercased() {
            case "PLAIN":
                if parts.count == 2 { return actions + self.plain(Array(parts[1].utf8)) }
                self.state = .saslPlain
                return actions + [.reply("+ \r\n")]
            case "LOGIN":
                self.state = .saslLoginUser
                return actions + [.reply("+ VXNlcm5hbWU6\r\n")]
            case nil:
                return actions + [.reply("+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n")]
            default:
                return actions + [.reply("-ERR Unsupported authentication mechanism.\r\n")]
            }
        case (.transaction, _):
            return actions + self.transaction(verb, argument)
        default:
            self.badCommands += 1
            guard self.badCommands < DovecotPersona.maximumBadCommands else {
                self.state = .closed
                return actions + [.reply("-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n"), .close]
            }
            return actions + [.reply("-ERR Unknown command.\r\n")]
        }
    }

    private mutating func transaction(_ verb: String, _ argument: String) -> [Action] {
        let messages = self.configuration.mailbox
        let live = messages.indices.filter { !self.deleted.contains($0 + 1) }
        func message(_ text: String) -> Int? {
            guard let number = Int(text), number >= 1, number <= messages.count, !self.deleted.contains(number) else {
                return nil
            }
            return number
        }
        switch verb {
        case "STAT":
            return [.reply("+OK \(live.count) \(live.reduce(0) { $0 + messages[$1].utf8.count })\r\n")]
        case "LIST", "UIDL":
            if !argument.isEmpty {
                guard let number = message(argument) else {
                    return [.reply("-ERR There's no message \(argument).\r\n")]
                }
                let value = verb == "LIST" ? String(messages[number - 1].utf8.count) : self.uid(number)
                return [.reply("+OK \(number) \(value)\r\n")]
            }
            let lines = live.map {
                "\($0 + 1) " + (verb == "LIST" ? String(messages[$0].utf8.count) : self.uid($0 + 1))
            }
            let header = verb == "LIST" ? "+OK \(live.count) messages:" : "+OK"
            return [.reply(([header] + lines + ["."]).joined(separator: "\r\n") + "\r\n")]
        case "RETR", "TOP":
            guard let number = message(String(argument.prefix { $0 != " " })) else {
                return [.reply("-ERR There's no message \(argument).\r\n")]
            }
            var body = messages[number - 1]
            if verb == "TOP", let end = body.range(of: "\r\n\r\n") { body = String(body[..<end.upperBound]) }
            let stuffed = body.replacingOccurrences(of: "\r\n.", with: "\r\n..")
            var fields = EventFields()
            fields.add("filename", "message-\(number)")
            fields.add("url", "pop3:RETR \(number)")
            return [.emit(.fileDownload, fields), .reply("+OK \(body.utf8.count) octets\r\n\(stuffed)\r\n.\r\n")]
        case "DELE":
            guard let number = message(argument) else { return [.reply("-ERR There's no message \(argument).\r\n")] }
            self.deleted.insert(number)
            return [.reply("+OK Marked to be deleted.\r\n")]
        case "RSET":
            self.deleted = []
            return [.reply("+OK\r\n")]
        default:
            return [.reply("-ERR Unknown command: \(verb)\r\n")]
        }
    }

    private func uid(_ number: Int) -> String { "0000000\(number)5f0a3c71" }

    private mutating func plain(_ line: [UInt8]) -> [Action] {
        guard let decoded = Self.base64(line) else { return self.saslAborted() }
        let parts = decoded.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return [.reply("-ERR [AUTH] Authentication failed.\r\n")] }
        return self.login(user: Array(parts[1]), password: Array(parts[2]), method: "AUTH PLAIN")
    }

    private mutating func saslAborted() -> [Action] {
        self.state = .authorization(user: nil)
        return [.reply("-ERR Authentication aborted by client.\r\n")]
    }

    private mutating func login(user: [UInt8], password: [UInt8], method: String) -> [Action] {
        let fields = EventFields.login(username: user, password: password, method: method)
        let accepted = self.configuration.users.accepts(user: user, password: password)
        guard accepted else {
            return [
                .emit(.loginFailed, fields), .delay(self.configuration.failureDelay),
                .reply("-ERR [AUTH] Authentication failed.\r\n"),
            ]
        }
        self.state = .transaction
        return [.emit(.loginSuccess, fields), .reply("+OK Logged in.\r\n")]
    }

    static func base64(_ line: [UInt8]) -> [UInt8]? {
        guard line != [UInt8(ascii: "*")], let data = Data(base64Encoded: Data(line)) else { return nil }
        return Array(data)
    }
}
