import DecnetCore
import DecnetServiceKit
import Foundation

/// A mongod as drivers, shells and scanners see it, without I/O: OP_MSG and the legacy OP_QUERY (every command
/// on releases before 5.1, only `hello`/`isMaster` after, as mongod does), `hello` with the persona's wire
/// version, SCRAM-SHA-1/256 with everything needed to test a password against the proof offline captured, and
/// the data commands over the decky's `MongoStore`, every one recorded.
struct MongoServer {
    enum Action: Equatable {
        case send([UInt8])
        case emit(EventID, EventFields)
        /// Wait before what follows (an awaitable `hello` is answered when its wait is up, as mongod does).
        case delay(Duration)
        case close
    }

    struct Configuration: Sendable {
        var version: MongoVersion
        /// Every command but the handshake and authentication needs a login (`mongo_auth`).
        var requireAuth: Bool
        var users: AcceptedCredentials
        var hostname: String
        var port: Int
        /// The process's id in `topologyVersion` (an ObjectId, fixed while the decky runs).
        var processID: [UInt8]
        /// Seeds the per-user SCRAM salts, so a user's salt is the same on every attempt, as a stored one is.
        var saltSeed: [UInt8]
        var pid: Int
    }

    let configuration: Configuration
    let store: MongoStore
    /// Seconds the server has been up.
    let uptime: () -> Double
    let connectionID: Int32
    let peer: String
    private var nextResponseID: Int32
    private var authenticated: (user: String, database: String)?
    private var conversation: SCRAMConversation?
    private var sawHello = false

    init(
        configuration: Configuration,
        store: MongoStore,
        connectionID: Int32,
        peer: String,
        uptime: @escaping () -> Double
    ) {
        self.configuration = configuration
        self.store = store
        self.connectionID = connectionID
        self.peer = peer
        self.uptime = uptime
        self.nextResponseID = connectionID &* 1_000
    }

    private mutating func responseID() -> Int32 {
        self.nextResponseID &+= 1
        return self.nextResponseID
    }

    mutating func received(_ inbound: MongoInbound) -> [Action] {
        switch inbound {
        case .http(let bytes):
            var fields = EventFields()
            fields.add("error", "HTTP request on the driver port")
            fields.add("preview", attackerBytes: bytes.prefix(128))
            return [.emit(.clientMalformed, fields), .send(MongoWire.httpAnswer), .close]
        case .invalid(let problem, let preview):
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: preview)), .close]
        case .message(let requestID, _, let opCode, let body):
            switch opCode {
            case MongoWire.opMsg: return self.opMsg(requestID, body)
            case MongoWire.opQuery: return self.opQuery(requestID, body)
            case MongoWire.opInsert, MongoWire.opUpdate, MongoWire.opDelete, MongoWire.opKillCursors,
                MongoWire.opGetMore:
                return self.legacyWrite(requestID, opCode, body)
            default:
                // OP_COMPRESSED (never offered) and codes mongod does not know: it closes the connection.
                return [
                    .emit(.clientMalformed, EventFields.malformed("unsupported op code \(opCode)", preview: body)),
                    .close,
                ]
            }
        }
    }

    // MARK: - Messages

    private mutating func opMsg(_ requestID: Int32, _ body: [UInt8]) -> [Action] {
        let message: MongoWire.Message
        do {
            message = try MongoWire.Message(body)
        } catch {
            return [
                .emit(.clientMalformed, EventFields.malformed("OP_MSG: \(error)", preview: body.prefix(64))),
                .close,
            ]
        }
        let database = message.command["$db"]?.string ?? "admin"
        let (reply, events, wait) = self.run(message.command, database: database, legacy: false)
        var actions = events
        if message.flags & MongoWire.moreToCome != 0 { return actions }  // The client wants no answer.
        if let wait { actions.append(.delay(wait)) }
        actions.append(.send(MongoWire.message(to: requestID, id: self.responseID(), document: reply)))
        return actions
    }

    private mutating func opQuery(_ requestID: Int32, _ body: [UInt8]) -> [Action] {
        let query: MongoWire.Query
        do {
            query = try MongoWire.Query(body)
        } catch {
            return [
                .emit(.clientMalformed, EventFields.malformed("OP_QUERY: \(error)", preview: body.prefix(64))),
                .close,
            ]
        }
        // Drivers wrap a command as {$query: {...}, $readPreference: ...}.
        let command = query.query["$query"]?.document ?? query.query["query"]?.document ?? query.query
        guard let database = query.commandDatabase else {
            return self.legacyFind(requestID, query)
        }
        let name = command.elements.first?.key ?? ""
        if !self.configuration.version.acceptsLegacyCommands, !["hello", "isMaster", "ismaster"].contains(name) {
            // mongod 5.1+ answers any other OP_QUERY command with this error (and nmap's probe gets no version).
            var fields = EventFields()
            fields.add("command", attackerText: name)
            fields.add("database", attackerText: database)
            fields.add("protocol", "OP_QUERY")
            fields.add("input", attackerText: String(command.json().prefix(2048)))
            let error = MongoServer.error(
                352,
                "UnsupportedOpQueryCommand",
                "Unsupported OP_QUERY command: \(name). The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"
            )
            return [
                .emit(.commandInput, fields),
                .send(MongoWire.reply(to: requestID, id: self.responseID(), documents: [error])),
            ]
        }
        let (reply, actions, _) = self.run(command, database: database, legacy: true)
        return actions + [.send(MongoWire.reply(to: requestID, id: self.responseID(), documents: [reply]))]
    }

    /// An OP_QUERY on a collection (the pre-3.2 find).
    private mutating func legacyFind(_ requestID: Int32, _ query: MongoWire.Query) -> [Action] {
        let parts = query.namespace.split(separator: ".", maxSplits: 1).map(String.init)
        var fields = EventFields()
        fields.add("command", "find")
        fields.add("protocol", "OP_QUERY")
        fields.add("database", attackerText: parts.first ?? "")
        fields.add("collection", attackerText: parts.count > 1 ? parts[1] : "")
        fields.add("input", attackerText: String(query.query.json().prefix(2048)))
        guard self.configuration.version.acceptsLegacyCommands else {
            let error: BSONDocument = [
                "$err": .string(
                    "OP_QUERY is no longer supported. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"
                ),
                "code": .int32(5_739_101), "ok": .double(0),
            ]
            return [
                .emit(.commandInput, fields),
                .send(MongoWire.reply(to: requestID, id: self.responseID(), documents: [error], flags: 8 | 2)),
            ]
        }
        var documents: [BSONDocument] = []
        if !self.configuration.requireAuth || self.authenticated != nil, parts.count == 2 {
            let filter = query.query["$query"]?.document ?? query.query
            documents = MongoQuery.select(
                self.store.documents(parts[0], parts[1]) ?? [],
                filter: filter,
                skip: Int(max(0, query.skip)),
                limit: query.limit == 0 ? 101 : min(101, Int(query.limit.magnitude))
            )
        }
        return [
            .emit(.commandInput, fields),
            .send(MongoWire.reply(to: requestID, id: self.responseID(), documents: documents)),
        ]
    }

    /// OP_INSERT, OP_UPDATE, OP_DELETE, OP_KILL_CURSORS and OP_GET_MORE: recorded; mongod 5.1+ no longer serves
    /// them and closes, older releases answer only OP_GET_MORE (with "cursor not found").
    private mutating func legacyWrite(_ requestID: Int32, _ opCode: Int32, _ body: [UInt8]) -> [Action] {
        var fields = EventFields()
        let names: [Int32: String] = [
            MongoWire.opInsert: "OP_INSERT", MongoWire.opUpdate: "OP_UPDATE", MongoWire.opDelete: "OP_DELETE",
            MongoWire.opKillCursors: "OP_KILL_CURSORS", MongoWire.opGetMore: "OP_GET_MORE",
        ]
        fields.add("command", names[opCode] ?? "\(opCode)")
        fields.add("protocol", "legacy")
        var reader = BSONReader(body)
        if opCode != MongoWire.opKillCursors, (try? reader.int32()) != nil,
            let namespace = try? reader.cString()
        {
            fields.add("namespace", attackerText: namespace)
        }
        fields.add("preview", attackerBytes: body.prefix(256))
        guard self.configuration.version.acceptsLegacyCommands else { return [.emit(.commandInput, fields), .close] }
        if opCode == MongoWire.opGetMore {
            return [
                .emit(.commandInput, fields),
                .send(MongoWire.reply(to: requestID, id: self.responseID(), documents: [], flags: 8 | 1)),
            ]
        }
        return [.emit(.commandInput, fields)]
    }

    // MARK: - Commands

    /// Commands a client may run before it logs in on a server that requires logins.
    static let allowedBeforeLogin: Set<String> = [
        "hello", "isMaster", "ismaster", "buildInfo", "buildinfo", "ping", "saslStart", "saslContinue",
        "authenticate", "getnonce", "logout", "endSessions", "whatsmyuri", "connectionStatus",
    ]

    /// Heartbeats and handshakes that are not recorded as commands (the first handshake is a fingerprint).
    static let quiet: Set<String> = ["hello", "isMaster", "ismaster", "ping", "endSessions"]

    private mutating func run(
        _ command: BSONDocument,
        database: String,
        legacy: Bool
    ) -> (BSONDocument, [Action], Duration?) {
        guard let name = command.elements.first?.key else {
            return (Self.error(59, "CommandNotFound", "no such command: ''"), [], nil)
        }
        var actions: [Action] = []
        if !Self.quiet.contains(name) {
            var fields = EventFields()
            fields.add("command", attackerText: name)
            fields.add("database", attackerText: database)
            if let collection = command.elements.first?.value.string {
                fields.add("collection", attackerText: collection)
            }
            fields.add("protocol", legacy ? "OP_QUERY" : "OP_MSG")
            if let user = self.authenticated?.user { fields.add("user", attackerText: user) }
            if !name.hasPrefix("sasl") {
                fields.add("input", attackerText: String(command.withClusterFieldsStripped.json().prefix(4096)))
            }
            actions.append(.emit(.commandInput, fields))
        }
        if self.configuration.requireAuth, self.authenticated == nil, !Self.allowedBeforeLogin.contains(name) {
            return (Self.error(13, "Unauthorized", "command \(name) requires authentication"), actions, nil)
        }
        switch name {
        case "hello", "isMaster", "ismaster":
            let (reply, events, wait) = self.hello(command, legacy: name != "hello", database: database)
            return (reply, events + actions, wait)
        case "saslStart":
            let (reply, events) = self.saslStart(command, database: database)
            return (reply, actions + events, nil)
        case "saslContinue":
            let (reply, events) = self.saslContinue(command)
            return (reply, actions + events, nil)
        case "authenticate":
            return (self.authenticate(command, database: database), actions + self.legacyAuthEvents(command), nil)
        case "logout":
            self.authenticated = nil
            return (Self.ok, actions, nil)
        default:
            let context = MongoCommands.Context(
                configuration: self.configuration,
                store: self.store,
                database: database,
                user: self.authenticated?.user,
                peer: self.peer,
                connectionID: self.connectionID,
                uptime: self.uptime()
            )
            let (reply, events) = MongoCommands.run(name, command, context)
            return (reply, actions + events.map { .emit($0.0, $0.1) }, nil)
        }
    }

    // MARK: - hello

    private mutating func hello(
        _ command: BSONDocument,
        legacy: Bool,
        database: String
    ) -> (BSONDocument, [Action], Duration?) {
        var actions: [Action] = []
        if !self.sawHello {
            self.sawHello = true
            actions.append(.emit(.clientFingerprint, Self.fingerprint(command)))
        }
        let version = self.configuration.version
        var reply = BSONDocument()
        if command["helloOk"]?.isTrue == true { reply["helloOk"] = .bool(true) }
        reply[legacy ? "ismaster" : "isWritablePrimary"] = .bool(true)
        if version.wire >= 9 {
            reply["topologyVersion"] = .document([
                "processId": .objectID(self.configuration.processID), "counter": .int64(0),
            ])
        }
        reply["maxBsonObjectSize"] = .int32(16_777_216)
        reply["maxMessageSizeBytes"] = .int32(48_000_000)
        reply["maxWriteBatchSize"] = .int32(100_000)
        reply["localTime"] = .datetime(Int64(Date().timeIntervalSince1970 * 1000))
        reply["logicalSessionTimeoutMinutes"] = .int32(30)
        reply["connectionId"] = .int32(self.connectionID)
        reply["minWireVersion"] = .int32(0)
        reply["maxWireVersion"] = .int32(Int32(version.wire))
        reply["readOnly"] = .bool(false)
        if let principal = command["saslSupportedMechs"]?.string {
            let user = principal.split(separator: ".", maxSplits: 1).last.map(String.init) ?? principal
            // As mongod: the mechanisms of a user that exists (which tells an attacker the name is right).
            if self.configuration.users.pairs.contains(where: { $0.user == user }) {
                reply["saslSupportedMechs"] = .array([.string("SCRAM-SHA-1"), .string("SCRAM-SHA-256")])
            }
        }
        if let speculative = command["speculativeAuthenticate"]?.document,
            speculative["saslStart"]?.isTrue == true
        {
            let authDatabase = speculative["db"]?.string ?? database
            let (answer, events) = self.saslStart(speculative, database: authDatabase)
            actions += events
            if answer["ok"]?.isTrue == true {
                var speculativeReply = answer
                speculativeReply["ok"] = nil
                reply["speculativeAuthenticate"] = .document(speculativeReply)
            }
        }
        reply["ok"] = .double(1)
        // An awaitable hello (a driver's monitor: topologyVersion and maxAwaitTimeMS) waits that long when
        // nothing changes, as mongod does; answering at once would make the monitor spin.
        var wait: Duration?
        if command["topologyVersion"] != nil, let milliseconds = command["maxAwaitTimeMS"]?.integer,
            milliseconds > 0
        {
            wait = .milliseconds(min(milliseconds, 10_000))
        }
        return (reply, actions, wait)
    }

    static func fingerprint(_ command: BSONDocument) -> EventFields {
        var fields = EventFields()
        fields.add("client", "mongodb")
        let client = command["client"]?.document
        if let driver = client?["driver"]?.document {
            let name = driver["name"]?.string ?? "?"
            fields.add("driver", attackerText: name + " " + (driver["version"]?.string ?? ""))
        }
        if let os = client?["os"]?.document {
            let parts = ["type", "name", "architecture", "version"].compactMap { os[$0]?.string }
            fields.add("os", attackerText: parts.joined(separator: " "))
        }
        if let application = client?["application"]?.document?["name"]?.string {
            fields.add("application", attackerText: application)
        }
        if let platform = client?["platform"]?.string { fields.add("platform", attackerText: platform) }
        let compression = command["compression"].map { value -> String in
            if case .array(let names) = value { return names.compactMap(\.string).joined(separator: ",") }
            return ""
        }
        if let compression, !compression.isEmpty { fields.add("compression", attackerText: compression) }
        fields.add("handshake", command.elements.first?.key ?? "")
        return fields
    }

    // MARK: - Authentication

    private mutating func saslStart(_ command: BSONDocument, database: String) -> (BSONDocument, [Action]) {
        let mechanism = command["mechanism"]?.string ?? ""
        guard let scram = SCRAMConversation.Mechanism(rawValue: mechanism) else {
            var fields = EventFields()
            fields.add("method", attackerText: mechanism)
            fields.add("database", attackerText: database)
            if case .binary(_, let payload) = command["payload"] ?? .null {
                fields.add("payload", attackerBytes: payload.prefix(256), secret: mechanism == "PLAIN")
            }
            return (
                Self.error(
                    334,
                    "MechanismUnavailable",
                    "Received authentication for mechanism \(mechanism) which is not enabled"
                ),
                [.emit(.loginFailed, fields)]
            )
        }
        let payload = Self.payload(command["payload"])
        guard
            let conversation = SCRAMConversation(
                mechanism: scram,
                clientFirst: payload,
                database: database,
                saltSeed: self.configuration.saltSeed,
                skipEmptyExchange: command["options"]?.document?["skipEmptyExchange"]?.isTrue == true
            )
        else {
            var fields = EventFields()
            fields.add("method", mechanism)
            fields.add("error", "SCRAM client-first-message that does not parse")
            fields.add("preview", attackerBytes: payload.prefix(128))
            return (
                Self.error(17, "ProtocolError", "Invalid SCRAM client first message"), [.emit(.clientMalformed, fields)]
            )
        }
        self.conversation = conversation
        return (
            [
                "conversationId": .int32(1), "done": .bool(false),
                "payload": .binary(subtype: 0, Array(conversation.serverFirst.utf8)), "ok": .double(1),
            ],
            []
        )
    }

    private mutating func saslContinue(_ command: BSONDocument) -> (BSONDocument, [Action]) {
        guard var conversation = self.conversation else {
            return (Self.error(17, "ProtocolError", "No SASL session state found"), [])
        }
        let payload = Self.payload(command["payload"])
        if conversation.awaitingEmptyExchange {
            self.conversation = nil
            return (
                [
                    "conversationId": .int32(1), "done": .bool(true), "payload": .binary(subtype: 0, []),
                    "ok": .double(1),
                ],
                []
            )
        }
        let outcome = conversation.clientFinal(payload, users: self.configuration.users)
        var fields = conversation.captureFields
        fields.add("database", attackerText: conversation.database)
        guard case .accepted(let serverFinal) = outcome else {
            self.conversation = nil
            return (Self.authenticationFailed, [.emit(.loginFailed, fields)])
        }
        self.authenticated = (conversation.user, conversation.database)
        let done = conversation.skipEmptyExchange
        if done {
            self.conversation = nil
        } else {
            conversation.awaitingEmptyExchange = true
            self.conversation = conversation
        }
        return (
            [
                "conversationId": .int32(1), "done": .bool(done),
                "payload": .binary(subtype: 0, Array(serverFinal.utf8)), "ok": .double(1),
            ],
            [.emit(.loginSuccess, fields)]
        )
    }

    /// The retired MONGODB-CR (`getnonce` then `authenticate` with `key = md5(nonce + user + md5(user:mongo:pw))`,
    /// which old tools still send) and MONGODB-X509: never accepted.
    private func authenticate(_ command: BSONDocument, database: String) -> BSONDocument {
        Self.authenticationFailed
    }

    private func legacyAuthEvents(_ command: BSONDocument) -> [Action] {
        var fields = EventFields()
        fields.add("username", attackerText: command["user"]?.string ?? "")
        fields.add("method", command["mechanism"]?.string ?? "MONGODB-CR")
        if let nonce = command["nonce"]?.string { fields.add("nonce", attackerText: nonce) }
        if let key = command["key"]?.string { fields.add("key", attackerText: key) }
        return [.emit(.loginFailed, fields)]
    }

    static func payload(_ value: BSONValue?) -> [UInt8] {
        switch value {
        case .binary(_, let bytes): bytes
        case .string(let text): Array(text.utf8)
        default: []
        }
    }

    // MARK: - Replies

    static let ok: BSONDocument = ["ok": .double(1)]

    static let authenticationFailed = MongoServer.error(18, "AuthenticationFailed", "Authentication failed.")

    static func error(_ code: Int32, _ codeName: String, _ message: String) -> BSONDocument {
        ["ok": .double(0), "errmsg": .string(message), "code": .int32(code), "codeName": .string(codeName)]
    }
}

extension BSONDocument {
    /// The command without the session and cluster fields drivers add to everything.
    var withClusterFieldsStripped: BSONDocument {
        BSONDocument(self.elements.filter { !["lsid", "$clusterTime", "$readPreference"].contains($0.key) })
    }
}
