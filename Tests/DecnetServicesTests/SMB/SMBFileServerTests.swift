import DecnetCore
import DecnetServiceKit
import Testing

@testable import DecnetServices

/// The SMB server after a login: the recorded smbclient login (alice / Password1) is let in when the persona lists
/// the account, then requests built here walk the shares, and hostile ones meet errors, never a crash.
@Suite struct SMBFileServerTests {
    static let replay = "smbclient-alice-Password1-c6800d1060d9d1bc"

    static func machine(users: String = "alice:Password1", guest: Bool = false) throws -> SMBStateMachine {
        let (_, _, challenge) = try SMBTests.replay(Self.replay)
        let identity = SMBTests.windows2019
        return SMBStateMachine(
            configuration: SMBService.Configuration(
                identity: identity,
                signingRequired: false,
                domainController: false,
                serverGUID: [UInt8](repeating: 0xAB, count: 16),
                users: AcceptedCredentials(users),
                guest: guest,
                shares: SMBShares(identity: identity, persona: [:], domainController: false)
            ),
            netbiosSession: false,
            random: { challenge },
            now: { 133_777_000_000_000_000 }
        )
    }

    /// A machine the recorded smbclient has logged in to, and the session id it holds.
    static func loggedIn() throws -> (SMBStateMachine, UInt64, [SMBStateMachine.Action]) {
        var machine = try Self.machine()
        let actions = SMBTests.run(&machine, try SMBTests.replay(Self.replay).frames)
        let session = try #require(machine.loggedIn.keys.first)
        return (machine, session, actions)
    }

    // MARK: Request builders

    static func request(
        _ command: SMB2Command,
        session: UInt64,
        tree: UInt32 = 0,
        id: UInt64 = 10,
        flags: UInt32 = 0,
        next: UInt32 = 0,
        _ body: [UInt8]
    ) -> [UInt8] {
        var out = SMB2Header.protocolID
        out.appendLE16(64)
        out.appendLE16(1)
        out.appendLE32(0)
        out.appendLE16(command.rawValue)
        out.appendLE16(8)
        out.appendLE32(flags)
        out.appendLE32(next)
        out.appendLE64(id)
        out.appendLE32(0xFEFF)
        out.appendLE32(tree)
        out.appendLE64(session)
        return out + [UInt8](repeating: 0, count: 16) + body
    }

    static func utf16(_ text: String) -> [UInt8] { NTLM.encode(text, true) }

    static func treeConnect(_ path: String) -> [UInt8] {
        let name = Self.utf16(path)
        var body: [UInt8] = [9, 0, 0, 0]
        body.appendLE16(72)
        body.appendLE16(UInt16(name.count))
        return body + name
    }

    static func create(
        _ name: String,
        access: UInt32 = 0x0012_0089,
        disposition: UInt32 = 1,
        options: UInt32 = 0
    ) -> [UInt8] {
        let encoded = Self.utf16(name)
        var body: [UInt8] = [57, 0, 0, 0]
        body.appendLE32(2)
        body += [UInt8](repeating: 0, count: 16)
        body.appendLE32(access)
        body.appendLE32(0)
        body.appendLE32(7)
        body.appendLE32(disposition)
        body.appendLE32(options)
        body.appendLE16(120)
        body.appendLE16(UInt16(encoded.count))
        body.appendLE32(0)
        body.appendLE32(0)
        return body + (encoded.isEmpty ? [0] : encoded)
    }

    static func fileID(_ id: UInt64) -> [UInt8] { id.littleEndianBytes + id.littleEndianBytes }

    static func read(_ file: UInt64, length: UInt32 = 65_536, offset: UInt64 = 0) -> [UInt8] {
        var body: [UInt8] = [49, 0, 0x50, 0]
        body.appendLE32(length)
        body.appendLE64(offset)
        body += Self.fileID(file)
        body += [UInt8](repeating: 0, count: 17)
        return body
    }

    static func write(_ file: UInt64, _ data: [UInt8]) -> [UInt8] {
        var body: [UInt8] = [49, 0]
        body.appendLE16(112)
        body.appendLE32(UInt32(data.count))
        body.appendLE64(0)
        body += Self.fileID(file)
        body += [UInt8](repeating: 0, count: 16)
        return body + data
    }

    static func ioctl(_ code: UInt32, _ file: UInt64, _ input: [UInt8]) -> [UInt8] {
        var body: [UInt8] = [57, 0, 0, 0]
        body.appendLE32(code)
        body += Self.fileID(file)
        body.appendLE32(120)
        body.appendLE32(UInt32(input.count))
        body.appendLE32(0)
        body.appendLE32(0)
        body.appendLE32(0)
        body.appendLE32(65_536)
        body.appendLE32(1)
        body.appendLE32(0)
        return body + input
    }

    static func queryDirectory(
        _ file: UInt64,
        infoClass: UInt8 = 0x25,
        flags: UInt8 = 0,
        pattern: String = "*"
    ) -> [UInt8] {
        let name = Self.utf16(pattern)
        var body: [UInt8] = [33, 0, infoClass, flags, 0, 0, 0, 0]
        body += Self.fileID(file)
        body.appendLE16(96)
        body.appendLE16(UInt16(name.count))
        body.appendLE32(65_536)
        return body + name
    }

    static func queryInfo(_ file: UInt64, type: UInt8, infoClass: UInt8) -> [UInt8] {
        var body: [UInt8] = [41, 0, type, infoClass]
        body.appendLE32(65_536)
        body += [UInt8](repeating: 0, count: 16)
        return body + Self.fileID(file)
    }

    static func close(_ file: UInt64) -> [UInt8] { [24, 0, 1, 0, 0, 0, 0, 0] + Self.fileID(file) }

    /// Sends one request; the (unframed) replies.
    static func send(
        _ machine: inout SMBStateMachine,
        _ message: [UInt8]
    ) -> (replies: [[UInt8]], actions: [SMBStateMachine.Action]) {
        let actions = machine.received(.message(message))
        return (SMBTests.sent(actions).map { Array($0.dropFirst(4)) }, actions)
    }

    static func status(_ reply: [UInt8]) -> UInt32 { reply.le32(8) }

    static func events(_ actions: [SMBStateMachine.Action], _ id: EventID) -> [[String: String]] {
        SMBTests.events(actions, id).map {
            Dictionary($0.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// A DCE/RPC PDU of this type and body.
    static func rpc(_ type: UInt8, callID: UInt32, _ body: [UInt8]) -> [UInt8] {
        SRVSVCPipe.pdu(type: type, callID: callID, body: body)
    }

    static func bind(syntaxes: [[UInt8]]) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLE16(4280)
        body.appendLE16(4280)
        body.appendLE32(0)
        body += [UInt8(syntaxes.count), 0, 0, 0]
        for (index, syntax) in syntaxes.enumerated() {
            body.appendLE16(UInt16(index))
            body += [1, 0]
            body += SRVSVCPipe.abstractSyntax + [3, 0, 0, 0]
            body += syntax
        }
        return Self.rpc(11, callID: 1, body)
    }

    static let ndr = SRVSVCPipe.ndr + [2, 0, 0, 0]
    static let ndr64: [UInt8] = [
        0x33, 0x05, 0x71, 0x71, 0xBA, 0xBE, 0x37, 0x49, 0x83, 0x19, 0xB5, 0xDB, 0xEF, 0x9C, 0xCC, 0x36, 1, 0, 0, 0,
    ]
    static let bindTimeFeatures = SRVSVCPipe.bindTimeFeaturePrefix + [3, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0]

    static func shareEnumRequest(level: UInt32, server: String = "\\\\10.0.0.5") -> [UInt8] {
        var stub: [UInt8] = []
        stub.appendLE32(0x0002_0000)
        let units = Array(server.utf16) + [0]
        stub.appendLE32(UInt32(units.count))
        stub.appendLE32(0)
        stub.appendLE32(UInt32(units.count))
        for unit in units { stub.appendLE16(unit) }
        while stub.count % 4 != 0 { stub.append(0) }
        stub.appendLE32(level)
        stub.appendLE32(level)
        stub.appendLE32(0x0002_0004)
        stub.appendLE32(0)
        stub.appendLE32(0)
        stub.appendLE32(0xFFFF_FFFF)
        stub.appendLE32(0)
        var body: [UInt8] = []
        body.appendLE32(UInt32(stub.count))
        body.appendLE16(0)
        body.appendLE16(15)
        return Self.rpc(0, callID: 2, body + stub)
    }

    /// The share names and types of a NetrShareEnum level-1 reply stub (pointers, then the deferred strings).
    static func decodeShares(_ stub: [UInt8]) -> [(name: String, type: UInt32)] {
        let count = Int(stub.le32(12))
        var at = 24
        var types: [UInt32] = []
        for _ in 0..<count {
            types.append(stub.le32(at + 4))
            at += 12
        }
        var names: [String] = []
        for _ in 0..<(2 * count) {
            let units = Int(stub.le32(at + 8))
            let text = NTLM.decode(Array(stub[(at + 12)..<(at + 12 + 2 * units)]), .unicode)
            names.append(String(text.dropLast()))
            at = (at + 12 + 2 * units + 3) & ~3
        }
        return zip(stride(from: 0, to: names.count, by: 2).map { names[$0] }, types).map { ($0, $1) }
    }

    // MARK: Tests

    @Test func aLoginThePersonaAcceptsOpensASignedSession() throws {
        let (_, _, actions) = try Self.loggedIn()
        let login = try #require(Self.events(actions, .loginSuccess).first)
        #expect(login["username"] == "alice" && login["login_type"] == "user" && login["password"] == "Password1")
        #expect(login["dialect"] == "3.1.1" && login["hashcat_mode"] == "5600")
        let reply = Array(try #require(SMBTests.sent(actions).last).dropFirst(4))
        #expect(Self.status(reply) == 0 && reply.le16(12) == 1)
        #expect(reply.le32(16) & 0x08 != 0, "a 3.1.1 session's final SESSION_SETUP response is signed")
        #expect(reply[48..<64].contains { $0 != 0 })
        #expect(reply.le16(66) == 0, "neither guest nor null")
    }

    @Test func aWrongPasswordForAListedUserIsStillRefused() throws {
        var machine = try Self.machine(users: "alice:Password2")
        let actions = SMBTests.run(&machine, try SMBTests.replay(Self.replay).frames)
        #expect(Self.events(actions, .loginSuccess).isEmpty && Self.events(actions, .loginFailed).count == 1)
        #expect(machine.loggedIn.isEmpty)
    }

    @Test func aWildcardPasswordOrSMBGuestGivesAGuestSessionThatCannotSign() throws {
        for (users, guest) in [("alice:*", false), ("", true)] {
            var machine = try Self.machine(users: users, guest: guest)
            let actions = SMBTests.run(&machine, try SMBTests.replay(Self.replay).frames)
            #expect(Self.events(actions, .loginSuccess).first?["login_type"] == "guest")
            let reply = Array(try #require(SMBTests.sent(actions).last).dropFirst(4))
            #expect(reply.le16(66) == 1 && reply.le32(16) & 0x08 == 0)
        }
    }

    @Test func theShareTableIsListedOverSRVSVC() throws {
        var (machine, session, _) = try Self.loggedIn()
        let tree = Self.send(
            &machine,
            Self.request(.treeConnect, session: session, Self.treeConnect("\\\\10.0.0.5\\IPC$"))
        )
        let treeReply = try #require(tree.replies.first)
        #expect(Self.status(treeReply) == 0 && treeReply[66] == 2, "IPC$ is a pipe share")
        let treeID = treeReply.le32(36)
        let open = try #require(
            Self.send(&machine, Self.request(.create, session: session, tree: treeID, Self.create("srvsvc"))).replies
                .first
        )
        #expect(Self.status(open) == 0)
        let pipe = open.le64(64 + 64 + 8)
        let wrote = Self.send(
            &machine,
            Self.request(
                .write,
                session: session,
                tree: treeID,
                Self.write(pipe, Self.bind(syntaxes: [Self.ndr, Self.ndr64, Self.bindTimeFeatures]))
            )
        )
        #expect(wrote.replies.first.map(Self.status) == 0)
        let ack = try #require(
            Self.send(&machine, Self.request(.read, session: session, tree: treeID, Self.read(pipe))).replies.first
        )
        let pdu = Array(ack[(64 + 16)...])
        #expect(pdu[2] == 12, "bind_ack")
        let results = Array(pdu[(pdu.count - 3 * 24)...])
        #expect(
            results.le16(0) == 0 && results.le16(24) == 2 && results.le16(48) == 3,
            "NDR accepted, NDR64 refused, features acknowledged"
        )
        let call = Self.send(
            &machine,
            Self.request(
                .ioctl,
                session: session,
                tree: treeID,
                Self.ioctl(0x0011_C017, pipe, Self.shareEnumRequest(level: 1))
            )
        )
        let reply = try #require(call.replies.first)
        #expect(Self.status(reply) == 0)
        let response = Array(reply[(64 + 48)...])
        #expect(response[2] == 2, "a DCE/RPC response")
        let stub = Array(response[24...])
        let shares = Self.decodeShares(stub)
        #expect(shares.map(\.name) == ["ADMIN$", "C$", "IPC$", "Shared"])
        #expect(shares.map(\.type) == [0x8000_0000, 0x8000_0000, 0x8000_0003, 0])
        #expect(stub.suffix(4) == [0, 0, 0, 0], "WERR_OK")
        #expect(Self.events(call.actions, .commandInput).first?["command"] == "srvsvc.NetrShareEnum")
        // An administrator's level is refused with ERROR_ACCESS_DENIED, as to a non-administrator on Windows.
        let denied = try #require(
            Self.send(
                &machine,
                Self.request(
                    .ioctl,
                    session: session,
                    tree: treeID,
                    Self.ioctl(0x0011_C017, pipe, Self.shareEnumRequest(level: 502))
                )
            ).replies.first
        )
        #expect(denied.suffix(4) == [5, 0, 0, 0])
    }

    @Test func baitFilesAreListedAndReadAndEveryAccessIsAnEvent() throws {
        var (machine, session, _) = try Self.loggedIn()
        #expect(
            Self.send(&machine, Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\C$"))).replies
                .first.map(Self.status) == NTStatus.accessDenied
        )
        #expect(
            Self.send(&machine, Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\Payroll")))
                .replies.first.map(Self.status) == NTStatus.badNetworkName
        )
        let tree = try #require(
            Self.send(&machine, Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\shared")))
                .replies.first
        )
        #expect(Self.status(tree) == 0 && tree[66] == 1)
        let treeID = tree.le32(36)
        let directory = try #require(
            Self.send(&machine, Self.request(.create, session: session, tree: treeID, Self.create("IT", options: 1)))
                .replies.first
        )
        let dirID = directory.le64(64 + 64 + 8)
        let listing = Self.send(
            &machine,
            Self.request(.queryDirectory, session: session, tree: treeID, Self.queryDirectory(dirID))
        )
        let entries = try #require(listing.replies.first)
        #expect(Self.status(entries) == 0)
        var names: [String] = []
        var at = 64 + 8
        while true {
            let length = Int(entries.le32(at + 60))
            names.append(NTLM.decode(Array(entries[(at + 104)..<(at + 104 + length)]), .unicode))
            let next = Int(entries.le32(at))
            if next == 0 { break }
            at += next
            #expect(at % 8 == 0)
        }
        #expect(names == [".", "..", "network-notes.txt", "service-accounts.txt"])
        #expect(Self.events(listing.actions, .commandInput).first?["command"] == "QUERY_DIRECTORY")
        #expect(
            Self.send(
                &machine,
                Self.request(.queryDirectory, session: session, tree: treeID, Self.queryDirectory(dirID))
            ).replies.first.map(Self.status) == NTStatus.noMoreFiles
        )
        #expect(
            Self.send(
                &machine,
                Self.request(
                    .queryDirectory,
                    session: session,
                    tree: treeID,
                    Self.queryDirectory(dirID, flags: 1, pattern: "*.exe")
                )
            ).replies.first.map(Self.status) == NTStatus.noSuchFile
        )

        let file = try #require(
            Self.send(
                &machine,
                Self.request(.create, session: session, tree: treeID, Self.create("IT\\Service-Accounts.txt"))
            ).replies.first
        )
        #expect(Self.status(file) == 0)
        let fileID = file.le64(64 + 64 + 8)
        let size = Int(file.le64(64 + 48))
        let first = Self.send(
            &machine,
            Self.request(.read, session: session, tree: treeID, Self.read(fileID, length: 10))
        )
        let second = Self.send(
            &machine,
            Self.request(.read, session: session, tree: treeID, Self.read(fileID, offset: 10))
        )
        let text = String(
            decoding: Array(try #require(first.replies.first)[80...])
                + Array(try #require(second.replies.first)[80...]),
            as: UTF8.self
        )
        #expect(text.utf8.count == size && text.contains("svc_backup   CORP\\svc_backup   Backup2023!"))
        let download = try #require(Self.events(first.actions, .fileDownload).first)
        #expect(
            download["filename"] == "IT\\service-accounts.txt"
                && download["url"] == "smb://SRV01/Shared/IT/service-accounts.txt"
        )
        #expect(Self.events(second.actions, .fileDownload).isEmpty, "one download event per open")
        #expect(
            Self.send(&machine, Self.request(.read, session: session, tree: treeID, Self.read(fileID, offset: 4096)))
                .replies.first.map(Self.status) == NTStatus.endOfFile
        )

        // Read-only: a write open, an upload and a delete are refused, and recorded.
        for (name, access, disposition) in [
            ("readme.txt", UInt32(0x0012_0116), UInt32(1)), ("dropper.exe", 0x0012_0116, 5), ("IT", 0x0001_0080, 1),
        ] {
            let refused = Self.send(
                &machine,
                Self.request(
                    .create,
                    session: session,
                    tree: treeID,
                    Self.create(name, access: access, disposition: disposition)
                )
            )
            #expect(refused.replies.first.map(Self.status) == NTStatus.accessDenied, "\(name)")
            #expect(Self.events(refused.actions, .commandInput).first?["access"] == "0x" + String(access, radix: 16))
        }
        #expect(
            Self.send(&machine, Self.request(.create, session: session, tree: treeID, Self.create("nope.txt"))).replies
                .first.map(Self.status) == NTStatus.objectNameNotFound
        )
        #expect(
            Self.send(&machine, Self.request(.create, session: session, tree: treeID, Self.create("nope\\x.txt")))
                .replies.first.map(Self.status) == NTStatus.objectPathNotFound
        )
        #expect(
            Self.send(&machine, Self.request(.close, session: session, tree: treeID, Self.close(fileID))).replies.first
                .map(Self.status) == 0
        )
        #expect(
            Self.send(&machine, Self.request(.read, session: session, tree: treeID, Self.read(fileID))).replies.first
                .map(Self.status) == NTStatus.fileClosed
        )
    }

    /// CREATE + QUERY_INFO + CLOSE as one related compound (as Windows and Samba clients send them): three
    /// responses chained, each 8-byte aligned and marked related, the later two on the FileId the CREATE made.
    @Test func relatedCompoundRequestsShareTheirCreatesFileID() throws {
        var (machine, session, _) = try Self.loggedIn()
        let tree = try #require(
            Self.send(&machine, Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\Shared")))
                .replies.first
        )
        let treeID = tree.le32(36)
        var first = Self.request(.create, session: session, tree: treeID, Self.create("readme.txt"))
        while first.count % 8 != 0 { first.append(0) }
        first.replaceSubrange(20..<24, with: UInt32(first.count).littleEndianBytes)
        var second = Self.request(
            .queryInfo,
            session: 0,
            id: 11,
            flags: 0x4,
            Self.queryInfo(.max, type: 1, infoClass: 5)
        )
        while second.count % 8 != 0 { second.append(0) }
        second.replaceSubrange(20..<24, with: UInt32(second.count).littleEndianBytes)
        let third = Self.request(.close, session: 0, id: 12, flags: 0x4, Self.close(.max))
        let (replies, _) = Self.send(&machine, first + second + third)
        let chain = try #require(replies.first)
        var at = 0
        var statuses: [UInt32] = []
        var commands: [UInt16] = []
        while true {
            statuses.append(chain.le32(at + 8))
            commands.append(chain.le16(at + 12))
            let next = Int(chain.le32(at + 20))
            if next == 0 { break }
            #expect(next % 8 == 0)
            if at > 0 { #expect(chain.le32(at + 16) & 0x4 != 0) }
            at += next
        }
        #expect(commands == [5, 16, 6] && statuses == [0, 0, 0])
        #expect(machine.opens.isEmpty, "the CLOSE closed what the CREATE opened")
    }

    @Test func encryptedRequestsAreAnsweredEncrypted() throws {
        for cipher: UInt16 in [1, 2] {
            let key = (0..<16).map { UInt8($0) }
            let server = try #require(SMBEncryption(sessionKey: key, dialect: 0x0302, cipher: cipher, preauthHash: []))
            let message = Array("an SMB2 message, or anything else".utf8)
            let sealed = server.encrypt(message, sessionID: 77, nonce: Array(repeating: 9, count: 16))
            #expect(SMBEncryption.sessionID(sealed) == 77)
            // The client decrypts with the server's out key: swap them to read back what the server wrote.
            let (ciphertext, tag) = (Array(sealed[52...]), Array(sealed[4..<20]))
            let opened = SMBEncryption.open(
                cipher: cipher,
                key: server.serverOut,
                nonce: Array(sealed[20..<36]),
                aad: Array(sealed[20..<52]),
                ciphertext: ciphertext,
                tag: tag
            )
            #expect(opened == message)
            var tampered = sealed
            tampered[60] ^= 1
            #expect(
                SMBEncryption.open(
                    cipher: cipher,
                    key: server.serverOut,
                    nonce: Array(sealed[20..<36]),
                    aad: Array(sealed[20..<52]),
                    ciphertext: Array(tampered[52...]),
                    tag: tag
                ) == nil
            )
        }
        // A transform header for a session nobody has, or one that does not authenticate, closes the connection.
        var (machine, session, _) = try Self.loggedIn()
        var junk = SMBEncryption.protocolID + [UInt8](repeating: 0, count: 48) + Array(repeating: 0x41, count: 80)
        junk.replaceSubrange(36..<40, with: UInt32(80).littleEndianBytes)
        junk.replaceSubrange(44..<52, with: session.littleEndianBytes)
        let actions = machine.received(.message(junk))
        #expect(actions.contains(.close) && !Self.events(actions, .clientMalformed).isEmpty)
    }

    @Test func wildcardsMatchAsWindowsMatchesThem() {
        #expect(SMBStateMachine.matches("readme.txt", pattern: "*"))
        #expect(SMBStateMachine.matches("readme.txt", pattern: "*.TXT"))
        #expect(SMBStateMachine.matches("readme.txt", pattern: "read?e.txt"))
        #expect(!SMBStateMachine.matches("readme.txt", pattern: "*.exe"))
        #expect(!SMBStateMachine.matches("readme.txt", pattern: String(repeating: "*a", count: 200)))
    }

    /// Requests after the login whose fields lie (offsets and lengths outside the message, absurd strings, broken
    /// RPC, chains that point past the end) get an error or a close, and never crash.
    @Test func hostileRequestsAfterALoginMeetErrors() throws {
        var (machine, session, _) = try Self.loggedIn()
        let tree = try #require(
            Self.send(&machine, Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\IPC$")))
                .replies.first
        )
        let treeID = tree.le32(36)
        let pipe = try #require(
            Self.send(&machine, Self.request(.create, session: session, tree: treeID, Self.create("srvsvc"))).replies
                .first
        ).le64(136)
        var lyingCreate = Self.create("srvsvc")
        lyingCreate.replaceSubrange(46..<48, with: UInt16(0xFFF0).littleEndianBytes)
        var lyingWrite = Self.write(pipe, [1, 2, 3])
        lyingWrite.replaceSubrange(4..<8, with: UInt32(0xFFFF_FFF0).littleEndianBytes)
        var lyingIoctl = Self.ioctl(0x0011_C017, pipe, [5, 0, 0])
        lyingIoctl.replaceSubrange(28..<32, with: UInt32(0x7FFF_FFFF).littleEndianBytes)
        var hugeName = Self.shareEnumRequest(level: 1)
        hugeName.replaceSubrange(36..<40, with: UInt32(0x7FFF_FFFF).littleEndianBytes)
        let cases: [[UInt8]] = [
            Self.request(.create, session: session, tree: treeID, lyingCreate),
            Self.request(.create, session: session, tree: treeID, Array(Self.create("x").prefix(20))),
            Self.request(.write, session: session, tree: treeID, lyingWrite),
            Self.request(.ioctl, session: session, tree: treeID, lyingIoctl),
            Self.request(
                .ioctl,
                session: session,
                tree: treeID,
                Self.ioctl(0x0011_C017, pipe, [5, 0, 11, 3, 0x10, 0, 0, 0, 0xFF, 0xFF])
            ),
            Self.request(
                .ioctl,
                session: session,
                tree: treeID,
                Self.ioctl(0x0011_C017, pipe, Array(Self.bind(syntaxes: [Self.ndr]).prefix(40)))
            ),
            Self.request(.ioctl, session: session, tree: treeID, Self.ioctl(0x0011_C017, pipe, hugeName)),
            Self.request(.queryDirectory, session: session, tree: treeID, Self.queryDirectory(pipe)),
            Self.request(.queryInfo, session: session, tree: treeID, Self.queryInfo(pipe, type: 9, infoClass: 200)),
            Self.request(.read, session: session, tree: treeID, Self.read(pipe, length: .max, offset: .max)),
            Self.request(.close, session: session, tree: treeID, Array(Self.close(pipe).prefix(4))),
            Self.request(.setInfo, session: session, tree: treeID, [33, 0]),
            Self.request(.queryDirectory, session: session, tree: 999, Self.queryDirectory(.max)),
        ]
        for message in cases {
            let (replies, actions) = Self.send(&machine, message)
            #expect(replies.count == 1 && !actions.contains(.close), "\(message.count) bytes")
            #expect(replies.first.map(Self.status) != 0 || message[12] == 11, "\(message.count) bytes")
        }
        // A chain whose NextCommand points past its end closes the connection.
        var chain = Self.request(.echo, session: session, [4, 0, 0, 0])
        chain.replaceSubrange(20..<24, with: UInt32(4096).littleEndianBytes)
        #expect(machine.received(.message(chain)).contains(.close))
    }

    /// Random mutations of a whole session (login, tree connects, opens, listings, reads, RPC) never crash.
    @Test func mutatedSessionsNeverCrashTheMachine() throws {
        let login = try SMBTests.replay(Self.replay).frames
        var generator = SeededGenerator(seed: 0x5B3C)
        var runs = 0
        for _ in 0..<300 {
            var machine = try Self.machine()
            _ = SMBTests.run(&machine, login)
            guard let session = machine.loggedIn.keys.first else { continue }
            var messages = [
                Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\IPC$")),
                Self.request(.create, session: session, tree: 1, Self.create("srvsvc")),
                Self.request(
                    .write,
                    session: session,
                    tree: 1,
                    Self.write(0x0000_0400_0000_0001, Self.bind(syntaxes: [Self.ndr]))
                ),
                Self.request(
                    .ioctl,
                    session: session,
                    tree: 1,
                    Self.ioctl(0x0011_C017, 0x0000_0400_0000_0001, Self.shareEnumRequest(level: 1))
                ),
                Self.request(.treeConnect, session: session, Self.treeConnect("\\\\srv01\\Shared")),
                Self.request(.create, session: session, tree: 2, Self.create("IT", options: 1)),
                Self.request(.queryDirectory, session: session, tree: 2, Self.queryDirectory(0x0000_0400_0000_0002)),
                Self.request(
                    .queryInfo,
                    session: session,
                    tree: 2,
                    Self.queryInfo(0x0000_0400_0000_0002, type: 2, infoClass: 5)
                ),
                Self.request(.read, session: session, tree: 2, Self.read(0x0000_0400_0000_0002)),
            ]
            let index = Int.random(in: 0..<messages.count, using: &generator)
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let at = Int.random(in: 0..<messages[index].count, using: &generator)
                messages[index][at] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) {
                messages[index] = Array(
                    messages[index].prefix(Int.random(in: 0..<messages[index].count, using: &generator))
                )
            }
            for message in messages { _ = machine.received(.message(message)) }
            runs += 1
        }
        #expect(runs == 300)
    }
}
