import DecnetCore
import DecnetServiceKit

/// MySQL/MariaDB protocol v10 handshake and command phase, without I/O.
///
/// The scrambled password is captured with its salt (crackable offline: hashcat 11200 for
/// `mysql_native_password`), then the client is asked to switch to `mysql_clear_password`, which real servers
/// do for PAM/LDAP accounts and most clients honour: that gives the plaintext. Queries after a login are
/// recorded and answered with plausible results.
struct MySQLStateMachine {
    /// What the connection does with one step's result.
    enum Action: Equatable {
        /// Send this packet.
        case send(MySQLPacket)
        /// Raise this event.
        case emit(EventID, EventFields)
        /// Close after the packets are written.
        case close
        /// The packets after this one travel in compressed frames (the client asked for compression).
        case compress
    }

    /// Where the conversation is.
    private enum State {
        /// The greeting went out; waiting for the HandshakeResponse.
        case awaitingResponse
        /// Asked for `mysql_clear_password`; waiting for the plaintext.
        case awaitingClearPassword(Attempt)
        /// Logged in: commands.
        case command(user: String)
        /// Closed (error sent, QUIT, or protocol violation).
        case closed
    }

    /// What the HandshakeResponse said.
    struct Attempt: Equatable {
        var user: [UInt8]
        var scramble: [UInt8]
        var plugin: String
        var database: [UInt8]?
    }

    let configuration: MySQLService.Configuration
    let salt: [UInt8]
    let connectionID: Int
    let clientAddress: String
    private var state = State.awaitingResponse
    /// A scramble not yet reported because the plaintext may still come.
    private var pending: Attempt?
    /// What the client's HandshakeResponse asked for, within what the server offers (MariaDB's extended
    /// capabilities in the high 32 bits), and its character set.
    private(set) var clientCapabilities = 0
    private var clientCharset = 45

    init(configuration: MySQLService.Configuration, salt: [UInt8], connectionID: Int, clientAddress: String) {
        precondition(salt.count == 20, "the auth-plugin-data is 20 bytes")
        self.configuration = configuration
        self.salt = salt
        self.connectionID = connectionID
        self.clientAddress = clientAddress
    }

    /// Capability flags the server announces, as Debian 12's MariaDB 10.11 does (bench/differential): no SSL (none
    /// configured), compression, session tracking, OK instead of EOF for clients that ask, and bit 0 clear (which
    /// tells clients this is MariaDB: they then send MariaDB's extended capabilities); MySQL 8's without
    /// compression and with classic EOF packets.
    var serverCapabilities: Int { self.configuration.mariadb ? 0x81FF_F7FE : 0x007F_F7DF }
    /// MariaDB's extended capabilities (progress reports, bulk operations, extended and cached metadata).
    var serverExtendedCapabilities: Int { self.configuration.mariadb ? 0x1D : 0 }
    static let clientMySQL = 0x0001
    static let clientCompress = 0x0020
    static let clientProtocol41 = 0x0200
    static let clientSSL = 0x0800
    static let clientConnectWithDB = 0x0008
    static let clientSecureConnection = 0x8000
    static let clientPluginAuth = 0x8_0000
    static let clientConnectAttributes = 0x10_0000
    static let clientLengthEncodedAuth = 0x20_0000
    static let clientDeprecateEOF = 0x100_0000
    static let mariadbExtendedMetadata = 0x8 << 32

    /// The initial handshake packet (sequence 0).
    var greeting: MySQLPacket {
        var writer = MySQLWriter()
        writer.integer(10, 1)
        writer.nulTerminated(self.configuration.serverVersion)
        writer.integer(self.connectionID, 4)
        writer.bytes.append(contentsOf: self.salt[0..<8])
        writer.integer(0, 1)
        writer.integer(self.serverCapabilities & 0xFFFF, 2)
        writer.integer(self.configuration.characterSet, 1)
        writer.integer(0x0002, 2)
        writer.integer(self.serverCapabilities >> 16, 2)
        writer.integer(21, 1)
        writer.bytes.append(contentsOf: [UInt8](repeating: 0, count: 6))
        writer.integer(self.serverExtendedCapabilities, 4)
        writer.bytes.append(contentsOf: self.salt[8..<20])
        writer.integer(0, 1)
        writer.nulTerminated(self.configuration.authPlugin)
        return MySQLPacket(sequence: 0, payload: writer.bytes)
    }

    mutating func received(_ packet: MySQLPacket) -> [Action] {
        switch self.state {
        case .closed:
            return []
        case .awaitingResponse:
            guard packet.sequence == 1 else { return self.outOfOrder(packet) }
            return self.handshakeResponse(packet)
        case .awaitingClearPassword(let attempt):
            var password = packet.payload
            if password.last == 0 { password.removeLast() }
            self.pending = nil
            return self.finishLogin(attempt, password: password, sequence: packet.sequence &+ 1)
        case .command(let user):
            return self.command(packet, user: user)
        }
    }

    /// The connection ended: a scramble still waiting for its plaintext is reported now.
    mutating func connectionClosed() -> [Action] {
        guard let attempt = self.pending else { return [] }
        self.pending = nil
        return [.emit(.loginFailed, self.loginFields(attempt, password: nil))]
    }

    private mutating func handshakeResponse(_ packet: MySQLPacket) -> [Action] {
        var reader = MySQLReader(packet.payload)
        guard packet.payload.count >= 2 else {
            return self.badHandshake("truncated handshake response", packet.sequence, sqlState: true)
        }
        let has41 = packet.payload[1] & 0x02 != 0
        if packet.payload[1] & 0x08 != 0 {
            // TLS asked for where none is offered: MariaDB's Bad handshake, whatever the packet's size.
            return self.badHandshake("TLS requested but not offered", packet.sequence, sqlState: has41)
        }
        guard let capabilities = reader.integer(4), capabilities & Self.clientProtocol41 != 0 else {
            self.state = .closed
            let product = self.configuration.mariadb ? "MariaDB" : "MySQL"
            return [
                .send(
                    Self.error(
                        1251,
                        nil,
                        "Client does not support authentication protocol requested by server; consider upgrading \(product) client",
                        sequence: packet.sequence &+ 1
                    )
                ),
                .close,
            ]
        }
        guard reader.skip(4), let charset = reader.integer(1), let extended = reader.fixed(23),
            let user = reader.nulTerminated()
        else {
            return self.badHandshake("truncated handshake response", packet.sequence, sqlState: true)
        }
        self.clientCapabilities = capabilities & self.serverCapabilities
        if capabilities & Self.clientMySQL == 0 && self.configuration.mariadb {
            // A MariaDB client: its extended capabilities are the last 4 of the 23 filler bytes.
            let bits = extended[19..<23].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            self.clientCapabilities |= (bits & self.serverExtendedCapabilities) << 32
        }
        self.clientCharset = [8, 33, 45, 46, 63].contains(charset) || (192...247).contains(charset) ? charset : 45
        let scramble: [UInt8]?
        if capabilities & Self.clientLengthEncodedAuth != 0 {
            scramble = reader.lengthEncodedString()
        } else if capabilities & Self.clientSecureConnection != 0 {
            scramble = reader.integer(1).flatMap { reader.fixed($0) }
        } else {
            scramble = reader.nulTerminated()
        }
        guard let scramble else { return self.badHandshake("bad auth response", packet.sequence, sqlState: true) }
        var database: [UInt8]?
        if capabilities & Self.clientConnectWithDB != 0 { database = reader.nulTerminated() }
        var plugin = self.configuration.authPlugin
        if capabilities & Self.clientPluginAuth != 0, let name = reader.nulTerminated() {
            plugin = String(decoding: name, as: UTF8.self)
        }
        var actions: [Action] = []
        if capabilities & Self.clientConnectAttributes != 0, let total = reader.lengthEncoded(),
            var block = reader.fixed(total).map(MySQLReader.init)
        {
            var fields = EventFields()
            var pairs: [String] = []
            while block.remaining > 0, let key = block.lengthEncodedString(), let value = block.lengthEncodedString(),
                pairs.count < 32
            {
                pairs.append(String(decoding: key, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
            }
            if !pairs.isEmpty {
                fields.add("client", attackerText: pairs.joined(separator: " "))
                actions.append(.emit(.clientFingerprint, fields))
            }
        }
        let attempt = Attempt(user: user, scramble: scramble, plugin: plugin, database: database)
        if scramble.isEmpty {
            // No password at all: nothing to switch for.
            return actions + self.finishLogin(attempt, password: [], sequence: packet.sequence &+ 1)
        }
        self.pending = attempt
        self.state = .awaitingClearPassword(attempt)
        var writer = MySQLWriter()
        writer.integer(0xFE, 1)
        writer.nulTerminated("mysql_clear_password")
        return actions + [.send(MySQLPacket(sequence: packet.sequence &+ 1, payload: writer.bytes))]
    }

    private mutating func finishLogin(_ attempt: Attempt, password: [UInt8], sequence: UInt8) -> [Action] {
        let user = String(decoding: attempt.user, as: UTF8.self)
        let accepted = self.configuration.users.accepts(user: user, password: String(decoding: password, as: UTF8.self))
        let fields = self.loginFields(attempt, password: password)
        if accepted {
            self.state = .command(user: user)
            let compress = self.clientCapabilities & Self.clientCompress != 0
            return [.emit(.loginSuccess, fields), .send(Self.ok(sequence: sequence))] + (compress ? [.compress] : [])
        }
        self.state = .closed
        let using = password.isEmpty ? "NO" : "YES"
        return [
            .emit(.loginFailed, fields),
            .send(
                Self.error(
                    1045,
                    "28000",
                    "Access denied for user '\(user)'@'\(self.clientAddress)' (using password: \(using))",
                    sequence: sequence
                )
            ),
            .close,
        ]
    }

    private func loginFields(_ attempt: Attempt, password: [UInt8]?) -> EventFields {
        var fields = EventFields()
        fields.add("username", attackerBytes: attempt.user)
        if let password { fields.add("password", attackerBytes: password, secret: true) }
        fields.add("method", attempt.plugin)
        fields.add("salt_hex", Self.hex(self.salt))
        fields.add("scramble_hex", Self.hex(attempt.scramble))
        if attempt.plugin == "mysql_native_password" && attempt.scramble.count == 20 {
            fields.add("hashcat", "$mysqlna$\(Self.hex(self.salt))*\(Self.hex(attempt.scramble))")
        }
        if let database = attempt.database, !database.isEmpty { fields.add("database", attackerBytes: database) }
        return fields
    }

    private mutating func command(_ packet: MySQLPacket, user: String) -> [Action] {
        guard let code = packet.payload.first else { return self.malformed("empty command", packet.sequence) }
        let argument = Array(packet.payload.dropFirst())
        let reply = packet.sequence &+ 1
        switch code {
        case 0x01:  // COM_QUIT
            self.state = .closed
            return [.close]
        case 0x02:  // COM_INIT_DB
            var fields = EventFields()
            fields.add("command", "use")
            fields.add("args", attackerBytes: argument)
            return [.emit(.commandInput, fields), .send(Self.ok(sequence: reply))]
        case 0x03:  // COM_QUERY
            var fields = EventFields()
            fields.add("command", "query")
            fields.add("args", attackerBytes: argument)
            return [.emit(.commandInput, fields)]
                + self.query(String(decoding: argument, as: UTF8.self), user: user, sequence: reply)
        case 0x0E:  // COM_PING
            return [.send(Self.ok(sequence: reply))]
        case 0x09:  // COM_STATISTICS
            let text =
                "Uptime: 3810042  Threads: 2  Questions: 91822  Slow queries: 0  Opens: 1331  Open tables: 642  Queries per second avg: 0.024"
            return [.send(MySQLPacket(sequence: reply, payload: Array(text.utf8)))]
        default:
            return [.send(Self.error(1047, "08S01", "Unknown command", sequence: reply))]
        }
    }

    /// A plausible answer to the queries clients send on their own and attackers send first.
    private func query(_ sql: String, user: String, sequence: UInt8) -> [Action] {
        var normalized = sql.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        while normalized.hasSuffix(";") || normalized.hasSuffix(" ") { normalized.removeLast() }
        let rows: (String, [String?])?
        switch normalized {
        case "select @@version_comment limit 1": rows = ("@@version_comment", [self.configuration.versionComment])
        case "select version()", "select @@version":
            rows = (normalized.dropFirst(7).description, [self.configuration.version])
        case "select user()", "select current_user()":
            rows = (normalized.dropFirst(7).description, ["\(user)@\(self.clientAddress)"])
        case "select database()": rows = ("database()", [nil])
        case "show databases":
            rows = ("Database", ["information_schema", "mysql", "performance_schema", "sys", "wordpress"])
        default: rows = nil
        }
        guard let (column, values) = rows else { return [.send(Self.ok(sequence: sequence))] }
        var packets: [MySQLPacket] = []
        var next = sequence
        func append(_ bytes: [UInt8]) {
            packets.append(MySQLPacket(sequence: next, payload: bytes))
            next = next &+ 1
        }
        var count = MySQLWriter()
        count.lengthEncoded(1)
        append(count.bytes)
        var definition = MySQLWriter()
        for part in ["def", "", "", ""] { definition.lengthEncodedString(part) }
        definition.lengthEncodedString(column)
        definition.lengthEncodedString("")
        // MariaDB's extended metadata (a type and format name), empty, for clients that asked for it.
        if self.clientCapabilities & Self.mariadbExtendedMetadata != 0 { definition.lengthEncoded(0) }
        definition.integer(0x0C, 1)
        definition.integer(self.clientCharset, 2)
        definition.integer(256, 4)
        definition.integer(0xFD, 1)
        definition.integer(0, 2)
        // Not a fixed number of decimals: MariaDB says 39, MySQL 31.
        definition.integer(self.configuration.mariadb ? 0x27 : 0x1F, 1)
        definition.integer(0, 2)
        append(definition.bytes)
        let deprecateEOF = self.clientCapabilities & Self.clientDeprecateEOF != 0
        if !deprecateEOF { append(Self.eof) }
        for value in values {
            var row = MySQLWriter()
            if let value { row.lengthEncodedString(value) } else { row.bytes.append(0xFB) }
            append(row.bytes)
        }
        // With CLIENT_DEPRECATE_EOF the rows end with an OK packet whose header is 0xFE.
        append(deprecateEOF ? [0xFE, 0, 0, 0x02, 0, 0, 0] : Self.eof)
        return packets.map { .send($0) }
    }

    /// A first packet whose sequence id is not 1: MariaDB first takes `\r\n\r\n` or `PROX` for a proxy-protocol
    /// header it does not accept from this client; otherwise (and MySQL always) the packets are out of order.
    /// Either answer goes out as packet 1, the one the server expected, then the connection closes.
    private mutating func outOfOrder(_ packet: MySQLPacket) -> [Action] {
        self.state = .closed
        var fields = EventFields()
        fields.add("error", "first packet out of order")
        fields.add("preview", attackerBytes: packet.payload)
        let proxy =
            self.configuration.mariadb && (packet.payload == Array("PROX".utf8) || packet.payload == [13, 10, 13, 10])
        let reply =
            proxy
            ? Self.error(1130, "HY000", "Proxy header is not accepted from \(self.clientAddress)", sequence: 1)
            : Self.error(1156, "08S01", "Got packets out of order", sequence: 1)
        return [.emit(.clientMalformed, fields), .send(reply), .close]
    }

    /// A HandshakeResponse the server cannot read (or one asking for TLS): 1043 Bad handshake, without the
    /// SQLSTATE for a pre-4.1 client.
    private mutating func badHandshake(_ reason: String, _ sequence: UInt8, sqlState: Bool) -> [Action] {
        self.state = .closed
        var fields = EventFields()
        fields.add("error", reason)
        return [
            .emit(.clientMalformed, fields),
            .send(Self.error(1043, sqlState ? "08S01" : nil, "Bad handshake", sequence: sequence &+ 1)),
            .close,
        ]
    }

    private mutating func malformed(_ reason: String, _ sequence: UInt8) -> [Action] {
        self.state = .closed
        var fields = EventFields()
        fields.add("error", reason)
        return [
            .emit(.clientMalformed, fields),
            .send(Self.error(1158, "08S01", "Got an error reading communication packets", sequence: sequence &+ 1)),
            .close,
        ]
    }

    static let eof: [UInt8] = [0xFE, 0, 0, 0x02, 0]

    static func ok(sequence: UInt8) -> MySQLPacket {
        MySQLPacket(sequence: sequence, payload: [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])
    }

    /// An error packet; `state` nil for a client without CLIENT_PROTOCOL_41 (no `#SQLSTATE` then).
    static func error(_ code: Int, _ state: String?, _ message: String, sequence: UInt8) -> MySQLPacket {
        var writer = MySQLWriter()
        writer.integer(0xFF, 1)
        writer.integer(code, 2)
        if let state {
            writer.bytes.append(UInt8(ascii: "#"))
            writer.bytes.append(contentsOf: state.utf8)
        }
        writer.bytes.append(contentsOf: message.utf8)
        return MySQLPacket(sequence: sequence, payload: writer.bytes)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        Hex.lowercase(bytes)
    }
}
