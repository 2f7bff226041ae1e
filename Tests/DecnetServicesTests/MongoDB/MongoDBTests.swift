import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// The mongodb emulator without sockets: BSON from hostile bytes, the wire framing, OP_QUERY by release, the
/// SCRAM conversation (checked against the RFC 5802 computation a driver does), and the ransom pattern on the
/// store.
@Suite struct MongoDBTests {
    static func server(
        version: String = "6.0.14",
        requireAuth: Bool = false,
        users: String = "admin:S3cure!Pass"
    ) -> MongoServer {
        MongoServer(
            configuration: MongoServer.Configuration(
                version: MongoVersion(version)!,
                requireAuth: requireAuth,
                users: AcceptedCredentials(users),
                hostname: "db-prod-01",
                port: 27017,
                processID: Array(repeating: 7, count: 12),
                saltSeed: Array(repeating: 9, count: 32),
                pid: 1_234
            ),
            store: MongoStore(
                MongoDataSet.databases(
                    seed: [1, 2, 3],
                    hostname: "db-prod-01",
                    featureVersion: "6.0",
                    now: 1_700_000_000_000
                )
            ),
            connectionID: 42,
            peer: "10.0.0.66:51000"
        ) { 1_000 }
    }

    static func opMsg(_ command: BSONDocument, id: Int32 = 1) -> MongoInbound {
        var body: [UInt8] = [0, 0, 0, 0, 0]
        body += command.bson
        return .message(requestID: id, responseTo: 0, opCode: MongoWire.opMsg, body: body)
    }

    static func opQuery(_ namespace: String, _ query: BSONDocument, id: Int32 = 1) -> MongoInbound {
        var body: [UInt8] = [0, 0, 0, 0] + Array(namespace.utf8) + [0] + [0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF]
        body += query.bson
        return .message(requestID: id, responseTo: 0, opCode: MongoWire.opQuery, body: body)
    }

    /// The reply document of an OP_MSG or OP_REPLY the server sent.
    static func reply(_ actions: [MongoServer.Action]) throws -> BSONDocument {
        let bytes = try #require(
            actions.compactMap { action -> [UInt8]? in
                if case .send(let bytes) = action { return bytes }
                return nil
            }.last
        )
        let opCode = Int32(bytes[12]) | Int32(bytes[13]) << 8
        let start = opCode == MongoWire.opMsg ? 16 + 5 : 16 + 20
        return try BSONDocument(bson: Array(bytes[start...]))
    }

    static func events(_ actions: [MongoServer.Action], _ id: EventID) -> [EventFields] {
        actions.compactMap { action in
            if case .emit(id, let fields) = action { return fields }
            return nil
        }
    }

    @Test func bsonRoundTripsEveryTypeAndRefusesHostileBytes() throws {
        let document: BSONDocument = [
            "d": .double(1.5), "s": .string("é"), "doc": .document(["a": .int32(1)]),
            "arr": .array([.int64(2), .null]), "bin": .binary(subtype: 4, [1, 2]), "oid": .objectID(Array(0..<12)),
            "b": .bool(true), "t": .datetime(1), "re": .regex(pattern: "^a", options: "i"), "ts": .timestamp(5),
            "dec": .decimal128(Array(repeating: 0, count: 16)), "min": .minKey, "max": .maxKey,
            "code": .javascriptWithScope("x", ["y": .int32(1)]),
        ]
        #expect(try BSONDocument(bson: document.bson) == document)
        let bytes = document.bson
        // Every truncation, and every single-byte corruption of the length fields, fails cleanly.
        for cut in 0..<bytes.count {
            #expect(throws: BSONReader.Failure.self) { try BSONDocument(bson: Array(bytes.prefix(cut))) }
        }
        for position in 0..<bytes.count {
            var corrupt = bytes
            corrupt[position] ^= 0xFF
            _ = try? BSONDocument(bson: corrupt)
        }
        // A string claiming two gigabytes, a negative binary length, nesting past mongod's limit.
        #expect(throws: BSONReader.Failure.self) {
            try BSONDocument(bson: [16, 0, 0, 0, 2, 0x61, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0x61, 0, 0, 0, 0])
        }
        #expect(throws: BSONReader.Failure.self) {
            try BSONDocument(bson: [13, 0, 0, 0, 5, 0x61, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0])
        }
        var nested: BSONDocument = [:]
        for _ in 0..<150 { nested = ["n": .document(nested)] }
        #expect(throws: BSONReader.Failure.tooDeep) { try BSONDocument(bson: nested.bson) }
    }

    @Test func framingAnswersHTTPAndClosesOnLengthsNoClientSends() throws {
        func frames(_ bytes: [UInt8]) throws -> [MongoInbound] {
            let channel = EmbeddedChannel(
                handler: ByteToMessageHandler(MongoMessageDecoder(), maximumBufferSize: 1 << 23)
            )
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            var out: [MongoInbound] = []
            while let frame = try channel.readInbound(as: MongoInbound.self) { out.append(frame) }
            _ = try? channel.finish()
            return out
        }
        let http = try frames(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        guard case .http = try #require(http.first) else {
            Issue.record("\(http)")
            return
        }
        var server = Self.server()
        let answer = server.received(http[0])
        #expect(answer.contains(.send(MongoWire.httpAnswer)) && answer.contains(.close))
        guard case .invalid = try #require(try frames([8, 0, 0, 0, 1, 2, 3, 4]).first) else {
            Issue.record("a length below the header")
            return
        }
        guard case .invalid = try #require(try frames([0, 0, 0, 0x7F] + Array(repeating: 0, count: 12)).first) else {
            Issue.record("two gigabytes")
            return
        }
        // Two messages in one read, then half of a third.
        let ping = MongoWire.message(to: 0, id: 1, document: ["ping": .int32(1), "$db": .string("admin")])
        #expect(try frames(ping + ping + ping.prefix(10)).count == 2)
    }

    /// A message cut off by the client's close is dropped without an error, as every decoder that conforms to
    /// `DropsIncompleteMessageAtEOF` does (NIO's default would raise "leftover data").
    @Test func aMessageCutOffAtEOFIsDroppedQuietly() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(MongoMessageDecoder(), maximumBufferSize: 1 << 20))
        let ping = MongoWire.message(to: 0, id: 1, document: ["ping": .int32(1), "$db": .string("admin")])
        try channel.writeInbound(ByteBuffer(bytes: ping + ping.prefix(10)))
        #expect(try channel.readInbound(as: MongoInbound.self) != nil)
        #expect(throws: Never.self) { _ = try channel.finish() }
    }

    /// nmap's -sV probe (OP_QUERY serverStatus on test.$cmd): a 4.4 persona answers with its version, as 4.4
    /// does, and matches nmap's line; a 6.0 persona refuses it with mongod's error.
    @Test func opQueryCommandsFollowThePersonasRelease() throws {
        let probe = Self.opQuery("test.$cmd", ["serverStatus": .int32(1)])
        var old = Self.server(version: "4.4.29")
        let status = try Self.reply(old.received(probe))
        #expect(status["version"] == .string("4.4.29") && status["process"] == .string("mongod"))
        var modern = Self.server()
        let refused = try Self.reply(modern.received(probe))
        #expect(refused["code"] == .int32(352) && refused["codeName"] == .string("UnsupportedOpQueryCommand"))
        // The legacy handshake still works on every release.
        let hello = try Self.reply(modern.received(Self.opQuery("admin.$cmd", ["isMaster": .int32(1)])))
        #expect(hello["ismaster"] == .bool(true) && hello["maxWireVersion"] == .int32(17))
        #expect(hello["topologyVersion"] != nil)
    }

    /// A client's whole SCRAM-SHA-256 and SCRAM-SHA-1 conversations as RFC 5802 has the client compute them:
    /// the right password logs in and the server's signature proves the server knew it; a wrong one fails and
    /// its capture lets exactly that password be confirmed offline.
    @Test(arguments: [SCRAMConversation.Mechanism.sha256, .sha1])
    func scramLogsInTheRightPasswordAndCapturesTheWrongOne(_ mechanism: SCRAMConversation.Mechanism) throws {
        for (password, accepted) in [("S3cure!Pass", true), ("hunter2", false)] {
            var server = Self.server(requireAuth: true)
            let clientNonce = "fyko+d2lbbFgONRv9qkxdawL"
            let first = "n,,n=admin,r=\(clientNonce)"
            let started = try Self.reply(
                server.received(
                    Self.opMsg([
                        "saslStart": .int32(1), "mechanism": .string(mechanism.rawValue),
                        "payload": .binary(subtype: 0, Array(first.utf8)), "autoAuthorize": .int32(1),
                        "options": .document(["skipEmptyExchange": .bool(true)]), "$db": .string("admin"),
                    ])
                )
            )
            let serverFirst = String(decoding: MongoServer.payload(started["payload"]), as: UTF8.self)
            let attributes = SCRAMConversation.attributes(serverFirst)
            let nonce = try #require(attributes["r"])
            #expect(nonce.hasPrefix(clientNonce) && nonce.count == clientNonce.count + 32)
            let salt = try #require(attributes["s"].flatMap { Data(base64Encoded: $0) })
            #expect(salt.count == mechanism.saltLength)
            #expect(attributes["i"] == String(mechanism.iterations))
            let withoutProof = "c=biws,r=\(nonce)"
            let authMessage = "n=admin,r=\(clientNonce),\(serverFirst),\(withoutProof)"
            let keys = SCRAMConversation.keys(
                mechanism: mechanism,
                user: "admin",
                password: password,
                salt: Array(salt)
            )
            let signature = SCRAMConversation.hmac(mechanism, key: keys.storedKey, Array(authMessage.utf8))
            let proof = Data(zip(keys.clientKey, signature).map { $0 ^ $1 }).base64EncodedString()
            let actions = server.received(
                Self.opMsg([
                    "saslContinue": .int32(1), "conversationId": .int32(1),
                    "payload": .binary(subtype: 0, Array("\(withoutProof),p=\(proof)".utf8)), "$db": .string("admin"),
                ])
            )
            let final = try Self.reply(actions)
            if accepted {
                #expect(final["done"] == .bool(true))
                let expected = SCRAMConversation.hmac(mechanism, key: keys.serverKey, Array(authMessage.utf8))
                let serverFinal = String(decoding: MongoServer.payload(final["payload"]), as: UTF8.self)
                #expect(serverFinal == "v=" + Data(expected).base64EncodedString())
                #expect(Self.events(actions, .loginSuccess).count == 1)
                let list = try Self.reply(
                    server.received(Self.opMsg(["listDatabases": .int32(1), "$db": .string("admin")]))
                )
                #expect(list["ok"] == .double(1))
            } else {
                #expect(final["code"] == .int32(18) && final["errmsg"] == .string("Authentication failed."))
                let capture = try #require(Self.events(actions, .loginFailed).first)
                #expect(capture.mongo("username") == "admin" && capture.mongo("method") == mechanism.rawValue)
                let captured = try #require(capture.mongo("salt").flatMap { Data(base64Encoded: $0) })
                for (guess, matches) in [("hunter2", true), ("hunter3", false)] {
                    #expect(
                        SCRAMConversation.proofMatches(
                            mechanism: mechanism,
                            user: "admin",
                            password: guess,
                            salt: Array(captured),
                            authMessage: capture.mongo("auth_message") ?? "",
                            proof: capture.mongo("proof") ?? ""
                        ) == matches
                    )
                }
                let refused = try Self.reply(
                    server.received(Self.opMsg(["listDatabases": .int32(1), "$db": .string("admin")]))
                )
                #expect(refused["code"] == .int32(13))
            }
        }
    }

    /// The same user gets the same salt on every attempt (a stored credential has one salt).
    @Test func aUsersSaltIsStableAcrossAttempts() throws {
        var salts: Set<String> = []
        for _ in 0..<3 {
            var server = Self.server()
            let reply = try Self.reply(
                server.received(
                    Self.opMsg([
                        "saslStart": .int32(1), "mechanism": .string("SCRAM-SHA-256"),
                        "payload": .binary(subtype: 0, Array("n,,n=root,r=abc".utf8)), "$db": .string("admin"),
                    ])
                )
            )
            let serverFirst = String(decoding: MongoServer.payload(reply["payload"]), as: UTF8.self)
            salts.insert(SCRAMConversation.attributes(serverFirst)["s"] ?? "")
        }
        #expect(salts.count == 1)
    }

    /// Dump, drop, leave a note: each step recorded, and the note is what a later client finds.
    @Test func theRansomPatternIsRecordedAndVisible() throws {
        var server = Self.server()
        let dump = server.received(
            Self.opMsg(["find": .string("customers"), "filter": .document([:]), "$db": .string("crm")])
        )
        let batch = try Self.reply(dump)["cursor"]?.document?["firstBatch"]
        guard case .array(let customers) = batch else {
            Issue.record("no batch")
            return
        }
        #expect(customers.count == 8)
        let drop = server.received(Self.opMsg(["dropDatabase": .int32(1), "$db": .string("crm")]))
        #expect(Self.events(drop, .payloadReceived).first?.mongo("write") == "dropDatabase")
        let note: BSONDocument = ["content": .string("All your data is backed up. Send 0.01 BTC to ...")]
        let insert = server.received(
            Self.opMsg([
                "insert": .string("README"), "documents": .array([.document(note)]),
                "$db": .string("READ_ME_TO_RECOVER"),
            ])
        )
        #expect(try Self.reply(insert)["n"] == .int32(1))
        let inputs = Self.events(insert, .commandInput)
        #expect(inputs.first?.mongo("input")?.contains("0.01 BTC") == true)
        let list = try Self.reply(
            server.received(Self.opMsg(["listDatabases": .int32(1), "nameOnly": .bool(true), "$db": .string("admin")]))
        )
        guard case .array(let names) = list["databases"] else {
            Issue.record("no databases")
            return
        }
        let shown = names.compactMap { $0.document?["name"]?.string }
        #expect(shown.contains("READ_ME_TO_RECOVER") && !shown.contains("crm"))
    }

    /// Limits of the most negative integers, whose magnitude is past the type (abs traps on them): read as "all"
    /// (found reading the code for the fuzzer's kind of finding).
    @Test func theMostNegativeLimitsReadAsAll() throws {
        var server = Self.server()
        let find = try Self.reply(
            server.received(
                Self.opMsg([
                    "find": .string("customers"), "limit": .int64(Int64.min), "$db": .string("crm"),
                ])
            )
        )
        guard case .array(let customers) = find["cursor"]?.document?["firstBatch"] else {
            Issue.record("no batch: \(find)")
            return
        }
        #expect(customers.count == 8)
        // OP_QUERY (a release before 5.1 serves it) with numberToReturn Int32.min.
        var old = Self.server(version: "4.4.29")
        let body: [UInt8] =
            [0, 0, 0, 0] + Array("crm.customers".utf8) + [0] + [0, 0, 0, 0] + [0, 0, 0, 0x80]
            + BSONDocument().bson
        let sent = old.received(.message(requestID: 1, responseTo: 0, opCode: MongoWire.opQuery, body: body))
        let bytes = try #require(
            sent.compactMap { action -> [UInt8]? in
                if case .send(let bytes) = action { return bytes }
                return nil
            }.last
        )
        // OP_REPLY: header (16), responseFlags (4), cursorID (8), startingFrom (4), numberReturned (4).
        #expect(bytes.count > 36 && bytes[32] == 8 && bytes[33...35] == [0, 0, 0])
    }

    /// Random and mutated messages of every op code: replies or closes, never a crash.
    @Test func hostileMessagesNeverCrashTheServer() throws {
        var generator = SystemRandomNumberGenerator()
        let seedMessages: [MongoInbound] = [
            Self.opMsg([
                "find": .string("users"), "filter": .document(["a": .document(["$gt": .int32(1)])]),
                "$db": .string("crm"),
            ]),
            Self.opQuery("admin.$cmd", ["isMaster": .int32(1), "client": .document(["driver": .document([:])])]),
        ]
        for _ in 0..<2_000 {
            let opCode = [MongoWire.opMsg, MongoWire.opQuery, MongoWire.opInsert, MongoWire.opGetMore, 2012, 9_999]
                .randomElement(using: &generator)!
            var body: [UInt8]
            if case .message(_, _, _, let seedBody) = seedMessages.randomElement(using: &generator)!,
                Bool.random(using: &generator)
            {
                body = seedBody
                for _ in 0..<Int.random(in: 1...4, using: &generator) where !body.isEmpty {
                    body[Int.random(in: 0..<body.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
            } else {
                body = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            }
            var server = Self.server(version: Bool.random(using: &generator) ? "4.4.29" : "7.0.5")
            _ = server.received(.message(requestID: 1, responseTo: 0, opCode: opCode, body: body))
        }
    }

    @Test func versionsMapToTheirWireVersions() {
        let table = [
            "3.6.23": 6, "4.0.28": 7, "4.2.25": 8, "4.4.29": 9, "5.0.26": 13, "6.0.14": 17, "7.0.5": 21, "8.0.4": 25,
        ]
        for (text, wire) in table { #expect(MongoVersion(text)?.wire == wire, "\(text)") }
        #expect(MongoVersion("banana") == nil && MongoVersion("2.6") == nil)
        #expect(MongoVersion("5.0.26")!.acceptsLegacyCommands && !MongoVersion("5.1.0")!.acceptsLegacyCommands)
    }
}

extension EventFields {
    fileprivate func mongo(_ name: String) -> String? { self.fields.first { $0.name == name }?.value }
}
