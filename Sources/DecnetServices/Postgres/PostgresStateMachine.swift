import DecnetCore
import DecnetServiceKit

/// PostgreSQL's startup and simple-query protocol (3.0), without I/O. Like a server whose `pg_hba.conf` says
/// `password`, it asks for the cleartext password (AuthenticationCleartextPassword) and so captures it.
struct PostgresStateMachine {
    /// What the connection does with one step's result.
    typealias Action = ProtocolAction

    /// Where the conversation is.
    private enum State {
        /// Waiting for StartupMessage (or SSLRequest / GSSENCRequest).
        case startup
        /// Asked for the password of this user.
        case awaitingPassword(user: String, database: String)
        /// Logged in.
        case ready(user: String)
        /// GSSAPI encryption accepted (`G`): the server waits for GSSAPI tokens and answers nothing else.
        case gssNegotiation
        /// Closed.
        case closed
    }

    let configuration: PostgresService.Configuration
    let processID: Int
    let secretKey: Int
    private var state = State.startup

    init(configuration: PostgresService.Configuration, processID: Int, secretKey: Int) {
        self.configuration = configuration
        self.processID = processID
        self.secretKey = secretKey
    }

    mutating func received(_ message: PostgresFrontendMessage) -> [Action] {
        switch (self.state, message) {
        case (.closed, _):
            return []
        case (.gssNegotiation, _):
            return []
        case (.startup, .sslRequest):
            return [.send([UInt8(ascii: "N")])]
        case (.startup, .gssRequest):
            // A server built with GSSAPI accepts, even without a keytab, then waits for tokens (Debian 12's
            // 15.18, bench/differential); what follows gets no answer.
            guard self.configuration.gssapi else { return [.send([UInt8(ascii: "N")])] }
            self.state = .gssNegotiation
            var fields = EventFields()
            fields.add("command", "gssencrequest")
            return [.emit(.commandInput, fields), .send([UInt8(ascii: "G")])]
        case (_, .cancelRequest), (_, .invalidStartupLength):
            self.state = .closed
            var fields = EventFields()
            fields.add("error", message == .cancelRequest ? "cancel request" : "invalid length of startup packet")
            return [.emit(message == .cancelRequest ? .commandInput : .clientMalformed, fields), .close]
        case (.startup, .startup(let major, let minor, let parameters)):
            return self.startup(major: major, minor: minor, parameters: parameters)
        case (.awaitingPassword(let user, let database), .typed(UInt8(ascii: "p"), let body)):
            var password = body
            if password.last == 0 { password.removeLast() }
            return self.login(user: user, database: database, password: password)
        case (.awaitingPassword, .typed(let type, _)):
            return self.fatal("08P01", "expected password response, got message type \(type)", emitMalformed: true)
        case (.ready(let user), .typed(let type, let body)):
            return self.ready(user: user, type: type, body: body)
        case (_, .tooLarge):
            return self.fatal("08P01", "invalid message length", emitMalformed: true)
        default:
            return self.fatal("08P01", "unexpected message", emitMalformed: true)
        }
    }

    private mutating func startup(major: Int, minor: Int, parameters: [String: String]) -> [Action] {
        guard major == 3 else {
            // What nmap's probes provoke; the line number says which release wrote the message.
            self.state = .closed
            var fields = EventFields()
            fields.add("error", "unsupported frontend protocol \(major).\(minor)")
            let message =
                "unsupported frontend protocol \(major).\(minor): server supports \(self.configuration.earliestProtocol) to 3.0"
            if major < 3 && (major != 0 || minor != 0) {
                // The startup packet's protocol is the connection's by now: an old client gets the old (v2)
                // error format, `E` and the C string "FATAL:  …\n".
                return [
                    .emit(.clientMalformed, fields),
                    .send([UInt8(ascii: "E")] + Array("FATAL:  \(message)\n".utf8) + [0]), .close,
                ]
            }
            return [
                .emit(.clientMalformed, fields),
                .send(
                    PostgresBackend.error([
                        ("S", "FATAL"), ("V", "FATAL"), ("C", "0A000"),
                        (
                            "M",
                            "unsupported frontend protocol \(major).\(minor): server supports \(self.configuration.earliestProtocol) to 3.0"
                        ),
                        ("F", "postmaster.c"), ("L", String(self.configuration.postmasterLine)),
                        ("R", "ProcessStartupPacket"),
                    ])
                ),
                .close,
            ]
        }
        var fields = EventFields()
        fields.add("command", "startup")
        fields.add(
            "args",
            attackerText: parameters.keys.sorted().map { "\($0)=\(parameters[$0]!)" }.joined(separator: " ")
        )
        var actions: [Action] = [.emit(.commandInput, fields)]
        if let application = parameters["application_name"], !application.isEmpty {
            var client = EventFields()
            client.add("client", attackerText: application)
            actions.append(.emit(.clientFingerprint, client))
        }
        guard let user = parameters["user"], !user.isEmpty else {
            self.state = .closed
            return actions + [
                .send(
                    PostgresBackend.error([
                        ("S", "FATAL"), ("V", "FATAL"), ("C", "28000"),
                        ("M", "no PostgreSQL user name specified in startup packet"), ("F", "postmaster.c"),
                        ("L", "2261"), ("R", "ProcessStartupPacket"),
                    ])
                ),
                .close,
            ]
        }
        self.state = .awaitingPassword(user: user, database: parameters["database"] ?? user)
        return actions + [.send(PostgresBackend.authentication(3))]
    }

    private mutating func login(user: String, database: String, password: [UInt8]) -> [Action] {
        var fields = EventFields()
        fields.add("username", attackerText: user)
        fields.add("password", attackerBytes: password, secret: true)
        fields.add("method", "password")
        fields.add("database", attackerText: database)
        guard self.configuration.users.accepts(user: user, password: String(decoding: password, as: UTF8.self)) else {
            self.state = .closed
            return [
                .emit(.loginFailed, fields),
                .send(
                    PostgresBackend.error([
                        ("S", "FATAL"), ("V", "FATAL"), ("C", "28P01"),
                        ("M", "password authentication failed for user \"\(user)\""), ("F", "auth.c"), ("L", "323"),
                        ("R", "auth_failed"),
                    ])
                ),
                .close,
            ]
        }
        self.state = .ready(user: user)
        var bytes = PostgresBackend.authentication(0)
        let parameters: [(String, String)] = [
            ("application_name", ""), ("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY"),
            ("default_transaction_read_only", "off"), ("in_hot_standby", "off"), ("integer_datetimes", "on"),
            ("IntervalStyle", "postgres"), ("is_superuser", user == "postgres" ? "on" : "off"),
            ("server_encoding", "UTF8"), ("server_version", self.configuration.serverVersion),
            ("session_authorization", user), ("standard_conforming_strings", "on"), ("TimeZone", "Etc/UTC"),
        ]
        for (name, value) in parameters { bytes += PostgresBackend.parameterStatus(name, value) }
        bytes += PostgresBackend.message(
            "K",
            PostgresBackend.int32(self.processID) + PostgresBackend.int32(self.secretKey)
        )
        bytes += PostgresBackend.readyForQuery()
        return [.emit(.loginSuccess, fields), .send(bytes)]
    }

    private mutating func ready(user: String, type: UInt8, body: [UInt8]) -> [Action] {
        switch type {
        case UInt8(ascii: "X"):
            self.state = .closed
            return [.close]
        case UInt8(ascii: "Q"):
            var query = body
            if query.last == 0 { query.removeLast() }
            var fields = EventFields()
            fields.add("command", "query")
            fields.add("args", attackerBytes: query)
            return [
                .emit(.commandInput, fields), .send(self.answer(String(decoding: query, as: UTF8.self), user: user)),
            ]
        default:
            var fields = EventFields()
            fields.add("command", "message")
            fields.add("args", String(UnicodeScalar(type)))
            return [
                .emit(.commandInput, fields),
                .send(
                    PostgresBackend.error([
                        ("S", "ERROR"), ("V", "ERROR"), ("C", "0A000"),
                        ("M", "extended query protocol is not available on this connection"),
                    ]) + PostgresBackend.readyForQuery()
                ),
            ]
        }
    }

    /// Answers to what clients and attackers ask first; anything else is refused as for an unprivileged role.
    private func answer(_ sql: String, user: String) -> [UInt8] {
        var normalized = sql.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        while normalized.hasSuffix(";") || normalized.hasSuffix(" ") { normalized.removeLast() }
        let single: (String, String)?
        switch normalized {
        case "select version()": single = ("version", self.configuration.versionFunction)
        case "select current_user", "select user", "select session_user":
            single = (String(normalized.dropFirst(7)), user)
        case "show server_version": single = ("server_version", self.configuration.serverVersion)
        case "select current_database()": single = ("current_database", "postgres")
        default: single = nil
        }
        if let (column, value) = single {
            return PostgresBackend.rowDescription([column]) + PostgresBackend.dataRow([value])
                + PostgresBackend.commandComplete("SELECT 1")
                + PostgresBackend.readyForQuery()
        }
        if normalized.isEmpty { return PostgresBackend.message("I", []) + PostgresBackend.readyForQuery() }
        return PostgresBackend.error([
            ("S", "ERROR"), ("V", "ERROR"), ("C", "42501"), ("M", "permission denied for schema public"),
            ("F", "aclchk.c"), ("L", "3650"), ("R", "aclcheck_error"),
        ])
            + PostgresBackend.readyForQuery()
    }

    private mutating func fatal(_ code: String, _ message: String, emitMalformed: Bool) -> [Action] {
        self.state = .closed
        var actions: [Action] = []
        if emitMalformed {
            var fields = EventFields()
            fields.add("error", message)
            actions.append(.emit(.clientMalformed, fields))
        }
        return actions + [
            .send(PostgresBackend.error([("S", "FATAL"), ("V", "FATAL"), ("C", code), ("M", message)])), .close,
        ]
    }
}
