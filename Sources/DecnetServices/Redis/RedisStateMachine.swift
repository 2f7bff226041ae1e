import DecnetCore
import DecnetServiceKit
import Foundation

/// Redis command handling, without I/O: each request in, the replies and events out.
///
/// It answers as a stock Redis of the persona's version would: no password by default (the usual exposed
/// instance), or `redis_password` required, with Redis 7's exact error texts. The exploitation chain
/// (`CONFIG SET dir`, `SLAVEOF`, `MODULE LOAD`) is accepted and recorded.
struct RedisStateMachine {
    /// What the connection does with one step's result.
    enum Action: Equatable {
        /// Write this reply.
        case reply(RESPValue)
        /// Raise this event.
        case emit(EventID, EventFields)
        /// Switch reply encoding (after `HELLO 2|3`).
        case useRESP3(Bool)
        /// Close after the replies are written.
        case close
    }

    /// Where the conversation is.
    private enum State {
        /// Commands are served (no password configured, or AUTH succeeded).
        case open
        /// A password is configured and not yet given.
        case awaitingAuth
        /// QUIT or a protocol error: nothing more is served.
        case closed
    }

    let configuration: RedisService.Configuration
    let keyspace: RedisKeyspace
    private var state: State
    private var clientName: String?

    init(configuration: RedisService.Configuration, keyspace: RedisKeyspace) {
        self.configuration = configuration
        self.keyspace = keyspace
        self.state = configuration.password == nil ? .open : .awaitingAuth
    }

    /// A decoded request arrived.
    mutating func received(_ request: RedisRequest) -> [Action] {
        if case .closed = self.state { return [] }
        switch request {
        case .protocolError(let message):
            self.state = .closed
            var fields = EventFields()
            fields.add("error", "Protocol error: \(message)")
            return [.emit(.clientMalformed, fields), .reply(.error("ERR Protocol error: \(message)")), .close]
        case .command(let arguments):
            guard let first = arguments.first else { return [] }
            let spelled = String(decoding: first, as: UTF8.self)
            self.spelled = spelled
            return self.command(spelled.lowercased(), Array(arguments.dropFirst()))
        }
    }

    /// The command's name as the client spelled it: Redis repeats it so in "unknown command" (measured against
    /// Redis 7.0, bench/differential).
    private var spelled = ""

    private mutating func command(_ name: String, _ arguments: [[UInt8]]) -> [Action] {
        var actions: [Action] = []
        if name != "auth" && !(name == "hello" && arguments.count >= 3) {
            var fields = EventFields()
            fields.add("command", attackerText: name)
            if !arguments.isEmpty {
                fields.add("args", attackerBytes: Array(arguments.map { $0 }.joined(separator: [0x20])))
            }
            actions.append(.emit(.commandInput, fields))
        }
        if case .awaitingAuth = self.state, !["auth", "hello", "quit"].contains(name) {
            return actions + [.reply(.error("NOAUTH Authentication required."))]
        }
        guard let arity = Self.arity[name] else {
            return actions + [.reply(.error(Self.unknownCommand(self.spelled, arguments)))]
        }
        if arity >= 0 ? arguments.count + 1 != arity : arguments.count + 1 < -arity {
            return actions + [.reply(.error("ERR wrong number of arguments for '\(name)' command"))]
        }
        return actions + self.run(name, arguments)
    }

    private mutating func run(_ name: String, _ arguments: [[UInt8]]) -> [Action] {
        let text = arguments.map { String(decoding: $0, as: UTF8.self) }
        switch name {
        case "ping": return [.reply(arguments.isEmpty ? .simple("PONG") : .bulk(arguments[0]))]
        case "echo": return [.reply(.bulk(arguments[0]))]
        case "quit":
            self.state = .closed
            return [.reply(.simple("OK")), .close]
        case "auth":
            guard arguments.count <= 2 else { return [.reply(.error("ERR syntax error"))] }
            return self.authenticate(user: arguments.count == 2 ? arguments[0] : nil, password: arguments.last!)
        case "hello": return self.hello(arguments)
        case "info": return [.reply(.bulk(self.info(section: text.first?.lowercased())))]
        case "config": return self.config(text, raw: arguments)
        case "select":
            guard let index = Int(text[0]), (0..<16).contains(index) else {
                return [.reply(.error("ERR DB index is out of range"))]
            }
            return [.reply(.simple("OK"))]
        case "dbsize": return [.reply(.integer(self.keyspace.count))]
        case "keys": return [.reply(.array(self.keyspace.keys(matching: arguments[0]).map { .bulk($0) }))]
        case "scan":
            return [
                .reply(.array([.bulk("0"), .array(self.keyspace.keys(matching: Array("*".utf8)).map { .bulk($0) })]))
            ]
        case "get": return [.reply(self.keyspace.value(for: arguments[0]).map { .bulk($0) } ?? .null)]
        case "set":
            guard self.keyspace.set(arguments[0], arguments[1]) else {
                return [.reply(.error("OOM command not allowed when used memory > 'maxmemory'."))]
            }
            return [.reply(.simple("OK"))]
        case "del", "unlink": return [.reply(.integer(self.keyspace.delete(arguments)))]
        case "exists": return [.reply(.integer(arguments.filter { self.keyspace.value(for: $0) != nil }.count))]
        case "type": return [.reply(.simple(self.keyspace.value(for: arguments[0]) == nil ? "none" : "string"))]
        case "ttl", "pttl": return [.reply(.integer(self.keyspace.value(for: arguments[0]) == nil ? -2 : -1))]
        case "flushall", "flushdb":
            self.keyspace.flush()
            return [.reply(.simple("OK"))]
        case "save": return [.reply(.simple("OK"))]
        case "bgsave": return [.reply(.simple("Background saving started"))]
        case "lastsave", "time":
            let seconds = Int(self.keyspace.startTime.timeIntervalSince1970)
            return [.reply(name == "time" ? .array([.bulk(String(seconds)), .bulk("0")]) : .integer(seconds))]
        case "slaveof", "replicaof":
            return [.reply(.simple("OK"))]
        case "role": return [.reply(.array([.bulk("master"), .integer(0), .array([])]))]
        case "module": return self.module(text)
        case "command":
            let release = self.configuration.version.split(separator: ".").prefix(2).joined(separator: ".")
            let count = RedisInfo.commandCounts[release] ?? Self.arity.count
            return [.reply(text.first?.lowercased() == "count" ? .integer(count) : .array([]))]
        case "client": return self.client(text, raw: arguments)
        case "eval", "evalsha", "script", "function", "fcall":
            return [.reply(.error("NOSCRIPT No matching script. Please use EVAL."))]
        case "shutdown": return [.reply(.error("ERR Errors trying to SHUTDOWN. Check logs."))]
        default: return [.reply(.error(Self.unknownCommand(self.spelled, arguments)))]
        }
    }

    private mutating func authenticate(user: [UInt8]?, password: [UInt8]) -> [Action] {
        var fields = EventFields()
        fields.add("username", attackerBytes: user ?? Array("default".utf8))
        fields.add("password", attackerBytes: password, secret: true)
        fields.add("method", "AUTH")
        // Without requirepass, only the one-argument AUTH gets this; `AUTH user pass` goes through the ACL, which
        // refuses it like any wrong pair (Redis 7.0, measured in bench/differential).
        guard let expected = self.configuration.password else {
            if user != nil {
                return [
                    .emit(.loginFailed, fields),
                    .reply(.error("WRONGPASS invalid username-password pair or user is disabled.")),
                ]
            }
            return [
                .emit(.loginFailed, fields),
                .reply(
                    .error(
                        "ERR AUTH <password> called without any password configured for the default user. "
                            + "Are you sure your configuration is correct?"
                    )
                ),
            ]
        }
        let userOK = user == nil || user == Array("default".utf8)
        if userOK && password == Array(expected.utf8) {
            self.state = .open
            return [.emit(.loginSuccess, fields), .reply(.simple("OK"))]
        }
        return [
            .emit(.loginFailed, fields),
            .reply(.error("WRONGPASS invalid username-password pair or user is disabled.")),
        ]
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
    private mutating func hello(_ arguments: [[UInt8]]) -> [Action] {
        var actions: [Action] = []
        var resp3: Bool?
        var index = 0
        if let first = arguments.first {
            guard let version = Int(ascii: first) else {
                return [.reply(.error("ERR Protocol version is not an integer or out of range"))]
            }
            guard version == 2 || version == 3 else { return [.reply(.error("NOPROTO unsupported protocol version"))] }
            resp3 = version == 3
            index = 1
        }
        while index < arguments.count {
            let option = String(decoding: arguments[index], as: UTF8.self).lowercased()
            if option == "auth", index + 2 < arguments.count {
                let result = self.authenticate(user: arguments[index + 1], password: arguments[index + 2])
                if case .reply(.error(let message)) = result.last {
                    return Array(result.dropLast()) + [.reply(.error(message))]
                }
                actions += result.dropLast()
                index += 3
            } else if option == "setname", index + 1 < arguments.count {
                self.clientName = String(decoding: arguments[index + 1], as: UTF8.self)
                index += 2
            } else {
                return actions + [.reply(.error("ERR Syntax error in HELLO option '\(option)'"))]
            }
        }
        if case .awaitingAuth = self.state {
            return actions + [
                .reply(
                    .error(
                        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
                    )
                )
            ]
        }
        if let resp3 { actions.append(.useRESP3(resp3)) }
        let reply: RESPValue = .map([
            (.bulk("server"), .bulk("redis")),
            (.bulk("version"), .bulk(self.configuration.version)),
            (.bulk("proto"), .integer(resp3 == true ? 3 : 2)),
            (.bulk("id"), .integer(self.keyspace.nextClientID())),
            (.bulk("mode"), .bulk("standalone")),
            (.bulk("role"), .bulk("master")),
            (.bulk("modules"), .array([])),
        ])
        return actions + [.reply(reply)]
    }

    private mutating func config(_ text: [String], raw: [[UInt8]]) -> [Action] {
        switch text[0].lowercased() {
        case "get":
            guard text.count == 2 else {
                return [.reply(.error("ERR wrong number of arguments for 'config|get' command"))]
            }
            let values = self.keyspace.config(matching: raw[1], password: self.configuration.password)
            return [.reply(.array(values.flatMap { [RESPValue.bulk($0.0), .bulk($0.1)] }))]
        case "set":
            guard text.count >= 3, text.count % 2 == 1 else {
                return [.reply(.error("ERR wrong number of arguments for 'config|set' command"))]
            }
            for pair in stride(from: 1, to: text.count, by: 2) {
                guard self.keyspace.setConfig(text[pair].lowercased(), raw[pair + 1]) else {
                    return [
                        .reply(.error("ERR Unknown option or number of arguments for CONFIG SET - '\(text[pair])'"))
                    ]
                }
            }
            return [.reply(.simple("OK"))]
        case "resetstat", "rewrite":
            return [.reply(.simple("OK"))]
        default:
            return [.reply(.error("ERR unknown subcommand '\(text[0])'. Try CONFIG HELP."))]
        }
    }

    private func module(_ text: [String]) -> [Action] {
        switch text[0].lowercased() {
        case "list": return [.reply(.array([]))]
        case "load": return [.reply(.error("ERR Error loading the extension. Please check the server logs."))]
        case "unload": return [.reply(.error("ERR Error unloading module: no such module with that name"))]
        default: return [.reply(.error("ERR unknown subcommand '\(text[0])'. Try MODULE HELP."))]
        }
    }

    private mutating func client(_ text: [String], raw: [[UInt8]]) -> [Action] {
        switch text[0].lowercased() {
        case "setname":
            guard raw.count == 2 else {
                return [.reply(.error("ERR wrong number of arguments for 'client|setname' command"))]
            }
            self.clientName = text[1]
            var fields = EventFields()
            fields.add("client", attackerBytes: raw[1])
            return [.emit(.clientFingerprint, fields), .reply(.simple("OK"))]
        case "setinfo":
            guard raw.count == 3 else {
                return [.reply(.error("ERR wrong number of arguments for 'client|setinfo' command"))]
            }
            var fields = EventFields()
            fields.add(text[1].lowercased() == "lib-ver" ? "library_version" : "library", attackerBytes: raw[2])
            return [.emit(.clientFingerprint, fields), .reply(.simple("OK"))]
        case "getname": return [.reply(self.clientName.map { .bulk($0) } ?? .null)]
        case "id": return [.reply(.integer(self.keyspace.nextClientID()))]
        case "list", "info":
            return [
                .reply(
                    .bulk(
                        "id=3 addr=127.0.0.1:0 laddr=127.0.0.1:6379 fd=8 name=\(self.clientName ?? "") age=0 idle=0 flags=N db=0 cmd=client|list\n"
                    )
                )
            ]
        default: return [.reply(.error("ERR unknown subcommand '\(text[0])'. Try CLIENT HELP."))]
        }
    }

    private func info(section: String?) -> [UInt8] {
        let sections = RedisInfo.render(configuration: self.configuration, keyspace: self.keyspace)
        let chosen: [(String, String)]
        switch section {
        case nil, "default", "all", "everything": chosen = sections
        default: chosen = sections.filter { $0.0.lowercased() == section }
        }
        return Array(chosen.map { "# \($0.0)\r\n\($0.1)" }.joined(separator: "\r\n").utf8)
    }

    /// Redis 7's wording, with up to the first few arguments quoted.
    static func unknownCommand(_ name: String, _ arguments: [[UInt8]]) -> String {
        let shown = arguments.prefix(8).map { "'" + String(decoding: $0.prefix(128), as: UTF8.self) + "' " }.joined()
        return "ERR unknown command '\(name.prefix(128))', with args beginning with: \(shown)"
    }

    /// Command arities as Redis declares them: positive is exact, negative a minimum (counting the name).
    static let arity: [String: Int] = [
        "ping": -1, "echo": 2, "quit": -1, "auth": -2, "hello": -1, "info": -1, "config": -2, "select": 2,
        "dbsize": 1, "keys": 2, "scan": -2, "get": 2, "set": -3, "del": -2, "unlink": -2, "exists": -2, "type": 2,
        "ttl": 2, "pttl": 2, "flushall": -1, "flushdb": -1, "save": 1, "bgsave": -1, "lastsave": 1, "time": 1,
        "slaveof": 3, "replicaof": 3, "role": 1, "module": -2, "command": -1, "client": -2, "eval": -3,
        "evalsha": -3, "script": -2, "function": -2, "fcall": -3, "shutdown": -1,
    ]
}
