import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation

/// The persona's release (`mongo_version`) and what follows from it: the wire version drivers negotiate on,
/// whether legacy OP_QUERY commands are still served (before 5.1), and the shape of a few replies.
struct MongoVersion: Sendable, Equatable {
    let text: String
    let parts: [Int]

    init?(_ text: String) {
        let numbers = text.split(separator: ".").map { Int($0) }
        guard (2...4).contains(numbers.count), numbers.allSatisfy({ $0 != nil && $0! >= 0 && $0! < 1000 }),
            numbers[0]! >= 3
        else { return nil }
        self.text = text
        self.parts = numbers.map { $0! }
    }

    var major: Int { self.parts[0] }
    var minor: Int { self.parts[1] }

    /// `maxWireVersion` by release (the wire protocol's table of server versions).
    var wire: Int {
        switch (self.major, self.minor) {
        case (3, 6): 6
        case (3, _): self.minor >= 4 ? 5 : 4
        case (4, 0): 7
        case (4, 2): 8
        case (4, _): 9
        case (5, 0): 13
        case (5, let minor): 13 + minor
        case (6, let minor): 17 + minor
        case (7, let minor): 21 + minor
        case (8, let minor): 25 + minor
        default: 25
        }
    }

    var acceptsLegacyCommands: Bool { self.major < 5 || (self.major == 5 && self.minor == 0) }

    /// `featureCompatibilityVersion` of a fresh install.
    var featureCompatibility: String { "\(self.major).\(self.minor)" }
}

/// Filters, projections and updates as far as the emulator needs them: top-level equality and the common
/// comparison operators, `$set`/`$unset`/`$inc` updates and whole-document replacements.
enum MongoQuery {
    static func select(_ documents: [BSONDocument], filter: BSONDocument, skip: Int, limit: Int) -> [BSONDocument] {
        Array(documents.filter { self.matches($0, filter) }.dropFirst(max(0, skip)).prefix(max(0, limit)))
    }

    static func matches(_ document: BSONDocument, _ filter: BSONDocument) -> Bool {
        filter.elements.allSatisfy { key, condition in
            if key.hasPrefix("$") {
                switch (key, condition) {
                case ("$and", .array(let parts)):
                    return parts.allSatisfy { $0.document.map { self.matches(document, $0) } ?? true }
                case ("$or", .array(let parts)):
                    return parts.contains { $0.document.map { self.matches(document, $0) } ?? false }
                default: return true
                }
            }
            let value = document[key]
            if case .document(let operators) = condition, operators.elements.first?.key.hasPrefix("$") == true {
                return operators.elements.allSatisfy { op, operand in self.apply(op, value, operand) }
            }
            return value == condition
        }
    }

    private static func apply(_ op: String, _ value: BSONValue?, _ operand: BSONValue) -> Bool {
        switch op {
        case "$eq": return value == operand
        case "$ne": return value != operand
        case "$exists": return (value != nil) == operand.isTrue
        case "$in":
            guard case .array(let options) = operand else { return false }
            return options.contains { $0 == value }
        case "$nin":
            guard case .array(let options) = operand else { return true }
            return !options.contains { $0 == value }
        case "$gt", "$gte", "$lt", "$lte":
            guard let left = value.flatMap(self.number), let right = self.number(operand) else { return false }
            switch op {
            case "$gt": return left > right
            case "$gte": return left >= right
            case "$lt": return left < right
            default: return left <= right
            }
        default: return true
        }
    }

    static func number(_ value: BSONValue) -> Double? {
        switch value {
        case .double(let number): number
        case .int32(let number): Double(number)
        case .int64(let number): Double(number)
        case .datetime(let millis): Double(millis)
        default: nil
        }
    }

    /// An update applied to one document: operators, or a replacement that keeps `_id`.
    static func update(_ document: BSONDocument, with update: BSONDocument) -> BSONDocument {
        guard update.elements.first?.key.hasPrefix("$") == true else {
            var replacement = BSONDocument(update.elements.filter { $0.key != "_id" })
            if let id = document["_id"] { replacement.elements.insert(("_id", id), at: 0) }
            return replacement
        }
        var result = document
        for (op, value) in update.elements {
            guard case .document(let fields) = value else { continue }
            for (key, operand) in fields.elements where key != "_id" {
                switch op {
                case "$set": result[key] = operand
                case "$unset": result[key] = nil
                case "$inc":
                    let current = result[key].flatMap(self.number) ?? 0
                    result[key] = .double(current + (self.number(operand) ?? 0))
                default: continue
                }
            }
        }
        return result
    }

    /// The documents a projection keeps fields of (`{field: 1}`), or all fields.
    static func project(_ document: BSONDocument, _ projection: BSONDocument?) -> BSONDocument {
        guard let projection, !projection.elements.isEmpty else { return document }
        let included = Set(projection.elements.filter { $0.value.isTrue }.map(\.key))
        let excluded = Set(projection.elements.filter { !$0.value.isTrue }.map(\.key))
        if included.isEmpty { return BSONDocument(document.elements.filter { !excluded.contains($0.key) }) }
        return BSONDocument(
            document.elements.filter { included.contains($0.key) || ($0.key == "_id" && !excluded.contains("_id")) }
        )
    }
}

/// The commands that read and write the decky's data, and the server's own status commands.
enum MongoCommands {
    struct Context {
        let configuration: MongoServer.Configuration
        let store: MongoStore
        let database: String
        let user: String?
        let peer: String
        let connectionID: Int32
        let uptime: Double
    }

    typealias Result = (BSONDocument, [(EventID, EventFields)])

    static func run(_ name: String, _ command: BSONDocument, _ context: Context) -> Result {
        let collection = command.elements.first?.value.string ?? ""
        let database = context.database
        let store = context.store
        let version = context.configuration.version
        switch name {
        case "buildInfo", "buildinfo": return (self.buildInfo(version), [])
        case "ping": return (MongoServer.ok, [])
        case "endSessions", "startSession", "refreshSessions", "killCursors", "getLastError", "resetError":
            return (MongoServer.ok, [])
        case "whatsmyuri": return (["you": .string(context.peer), "ok": .double(1)], [])
        case "connectionStatus":
            let users: [BSONValue] =
                context.user.map { [.document(["user": .string($0), "db": .string("admin")])] } ?? []
            return (
                [
                    "authInfo": .document([
                        "authenticatedUsers": .array(users), "authenticatedUserRoles": .array([]),
                    ]), "ok": .double(1),
                ],
                []
            )
        case "getnonce":
            guard version.major < 6 else { return (self.notFound(name), []) }
            let nonce = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            return (["nonce": .string(nonce), "ok": .double(1)], [])
        case "serverStatus": return (self.serverStatus(context), [])
        case "hostInfo": return (self.hostInfo(context), [])
        case "getCmdLineOpts": return (self.commandLine(context), [])
        case "getLog": return (["totalLinesWritten": .int32(0), "log": .array([]), "ok": .double(1)], [])
        case "listDatabases":
            let nameOnly = command["nameOnly"]?.isTrue == true
            var total: Int64 = 0
            let databases = store.databases.map { database -> BSONValue in
                let size = self.size(of: database)
                total += size
                return .document(
                    nameOnly
                        ? ["name": .string(database.name)]
                        : ["name": .string(database.name), "sizeOnDisk": .int64(size), "empty": .bool(false)]
                )
            }
            if nameOnly { return (["databases": .array(databases), "ok": .double(1)], []) }
            return (
                [
                    "databases": .array(databases), "totalSize": .int64(total), "totalSizeMb": .int64(total >> 20),
                    "ok": .double(1),
                ],
                []
            )
        case "listCollections":
            let nameOnly = command["nameOnly"]?.isTrue == true
            let collections = (store.database(database)?.collections ?? []).map { collection -> BSONValue in
                if nameOnly { return .document(["name": .string(collection.name), "type": .string("collection")]) }
                return .document([
                    "name": .string(collection.name), "type": .string("collection"), "options": .document([:]),
                    "info": .document([
                        "readOnly": .bool(false),
                        "uuid": .binary(subtype: 4, self.uuid(database + "." + collection.name, context)),
                    ]),
                    "idIndex": .document(self.idIndex),
                ])
            }
            return (self.cursor("\(database).$cmd.listCollections", collections), [])
        case "listIndexes":
            guard store.documents(database, collection) != nil else {
                return (MongoServer.error(26, "NamespaceNotFound", "ns does not exist: \(database).\(collection)"), [])
            }
            return (self.cursor("\(database).\(collection)", [.document(self.idIndex)]), [])
        case "find":
            let documents = MongoQuery.select(
                store.documents(database, collection) ?? [],
                filter: command["filter"]?.document ?? [:],
                skip: command["skip"]?.integer ?? 0,
                limit: min(
                    command["limit"]?.integer.flatMap { $0 == 0 ? nil : Int(clamping: $0.magnitude) } ?? 1_000,
                    1_000
                )
            ).map { BSONValue.document(MongoQuery.project($0, command["projection"]?.document)) }
            return (self.cursor("\(database).\(collection)", documents), [])
        case "getMore":
            return (
                MongoServer.error(43, "CursorNotFound", "cursor id \(command["getMore"]?.integer ?? 0) not found"), []
            )
        case "count":
            let documents = store.documents(database, collection) ?? []
            let n = documents.filter { MongoQuery.matches($0, command["query"]?.document ?? [:]) }.count
            return (["n": .int32(Int32(n)), "ok": .double(1)], [])
        case "distinct":
            let key = command["key"]?.string ?? ""
            var values: [BSONValue] = []
            for document in store.documents(database, collection) ?? [] {
                if let value = document[key], !values.contains(value) { values.append(value) }
            }
            return (["values": .array(values), "ok": .double(1)], [])
        case "aggregate": return (self.aggregate(command, context), [])
        case "insert":
            let documents = self.documents(command["documents"]).map(self.withID)
            store.insert(database, collection, documents)
            return (
                ["n": .int32(Int32(documents.count)), "ok": .double(1)],
                [self.write(context, collection, "insert", documents.count)]
            )
        case "update": return self.update(command, context, collection)
        case "delete": return self.delete(command, context, collection)
        case "create":
            guard store.create(database, collection) else {
                return (
                    MongoServer.error(48, "NamespaceExists", "Collection \(database).\(collection) already exists."), []
                )
            }
            return (MongoServer.ok, [self.write(context, collection, "create", 0)])
        case "createIndexes":
            let created = store.create(database, collection)
            return (
                [
                    "numIndexesBefore": .int32(1), "numIndexesAfter": .int32(2),
                    "createdCollectionAutomatically": .bool(created), "ok": .double(1),
                ],
                []
            )
        case "drop":
            guard store.drop(database, collection) else {
                if version.major >= 7 { return (MongoServer.ok, []) }
                return (MongoServer.error(26, "NamespaceNotFound", "ns not found"), [])
            }
            return (
                ["nIndexesWas": .int32(1), "ns": .string("\(database).\(collection)"), "ok": .double(1)],
                [self.write(context, collection, "drop", 0)]
            )
        case "dropDatabase":
            _ = store.dropDatabase(database)
            let reply: BSONDocument =
                version.major >= 5 ? MongoServer.ok : ["dropped": .string(database), "ok": .double(1)]
            return (reply, [self.write(context, nil, "dropDatabase", 0)])
        case "usersInfo":
            let users = context.configuration.users.pairs.map { pair -> BSONValue in
                .document([
                    "_id": .string("admin.\(pair.user)"), "user": .string(pair.user), "db": .string("admin"),
                    "roles": .array([.document(["role": .string("root"), "db": .string("admin")])]),
                    "mechanisms": .array([.string("SCRAM-SHA-1"), .string("SCRAM-SHA-256")]),
                ])
            }
            return (["users": .array(users), "ok": .double(1)], [])
        case "createUser", "updateUser":
            var fields = EventFields()
            fields.add("command", name)
            fields.add("username", attackerText: command[name]?.string ?? "")
            fields.add("password", attackerText: command["pwd"]?.string ?? "", secret: true)
            fields.add("database", attackerText: database)
            return (MongoServer.ok, [(.commandInput, fields)])
        case "shutdown":
            return (
                MongoServer.error(
                    13,
                    "Unauthorized",
                    "shutdown must run from localhost when running db without auth"
                ),
                []
            )
        case "replSetGetStatus", "replSetGetConfig":
            return (MongoServer.error(76, "NoReplicationEnabled", "not running with --replSet"), [])
        case "getParameter":
            return (
                [
                    "featureCompatibilityVersion": .document(["version": .string(version.featureCompatibility)]),
                    "ok": .double(1),
                ], []
            )
        case "currentOp": return (["inprog": .array([]), "ok": .double(1)], [])
        case "listCommands":
            return (["commands": .document([:]), "ok": .double(1)], [])
        default:
            return (self.notFound(name), [])
        }
    }

    static func notFound(_ name: String) -> BSONDocument {
        MongoServer.error(59, "CommandNotFound", "no such command: '\(name)'")
    }

    static let idIndex: BSONDocument = ["v": .int32(2), "key": .document(["_id": .int32(1)]), "name": .string("_id_")]

    static func cursor(_ namespace: String, _ batch: [BSONValue]) -> BSONDocument {
        [
            "cursor": .document(["firstBatch": .array(batch), "id": .int64(0), "ns": .string(namespace)]),
            "ok": .double(1),
        ]
    }

    static func documents(_ value: BSONValue?) -> [BSONDocument] {
        guard case .array(let values) = value else { return [] }
        return values.compactMap(\.document)
    }

    static func withID(_ document: BSONDocument) -> BSONDocument {
        guard document["_id"] == nil else { return document }
        var bytes = withUnsafeBytes(of: UInt32(Date().timeIntervalSince1970).bigEndian) { Array($0) }
        bytes += (0..<8).map { _ in UInt8.random(in: 0...255) }
        var result = document
        result.elements.insert(("_id", .objectID(bytes)), at: 0)
        return result
    }

    /// The event of a write: which, where, how many documents (the command's own event carries its input).
    static func write(_ context: Context, _ collection: String?, _ kind: String, _ count: Int) -> (EventID, EventFields)
    {
        var fields = EventFields()
        fields.add("write", kind)
        fields.add("database", attackerText: context.database)
        if let collection { fields.add("collection", attackerText: collection) }
        fields.add("documents", String(count))
        return (.payloadReceived, fields)
    }

    static func update(_ command: BSONDocument, _ context: Context, _ collection: String) -> Result {
        var documents = context.store.documents(context.database, collection) ?? []
        var matched = 0, modified = 0
        for statement in self.documents(command["updates"]).prefix(1_000) {
            let filter = statement["q"]?.document ?? [:]
            let change = statement["u"]?.document ?? [:]
            let multi = statement["multi"]?.isTrue == true
            for index in documents.indices where MongoQuery.matches(documents[index], filter) {
                matched += 1
                let updated = MongoQuery.update(documents[index], with: change)
                if updated != documents[index] { modified += 1 }
                documents[index] = updated
                if !multi { break }
            }
        }
        context.store.replace(context.database, collection, with: documents)
        return (
            ["n": .int32(Int32(matched)), "nModified": .int32(Int32(modified)), "ok": .double(1)],
            [self.write(context, collection, "update", modified)]
        )
    }

    static func delete(_ command: BSONDocument, _ context: Context, _ collection: String) -> Result {
        var documents = context.store.documents(context.database, collection) ?? []
        var removed = 0
        for statement in self.documents(command["deletes"]).prefix(1_000) {
            let filter = statement["q"]?.document ?? [:]
            let one = statement["limit"]?.integer == 1
            if one, let index = documents.firstIndex(where: { MongoQuery.matches($0, filter) }) {
                documents.remove(at: index)
                removed += 1
            } else if !one {
                let before = documents.count
                documents.removeAll { MongoQuery.matches($0, filter) }
                removed += before - documents.count
            }
        }
        context.store.replace(context.database, collection, with: documents)
        return (["n": .int32(Int32(removed)), "ok": .double(1)], [self.write(context, collection, "delete", removed)])
    }

    /// `$match`, `$skip`, `$limit`, `$project`, `$count` and a `$group` that counts: what drivers' helpers
    /// (count_documents) and dump scripts send.
    static func aggregate(_ command: BSONDocument, _ context: Context) -> BSONDocument {
        let collection = command["aggregate"]?.string ?? ""
        var documents = context.store.documents(context.database, collection) ?? []
        guard case .array(let stages) = command["pipeline"] ?? .array([]) else {
            return MongoServer.error(14, "TypeMismatch", "'pipeline' option must be specified as an array")
        }
        for stage in stages.prefix(32).compactMap(\.document) {
            guard let (name, argument) = stage.elements.first else { continue }
            switch name {
            case "$match": documents = documents.filter { MongoQuery.matches($0, argument.document ?? [:]) }
            case "$skip": documents = Array(documents.dropFirst(max(0, argument.integer ?? 0)))
            case "$limit": documents = Array(documents.prefix(max(0, argument.integer ?? 0)))
            case "$project": documents = documents.map { MongoQuery.project($0, argument.document) }
            case "$count":
                documents = documents.isEmpty ? [] : [[argument.string ?? "count": .int32(Int32(documents.count))]]
            case "$group":
                let group = argument.document ?? [:]
                var result: BSONDocument = ["_id": group["_id"] ?? .null]
                for (key, accumulator) in group.elements where key != "_id" {
                    if accumulator.document?["$sum"]?.integer == 1 { result[key] = .int32(Int32(documents.count)) }
                }
                documents = documents.isEmpty ? [] : [result]
            default: continue
            }
        }
        let namespace = "\(context.database).\(collection.isEmpty ? "$cmd.aggregate" : collection)"
        return self.cursor(namespace, documents.prefix(1_000).map(BSONValue.document))
    }

    static func size(of database: MongoStore.Database) -> Int64 {
        let bytes = database.collections.reduce(0) { $0 + $1.documents.reduce(0) { $0 + $1.bson.count } }
        return Int64(8_192 * (database.collections.count + 1) + (bytes + 4_095) / 4_096 * 4_096)
    }

    static func uuid(_ name: String, _ context: Context) -> [UInt8] {
        var bytes = Array(SHA256.hash(data: context.configuration.saltSeed + Array(name.utf8)).prefix(16))
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return bytes
    }

    // MARK: - Server information

    static func buildInfo(_ version: MongoVersion) -> BSONDocument {
        let gitVersion = SHA256.hash(data: Array("mongodb-r\(version.text)".utf8)).prefix(20)
            .map { String(format: "%02x", $0) }.joined()
        let versionArray = (version.parts + [0, 0, 0, 0]).prefix(4).map { BSONValue.int32(Int32($0)) }
        let openssl = version.major >= 6 ? "OpenSSL 3.0.2 15 Mar 2022" : "OpenSSL 1.1.1f  31 Mar 2020"
        return [
            "version": .string(version.text), "gitVersion": .string(gitVersion), "modules": .array([]),
            "allocator": .string("tcmalloc"), "javascriptEngine": .string("mozjs"), "sysInfo": .string("deprecated"),
            "versionArray": .array(versionArray),
            "openssl": .document(["running": .string(openssl), "compiled": .string(openssl)]),
            "buildEnvironment": .document([
                "distmod": .string(version.major >= 6 ? "ubuntu2204" : "ubuntu2004"), "distarch": .string("x86_64"),
                "cc": .string("/opt/mongodbtoolchain/v4/bin/gcc: gcc (GCC) 11.3.0"), "target_arch": .string("x86_64"),
                "target_os": .string("linux"),
            ]),
            "bits": .int32(64), "debug": .bool(false), "maxBsonObjectSize": .int32(16_777_216),
            "storageEngines": .array([.string("devnull"), .string("wiredTiger")]), "ok": .double(1),
        ]
    }

    static func serverStatus(_ context: Context) -> BSONDocument {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let uptime = context.uptime
        return [
            "host": .string(context.configuration.hostname), "version": .string(context.configuration.version.text),
            "process": .string("mongod"), "pid": .int64(Int64(context.configuration.pid)),
            "uptime": .double(uptime.rounded()), "uptimeMillis": .int64(Int64(uptime * 1000)),
            "uptimeEstimate": .int64(Int64(uptime)), "localTime": .datetime(now),
            "asserts": .document([
                "regular": .int32(0), "warning": .int32(0), "msg": .int32(0), "user": .int32(Int32(uptime / 3_600)),
                "rollovers": .int32(0),
            ]),
            "connections": .document([
                "current": .int32(3), "available": .int32(838_857), "totalCreated": .int32(context.connectionID),
                "active": .int32(2),
            ]),
            "mem": .document([
                "bits": .int32(64), "resident": .int32(178), "virtual": .int32(1_532), "supported": .bool(true),
            ]),
            "storageEngine": .document([
                "name": .string("wiredTiger"), "supportsCommittedReads": .bool(true), "persistent": .bool(true),
            ]),
            "ok": .double(1),
        ]
    }

    static func hostInfo(_ context: Context) -> BSONDocument {
        [
            "system": .document([
                "currentTime": .datetime(Int64(Date().timeIntervalSince1970 * 1000)),
                "hostname": .string(context.configuration.hostname), "cpuAddrSize": .int32(64),
                "memSizeMB": .int64(7_951), "numCores": .int32(4), "cpuArch": .string("x86_64"),
                "numaEnabled": .bool(false),
            ]),
            "os": .document([
                "type": .string("Linux"), "name": .string("Ubuntu"),
                "version": .string(context.configuration.version.major >= 6 ? "22.04" : "20.04"),
            ]),
            "ok": .double(1),
        ]
    }

    static func commandLine(_ context: Context) -> BSONDocument {
        [
            "argv": .array([.string("/usr/bin/mongod"), .string("--config"), .string("/etc/mongod.conf")]),
            "parsed": .document([
                "config": .string("/etc/mongod.conf"),
                "net": .document(["bindIp": .string("0.0.0.0"), "port": .int32(Int32(context.configuration.port))]),
                "processManagement": .document(["timeZoneInfo": .string("/usr/share/zoneinfo")]),
                "storage": .document(["dbPath": .string("/var/lib/mongodb")]),
                "systemLog": .document([
                    "destination": .string("file"), "logAppend": .bool(true),
                    "path": .string("/var/log/mongodb/mongod.log"),
                ]),
            ]),
            "ok": .double(1),
        ]
    }
}
