import DecnetCore
import DecnetServiceKit

/// SMB as a Windows (or Samba) server answers before anyone has logged in, without I/O: the NetBIOS session
/// request on 139, SMB1's multi-protocol NEGOTIATE and its upgrade to SMB2, SMB2/3 NEGOTIATE with the dialect,
/// contexts, times and SPNEGO token of the persona's release, and NTLM session setups, each captured as a hashcat
/// line and refused with STATUS_LOGON_FAILURE.
struct SMBStateMachine {
    /// What the connection does with one step's result.
    enum Action: Equatable {
        /// Write these bytes (already NBSS-framed).
        case send([UInt8])
        /// Raise this event.
        case emit(EventID, EventFields)
        /// Close after what was written.
        case close
    }

    /// Where the conversation is.
    enum State: Equatable {
        /// 139 only: waiting for the NBSS session request.
        case awaitingSessionRequest
        /// Waiting for the first NEGOTIATE (SMB1 or SMB2).
        case awaitingNegotiate
        /// SMB1 NEGOTIATE answered with dialect 2.???: waiting for the client's SMB2 NEGOTIATE.
        case awaitingSMB2Negotiate
        /// SMB2 dialect agreed.
        case negotiated(dialect: UInt16)
        /// SMB1's NT LM 0.12 agreed, with the challenge its basic session setups answer.
        case smb1(challenge: [UInt8])
        case closed
    }

    /// A session set up so far: the challenge sent, how the client wrapped its token, the mechanism list its
    /// mechListMIC will sign, and (3.1.1) the pre-authentication hash so far.
    struct PendingSession: Equatable {
        var serverChallenge: [UInt8]
        var wrapped: Bool
        var mechTypes: [UInt8]? = nil
        var preauth: [UInt8] = []
    }

    /// A session a login opened: who, how its messages are signed (nil for guest and anonymous sessions, which
    /// cannot sign), and its tree connects.
    struct Session: Equatable {
        var user: String
        var signing: SMBSigning?
        var signingRequired: Bool
        /// SMB 3 encryption, when a cipher was agreed and the login has a session key.
        var encryption: SMBEncryption?
        var trees: [UInt32: Int] = [:]
    }

    /// A file, directory or pipe a CREATE opened.
    struct Open: Equatable {
        var sessionID: UInt64
        var treeID: UInt32
        var share: Int
        var path: String
        var isDirectory: Bool
        var pipe: SRVSVCPipe?
        /// Where a directory enumeration is (nil: not started or restarted).
        var cursor: Int?
        var downloaded = false
    }

    let configuration: SMBService.Configuration
    /// Source of server challenges and session ids (random in service, fixed in tests).
    var random: () -> [UInt8]
    /// The time now as a Windows FILETIME.
    var now: () -> UInt64
    private(set) var state: State
    private var sessions: [UInt64: PendingSession] = [:]
    var loggedIn: [UInt64: Session] = [:]
    var opens: [UInt64: Open] = [:]
    var nextTreeID: UInt32 = 1
    var nextFileID: UInt64 = 0x0000_0400_0000_0001
    /// The FileId of the last CREATE in a compound, which related requests name as all ones.
    var compoundFileID: UInt64?
    /// The 3.1.1 pre-authentication hash after NEGOTIATE (the start of every session's own).
    private var connectionPreauth = SMBSigning.initialPreauth
    /// The dialect's security mode and capabilities as NEGOTIATE answered, which VALIDATE_NEGOTIATE_INFO repeats.
    var negotiatedCapabilities: UInt32 = 0
    /// The cipher NEGOTIATE agreed (3.1.1's context, or AES-128-CCM for a 3.0 client with the capability), or 0.
    var negotiatedCipher: UInt16 = 0
    private var fingerprinted = false
    private var smb1Sessions: [UInt16: PendingSession] = [:]
    private var smb1LoggedIn: Set<UInt16> = []
    private var smb1Fingerprinted = false
    private var nextUserID: UInt16 = 0x0800

    init(
        configuration: SMBService.Configuration,
        netbiosSession: Bool,
        random: @escaping () -> [UInt8],
        now: @escaping () -> UInt64
    ) {
        self.configuration = configuration
        self.state = netbiosSession ? .awaitingSessionRequest : .awaitingNegotiate
        self.random = random
        self.now = now
    }

    var identity: WindowsIdentity { self.configuration.identity }

    /// The dialects this server speaks, oldest first, up to the persona's release.
    var dialects: [UInt16] {
        [0x0202, 0x0210, 0x0300, 0x0302, 0x0311].filter { $0 <= self.identity.release.topDialect }
    }

    mutating func received(_ frame: NBSSFrame) -> [Action] {
        switch (self.state, frame) {
        case (.closed, _):
            return []
        case (_, .invalid(let problem, let bytes)):
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: bytes)), .close]
        case (.awaitingSessionRequest, .sessionRequest(let names)):
            return self.sessionRequest(names)
        case (.awaitingSessionRequest, .message(let bytes)):
            // Windows answers an SMB message sent without a session request on 139 with a negative response.
            self.state = .closed
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("SMB message before the NetBIOS session request", preview: bytes)
                ),
                .send(NBSS.negativeSessionResponse(0x8F)), .close,
            ]
        case (_, .keepAlive):
            return []
        case (_, .sessionRequest(let names)):
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("second NetBIOS session request", preview: names)),
                .close,
            ]
        case (_, .message(let bytes)):
            return self.message(bytes)
        }
    }

    private mutating func sessionRequest(_ names: [UInt8]) -> [Action] {
        var fields = EventFields()
        fields.add("client", "netbios")
        let called = NBSS.name(names, at: 0), calling = NBSS.name(names, at: 34)
        if let called { fields.add("called_name", attackerText: called.name) }
        if let calling { fields.add("netbios_name", attackerText: calling.name) }
        let known = called.map { $0.name == "*SMBSERVER" || $0.name == self.identity.netbiosName } ?? false
        guard known else {
            self.state = .closed
            return [.emit(.clientFingerprint, fields), .send(NBSS.negativeSessionResponse(0x82)), .close]
        }
        self.state = .awaitingNegotiate
        return [.emit(.clientFingerprint, fields), .send(NBSS.positiveSessionResponse)]
    }

    private mutating func message(_ bytes: [UInt8]) -> [Action] {
        if SMB2Header(bytes) != nil { return self.smb2Chain(bytes) }
        if let sessionID = SMBEncryption.sessionID(bytes) {
            guard let encryption = self.loggedIn[sessionID]?.encryption, let plain = encryption.decrypt(bytes),
                SMB2Header(plain) != nil
            else {
                self.state = .closed
                return [
                    .emit(
                        .clientMalformed,
                        EventFields.malformed("encrypted message that does not decrypt", preview: bytes)
                    ),
                    .close,
                ]
            }
            return self.smb2Chain(plain, encryption: (sessionID, encryption))
        }
        if let message = SMB1Message(bytes) { return self.smb1(message, bytes) }
        // Not SMB (or an encrypted transform we never asked for): Windows resets the connection.
        self.state = .closed
        return [.emit(.clientMalformed, EventFields.malformed("not an SMB message", preview: bytes)), .close]
    }

    // MARK: SMB1

    private mutating func smb1(_ message: SMB1Message, _ bytes: [UInt8]) -> [Action] {
        if case .smb1(let challenge) = self.state { return self.smb1Command(message, bytes, challenge: challenge) }
        guard self.state == .awaitingNegotiate, message.command == SMB1.negotiate else {
            // Without SMB1, Windows drops the connection on anything SMB1 but the multi-protocol negotiate.
            self.state = .closed
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("SMB1 command 0x\(String(message.command, radix: 16))", preview: bytes)
                ),
                .close,
            ]
        }
        let offered = message.dialects
        var fields = EventFields()
        fields.add("client", "smb1")
        fields.add("dialects", attackerText: offered.joined(separator: ","))
        var actions: [Action] = [.emit(.clientFingerprint, fields)]
        // MS-SMB2 3.3.5.3.1: "SMB 2.???" gets the wildcard revision, "SMB 2.002" alone gets 2.0.2; SMB2 wins over
        // SMB1 where both are on, as on Windows.
        if offered.contains("SMB 2.???") && self.identity.release.topDialect >= 0x0210 {
            self.state = .awaitingSMB2Negotiate
            actions.append(.send(NBSS.message(self.negotiateResponse(nil, dialect: 0x02FF, messageID: 0))))
        } else if offered.contains("SMB 2.002") {
            self.state = .negotiated(dialect: 0x0202)
            actions.append(.send(NBSS.message(self.negotiateResponse(nil, dialect: 0x0202, messageID: 0))))
        } else if self.identity.release.smb1, let index = offered.firstIndex(of: "NT LM 0.12") {
            let challenge = Array(self.random().prefix(8))
            self.state = .smb1(challenge: challenge)
            let reply = SMB1.negotiateResponse(
                message,
                dialectIndex: index,
                identity: self.identity,
                configuration: self.configuration,
                challenge: challenge,
                time: self.now()
            )
            actions.append(.send(NBSS.message(reply)))
        } else if self.identity.release.isSamba {
            // Samba without SMB1 answers a client that speaks only SMB1 (nmap's SMBProgNeg) with "no dialect"
            // (index 0xFFFF, flags2 0x4003) and closes: the reply nmap names "Samba smbd" by.
            var reply = SMB1.reply(message, status: NTStatus.success, flags: 0x88, words: [0xFF, 0xFF])
            reply[10] = 0x03
            reply[11] = 0x40
            self.state = .closed
            actions += [.send(NBSS.message(reply)), .close]
        } else {
            // A client that speaks only SMB1 (nmap's SMBProgNeg, old tools) finds the door shut, as on Windows 10.
            self.state = .closed
            actions.append(.close)
        }
        return actions
    }

    /// SMB1 after an NT LM 0.12 negotiate: session setups (captured; a null session is let in, as Windows with
    /// SMB1 on does), logoff, tree connects (refused), echo.
    private mutating func smb1Command(_ message: SMB1Message, _ bytes: [UInt8], challenge: [UInt8]) -> [Action] {
        switch message.command {
        case SMB1.sessionSetup:
            return self.smb1SessionSetup(message, bytes, challenge: challenge)
        case SMB1.logoff:
            self.smb1LoggedIn.remove(message.userID)
            return [.send(NBSS.message(SMB1.reply(message, status: NTStatus.success, words: [0xFF, 0, 0, 0])))]
        case SMB1.treeDisconnect:
            return [.send(NBSS.message(SMB1.reply(message, status: NTStatus.success)))]
        case SMB1.echo:
            return [
                .send(NBSS.message(SMB1.reply(message, status: NTStatus.success, words: [1, 0], data: message.data)))
            ]
        case SMB1.treeConnect:
            var fields = EventFields()
            fields.add("command", "TREE_CONNECT_ANDX")
            if message.wordCount == 4 {
                let passwordLength = Int(message.words.le16(6))
                if let path = SMB1.readStrings(message, from: min(passwordLength, message.data.count), count: 1).first {
                    fields.add("args", attackerText: path)
                }
            }
            let status = self.smb1LoggedIn.contains(message.userID) ? NTStatus.accessDenied : NTStatus.smbBadUID
            return [.emit(.commandInput, fields), .send(NBSS.message(SMB1.reply(message, status: status)))]
        default:
            var fields = EventFields()
            fields.add("command", "SMB1 0x" + String(message.command, radix: 16))
            return [
                .emit(.commandInput, fields),
                .send(NBSS.message(SMB1.reply(message, status: NTStatus.notSupported))),
            ]
        }
    }

    private mutating func smb1SessionSetup(_ message: SMB1Message, _ bytes: [UInt8], challenge: [UInt8]) -> [Action] {
        guard let request = SMB1.sessionSetup(message) else {
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("SESSION_SETUP_ANDX that does not parse", preview: bytes)
                ),
                .send(NBSS.message(SMB1.reply(message, status: NTStatus.invalidParameter))),
            ]
        }
        var actions: [Action] = []
        switch request {
        case .extended(let blob, let nativeOS, let nativeLanMan):
            actions += self.smb1Fingerprint(nativeOS, nativeLanMan)
            let token = SPNEGO.clientToken(blob)
            switch token.ntlm.flatMap(NTLM.messageType) {
            case .negotiate:
                let serverChallenge = Array(self.random().prefix(8))
                let userID = self.newUserID()
                self.smb1Sessions[userID] = PendingSession(serverChallenge: serverChallenge, wrapped: token.wrapped)
                let blob = NTLM.challenge(
                    serverChallenge,
                    answering: token.ntlm ?? [],
                    wrapped: token.wrapped,
                    identity: self.identity,
                    time: self.now()
                )
                let reply = SMB1.sessionSetupResponse(
                    message,
                    status: NTStatus.moreProcessingRequired,
                    userID: userID,
                    blob: blob,
                    identity: self.identity
                )
                return actions + [.send(NBSS.message(reply))]
            case .authenticate:
                guard let pending = self.smb1Sessions.removeValue(forKey: message.userID),
                    let authenticate = try? NTLM.authenticate(token.ntlm ?? [])
                else {
                    return actions + [
                        .emit(
                            .clientMalformed,
                            EventFields.malformed("AUTHENTICATE without a challenge", preview: bytes)
                        ),
                        .send(NBSS.message(SMB1.reply(message, status: NTStatus.logonFailure))),
                    ]
                }
                var fields = NTLM.loginFields(authenticate, serverChallenge: pending.serverChallenge)
                fields.add("dialect", "NT LM 0.12")
                guard authenticate.isAnonymous else {
                    return actions + [
                        .emit(.loginFailed, fields),
                        .send(NBSS.message(SMB1.reply(message, status: NTStatus.logonFailure))),
                    ]
                }
                self.smb1LoggedIn.insert(message.userID)
                let blob = pending.wrapped ? SPNEGO.negTokenResp(state: .acceptCompleted, responseToken: nil) : []
                return actions + [
                    .emit(.loginSuccess, fields),
                    .send(
                        NBSS.message(
                            SMB1.sessionSetupResponse(
                                message,
                                status: NTStatus.success,
                                userID: message.userID,
                                blob: blob,
                                identity: self.identity
                            )
                        )
                    ),
                ]
            default:
                let fields = Self.unusableToken(token, dialect: "NT LM 0.12")
                return actions + [
                    .emit(.loginFailed, fields),
                    .send(NBSS.message(SMB1.reply(message, status: NTStatus.logonFailure))),
                ]
            }
        case .basic(let lm, let nt, let user, let domain, let nativeOS, let nativeLanMan):
            actions += self.smb1Fingerprint(nativeOS, nativeLanMan)
            var fields: EventFields
            if nt.isEmpty && lm.count > 1 && lm.count != 24 {
                // A plaintext password (sent only to servers that do not ask for encrypted ones; recorded anyway).
                fields = EventFields()
                fields.add("username", attackerText: user)
                fields.add("domain", attackerText: domain)
                fields.add("password", attackerBytes: lm.prefix { $0 != 0 }, secret: true)
                fields.add("method", "plaintext")
            } else {
                let authenticate = NTLM.Authenticate(
                    flags: .unicode,
                    user: NTLM.encode(user, true),
                    domain: NTLM.encode(domain, true),
                    workstation: [],
                    lmResponse: lm,
                    ntResponse: nt,
                    clientVersion: nil
                )
                fields = NTLM.loginFields(authenticate, serverChallenge: challenge)
                if authenticate.isAnonymous {
                    fields.add("dialect", "NT LM 0.12")
                    let userID = self.newUserID()
                    self.smb1LoggedIn.insert(userID)
                    return actions + [
                        .emit(.loginSuccess, fields),
                        .send(
                            NBSS.message(
                                SMB1.sessionSetupResponse(
                                    message,
                                    status: NTStatus.success,
                                    userID: userID,
                                    blob: nil,
                                    identity: self.identity
                                )
                            )
                        ),
                    ]
                }
            }
            fields.add("dialect", "NT LM 0.12")
            return actions + [
                .emit(.loginFailed, fields),
                .send(NBSS.message(SMB1.reply(message, status: NTStatus.logonFailure))),
            ]
        }
    }

    /// The client's NativeOS and NativeLanMan (what OS and SMB stack it says it is), once per connection.
    private mutating func smb1Fingerprint(_ nativeOS: String?, _ nativeLanMan: String?) -> [Action] {
        guard !self.smb1Fingerprinted, nativeOS != nil || nativeLanMan != nil else { return [] }
        self.smb1Fingerprinted = true
        var fields = EventFields()
        fields.add("client", "smb1")
        if let nativeOS { fields.add("native_os", attackerText: nativeOS) }
        if let nativeLanMan { fields.add("native_lanman", attackerText: nativeLanMan) }
        return [.emit(.clientFingerprint, fields)]
    }

    /// SMB1 user ids as Windows hands them out (0x0800 and up), never zero.
    private mutating func newUserID() -> UInt16 {
        self.nextUserID &+= 1
        if self.nextUserID == 0 { self.nextUserID = 0x0800 }
        return self.nextUserID
    }

    // MARK: SMB2

    /// One SMB2 message or a compound chain (MS-SMB2 3.3.5.2.7): each request handled in turn (related ones take
    /// the session, tree and file of the one before), the responses chained, padded to 8 bytes and each signed
    /// where the session signs, in one NetBIOS message.
    private mutating func smb2Chain(_ bytes: [UInt8], encryption: (session: UInt64, SMBEncryption)? = nil) -> [Action] {
        var offset = 0
        var events: [Action] = []
        var replies: [(reply: [UInt8], request: SMB2Header)] = []
        var close = false
        var previous: (session: UInt64, tree: UInt32)?
        self.compoundFileID = nil
        for _ in 0..<32 {
            guard let first = SMB2Header(bytes, at: offset) else { break }
            let next = Int(first.nextCommand)
            guard next == 0 || (next >= SMB2Header.size && next % 8 == 0 && next <= bytes.count - offset) else {
                self.state = .closed
                events.append(
                    .emit(.clientMalformed, EventFields.malformed("SMB2 NextCommand \(next)", preview: bytes))
                )
                close = true
                break
            }
            var message = Array(bytes[offset..<(next == 0 ? bytes.count : offset + next)])
            if first.flags & 0x4 != 0, let previous {
                message.replaceSubrange(36..<40, with: previous.tree.littleEndianBytes)
                message.replaceSubrange(40..<48, with: previous.session.littleEndianBytes)
            }
            let header = SMB2Header(message)!
            for action in self.smb2(header, message) {
                switch action {
                case .send(let framed): replies.append((Array(framed.dropFirst(4)), header))
                case .close: close = true
                case .emit: events.append(action)
                }
            }
            if let last = replies.last?.reply { previous = (last.le64(40), last.le32(36)) }
            if next == 0 || close { break }
            offset += next
        }
        var chain: [UInt8] = []
        for (index, item) in replies.enumerated() {
            var reply = item.reply
            if item.request.flags & 0x4 != 0 { reply[16] |= 0x04 }
            if index < replies.count - 1 {
                while reply.count % 8 != 0 { reply.append(0) }
                reply.replaceSubrange(20..<24, with: UInt32(reply.count).littleEndianBytes)
            }
            if encryption == nil, let signing = self.signing(reply, request: item.request) { signing.sign(&reply) }
            chain += reply
        }
        if let (session, cipher) = encryption, !chain.isEmpty {
            chain = cipher.encrypt(chain, sessionID: session, nonce: self.random() + self.random())
        }
        return events + (chain.isEmpty ? [] : [.send(NBSS.message(chain))]) + (close ? [.close] : [])
    }

    /// The signing a response gets (MS-SMB2 3.3.4.1.1): a signed request's, or any of a session that requires
    /// signing; the final SESSION_SETUP response of a 3.1.1 session always, of others when signing is required.
    /// Guest and anonymous sessions never sign.
    private func signing(_ reply: [UInt8], request: SMB2Header) -> SMBSigning? {
        guard let session = self.loggedIn[reply.le64(40)], let signing = session.signing else { return nil }
        let status = reply.le32(8)
        if request.command == SMB2Command.sessionSetup.rawValue {
            guard status == NTStatus.success, case .negotiated(let dialect) = self.state else { return nil }
            return dialect == 0x0311 || session.signingRequired ? signing : nil
        }
        return request.flags & 0x8 != 0 || session.signingRequired ? signing : nil
    }

    private mutating func smb2(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        guard header.flags & 0x1 == 0 else { return [] }  // a response sent to a server is ignored
        let command = SMB2Command(rawValue: header.command)
        switch (self.state, command) {
        case (.awaitingNegotiate, .negotiate), (.awaitingSMB2Negotiate, .negotiate):
            return self.negotiate(header, bytes)
        case (.negotiated(let dialect), .sessionSetup):
            return self.sessionSetup(header, bytes, dialect: dialect)
        case (.negotiated(let dialect), let command?)
        where command != .negotiate && self.loggedIn[header.sessionID] != nil:
            return self.fileServer(command, header, bytes, dialect: dialect)
        case (.negotiated, .echo):
            return [.send(NBSS.message(header.response(status: NTStatus.success, credits: 1) + [4, 0, 0, 0]))]
        case (.negotiated, .logoff):
            // No session ever completes a login, so there is none to log off.
            self.sessions.removeValue(forKey: header.sessionID)
            return [.send(NBSS.message(self.error(header, NTStatus.userSessionDeleted)))]
        case (.negotiated, .negotiate?):
            // A second NEGOTIATE on a connection is a protocol error: the server disconnects (MS-SMB2 3.3.5.3).
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed("second SMB2 NEGOTIATE", preview: bytes)), .close]
        case (.negotiated, let command?):
            // Nobody is logged in: any other command names a session that does not exist.
            var fields = EventFields()
            fields.add("command", command.name)
            if command == .treeConnect, let path = Self.treeConnectPath(bytes) {
                fields.add("args", attackerText: path)
            }
            return [
                .emit(.commandInput, fields),
                .send(NBSS.message(self.error(header, NTStatus.userSessionDeleted))),
            ]
        default:
            // Commands before NEGOTIATE, or unknown command codes: Windows drops the connection.
            self.state = .closed
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("SMB2 command \(header.command) out of order", preview: bytes)
                ), .close,
            ]
        }
    }

    private mutating func negotiate(_ header: SMB2Header, _ bytes: [UInt8]) -> [Action] {
        guard let request = SMB2NegotiateRequest(bytes, header: 0) else {
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed("truncated SMB2 NEGOTIATE", preview: bytes)), .close]
        }
        var actions: [Action] = []
        if !self.fingerprinted {
            self.fingerprinted = true
            var fields = EventFields()
            fields.add("client", "smb2")
            fields.add("dialects", request.dialects.map(Self.dialectName).joined(separator: ","))
            fields.add("client_guid", Self.guid(request.clientGUID))
            fields.add("signing", request.securityMode & 0x2 != 0 ? "required" : "enabled")
            fields.add("capabilities", "0x" + String(request.capabilities, radix: 16))
            if !request.ciphers.isEmpty {
                fields.add("ciphers", request.ciphers.map { String($0) }.joined(separator: ","))
            }
            actions.append(.emit(.clientFingerprint, fields))
        }
        guard let dialect = self.dialects.last(where: request.dialects.contains) else {
            self.state = .closed
            return actions + [.send(NBSS.message(self.error(header, NTStatus.notSupported))), .close]
        }
        self.state = .negotiated(dialect: dialect)
        self.negotiatedCapabilities = self.capabilities(dialect: dialect, request: request)
        self.negotiatedCipher =
            dialect == 0x0311 ? self.chosenCipher(request) : (self.negotiatedCapabilities & 0x40 != 0 ? 1 : 0)
        let response = self.negotiateResponse(request, dialect: dialect, messageID: header.messageID, header: header)
        if dialect == 0x0311 {
            self.connectionPreauth = SMBSigning.preauth(SMBSigning.preauth(SMBSigning.initialPreauth, bytes), response)
        }
        return actions + [.send(NBSS.message(response))]
    }

    /// The NEGOTIATE response (MS-SMB2 2.2.4); `request` nil answers SMB1's multi-protocol negotiate.
    func negotiateResponse(
        _ request: SMB2NegotiateRequest?,
        dialect: UInt16,
        messageID: UInt64,
        header: SMB2Header? = nil
    ) -> [UInt8] {
        var out: [UInt8]
        if let header {
            out = header.response(status: NTStatus.success, credits: 1)
        } else {
            var synthetic = SMB2Header.protocolID
            synthetic.appendLE16(64)
            synthetic.append(contentsOf: [UInt8](repeating: 0, count: 58))
            out = SMB2Header(synthetic)!.response(status: NTStatus.success, credits: 1)
        }
        let token = SPNEGO.negTokenInit2(domainController: self.configuration.domainController)
        let contexts = dialect == 0x0311 ? self.negotiateContexts(request) : []
        let large = dialect >= 0x0210
        var body: [UInt8] = []
        body.appendLE16(65)
        body.appendLE16(self.configuration.signingRequired ? 0x03 : 0x01)
        body.appendLE16(dialect)
        body.appendLE16(UInt16(contexts.count))
        body.append(contentsOf: self.configuration.serverGUID)
        body.appendLE32(self.capabilities(dialect: dialect, request: request))
        let maximum: UInt32 = large ? 8_388_608 : 65_536
        body.appendLE32(maximum)
        body.appendLE32(maximum)
        body.appendLE32(maximum)
        body.appendLE64(self.now())
        body.appendLE64(0)  // ServerStartTime: Windows 10 / Server 2016 and later, and Samba, send zero
        body.appendLE16(UInt16(SMB2Header.size + 64))
        body.appendLE16(UInt16(token.count))
        let contextOffset = contexts.isEmpty ? 0 : (SMB2Header.size + 64 + token.count + 7) & ~7
        body.appendLE32(UInt32(contextOffset))
        body.append(contentsOf: token)
        if !contexts.isEmpty {
            while SMB2Header.size + body.count < contextOffset { body.append(0) }
            for (index, context) in contexts.enumerated() {
                body.appendLE16(context.type)
                body.appendLE16(UInt16(context.data.count))
                body.appendLE32(0)
                body.append(contentsOf: context.data)
                if index < contexts.count - 1 { while body.count % 8 != 0 { body.append(0) } }
            }
        }
        out.append(contentsOf: body)
        return out
    }

    /// Capabilities per dialect as Windows sets them (DFS, leasing, large MTU; from 3.0 multi-channel and
    /// directory leasing when the client offers them, as impacket, which offers neither, sees; encryption in the
    /// flags only for 3.0/3.0.2 clients that offer it).
    func capabilities(dialect: UInt16, request: SMB2NegotiateRequest?) -> UInt32 {
        if self.identity.release.isSamba { return dialect >= 0x0210 ? 0x07 : 0x01 }
        let offered = request?.capabilities ?? 0
        switch dialect {
        case 0x0202: return 0x01
        case 0x0210, 0x02FF: return 0x07
        case 0x0311: return 0x07 | (offered & 0x28)
        default: return 0x07 | (offered & 0x68)
        }
    }

    /// The 3.1.1 contexts: pre-authentication integrity (SHA-512 with a fresh salt) and the cipher chosen from the
    /// client's list in the server's order of preference.
    func negotiateContexts(_ request: SMB2NegotiateRequest?) -> [(type: UInt16, data: [UInt8])] {
        var preauth: [UInt8] = []
        preauth.appendLE16(1)
        preauth.appendLE16(32)
        preauth.appendLE16(0x0001)
        let salt = self.random() + self.random() + self.random() + self.random()
        preauth.append(contentsOf: salt.prefix(32))
        var contexts: [(type: UInt16, data: [UInt8])] = [(1, preauth)]
        if request?.contexts.contains(where: { $0.type == 2 }) == true {
            var encryption: [UInt8] = []
            encryption.appendLE16(1)
            encryption.appendLE16(self.chosenCipher(request))
            contexts.append((2, encryption))
        }
        return contexts
    }

    /// The cipher of the 3.1.1 ENCRYPTION_CAPABILITIES answer: AES-128-GCM, AES-128-CCM, then the AES-256 pair
    /// (Windows 10 21H2 / Server 2022 and later), the first the client offers; 0 for none.
    func chosenCipher(_ request: SMB2NegotiateRequest?) -> UInt16 {
        let offered = request?.ciphers ?? []
        let preference: [UInt16] = self.identity.build >= 20348 ? [2, 1, 4, 3] : [2, 1]
        return preference.first(where: offered.contains) ?? 0
    }

    private mutating func sessionSetup(_ header: SMB2Header, _ bytes: [UInt8], dialect: UInt16) -> [Action] {
        let body = SMB2Header.size
        guard bytes.count >= body + 24, bytes.le16(body) == 25 else {
            return [
                .emit(.clientMalformed, EventFields.malformed("truncated SESSION_SETUP", preview: bytes)),
                .send(NBSS.message(self.error(header, NTStatus.invalidParameter))),
            ]
        }
        let offset = Int(bytes.le16(body + 12)), length = Int(bytes.le16(body + 14))
        guard offset <= bytes.count, length <= bytes.count - offset else {
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("SESSION_SETUP buffer outside the message", preview: bytes)
                ),
                .send(NBSS.message(self.error(header, NTStatus.invalidParameter))),
            ]
        }
        let token = SPNEGO.clientToken(Array(bytes[offset..<(offset + length)]))
        let credits = max(1, min(header.credits, 64))
        switch token.ntlm.flatMap(NTLM.messageType) {
        case .negotiate:
            let challenge = Array(self.random().prefix(8))
            let sessionID = self.newSessionID()
            let blob = NTLM.challenge(
                challenge,
                answering: token.ntlm ?? [],
                wrapped: token.wrapped,
                identity: self.identity,
                time: self.now()
            )
            var reply = header.response(status: NTStatus.moreProcessingRequired, credits: credits, sessionID: sessionID)
            reply.appendLE16(9)
            reply.appendLE16(0)
            reply.appendLE16(UInt16(SMB2Header.size + 8))
            reply.appendLE16(UInt16(blob.count))
            reply.append(contentsOf: blob)
            var pending = PendingSession(serverChallenge: challenge, wrapped: token.wrapped, mechTypes: token.mechTypes)
            if dialect == 0x0311 {
                pending.preauth = SMBSigning.preauth(SMBSigning.preauth(self.connectionPreauth, bytes), reply)
            }
            self.sessions[sessionID] = pending
            return [.send(NBSS.message(reply))]
        case .authenticate:
            guard let pending = self.sessions.removeValue(forKey: header.sessionID) else {
                return [.send(NBSS.message(self.error(header, NTStatus.userSessionDeleted)))]
            }
            let message: NTLM.Authenticate
            do {
                message = try NTLM.authenticate(token.ntlm ?? [])
            } catch {
                return [
                    .emit(.clientMalformed, EventFields.malformed(error.description, preview: bytes)),
                    .send(NBSS.message(self.error(header, NTStatus.invalidParameter))),
                ]
            }
            var fields = NTLM.loginFields(message, serverChallenge: pending.serverChallenge)
            fields.add("dialect", Self.dialectName(dialect))
            if let login = self.acceptedLogin(message, pending: pending) {
                return self.loginSucceeded(
                    header,
                    bytes,
                    dialect: dialect,
                    message: message,
                    pending: pending,
                    login: login,
                    token: token,
                    fields: fields,
                    credits: credits
                )
            }
            let status = message.isAnonymous ? NTStatus.accessDenied : NTStatus.logonFailure
            return [.emit(.loginFailed, fields), .send(NBSS.message(self.error(header, status, credits: credits)))]
        default:
            // Kerberos tickets, an empty buffer or junk: nothing we can check, so the login fails.
            let fields = Self.unusableToken(token, dialect: Self.dialectName(dialect))
            return [
                .emit(.loginFailed, fields),
                .send(NBSS.message(self.error(header, NTStatus.logonFailure, credits: credits))),
            ]
        }
    }

    /// Windows' session ids: a small counter in the high bits, flags low (the values seen in captures look like
    /// 0x0000_4000_0000_0029); random here, never zero.
    private func newSessionID() -> UInt64 {
        let bytes = self.random()
        var value: UInt64 = 0
        for byte in bytes.prefix(6) { value = value << 8 | UInt64(byte) }
        return (value & 0x0000_FFFF_FFFF_FFFF) | 0x0000_4000_0000_0001
    }

    /// An SMB2 ERROR response (MS-SMB2 2.2.2) with this status.
    func error(_ header: SMB2Header, _ status: UInt32, credits: UInt16 = 1) -> [UInt8] {
        header.response(status: status, credits: credits) + [9, 0, 0, 0, 0, 0, 0, 0, 0]
    }

    /// The share path of a TREE_CONNECT request (UTF-16LE), if it is inside the message.
    static func treeConnectPath(_ bytes: [UInt8]) -> String? {
        let body = SMB2Header.size
        guard bytes.count >= body + 8 else { return nil }
        let offset = Int(bytes.le16(body + 4)), length = Int(bytes.le16(body + 6))
        guard length <= 2048, offset <= bytes.count, length <= bytes.count - offset else { return nil }
        return NTLM.decode(Array(bytes[offset..<(offset + length)]), .unicode)
    }

    /// A login with a token that holds no NTLM (Kerberos tickets, an empty buffer, junk): what it offered.
    static func unusableToken(_ token: SPNEGO.ClientToken, dialect: String) -> EventFields {
        var fields = EventFields()
        fields.add(
            "method",
            token.mechanisms.isEmpty ? "unknown" : "spnego(" + token.mechanisms.joined(separator: ",") + ")"
        )
        fields.add("dialect", dialect)
        return fields
    }

    static func dialectName(_ dialect: UInt16) -> String {
        switch dialect {
        case 0x0202: "2.0.2"
        case 0x0210: "2.1"
        case 0x0300: "3.0"
        case 0x0302: "3.0.2"
        case 0x0311: "3.1.1"
        case 0x02FF: "2.???"
        default: "0x" + String(dialect, radix: 16)
        }
    }

    static func guid(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return lowerHex(bytes) }
        let first = bytes[0..<4].reversed(), second = bytes[4..<6].reversed(), third = bytes[6..<8].reversed()
        return lowerHex(first) + "-" + lowerHex(second) + "-" + lowerHex(third) + "-" + lowerHex(bytes[8..<10]) + "-"
            + lowerHex(bytes[10..<16])
    }

}

extension SMBStateMachine {
    /// Who a login is, when the persona lets it in.
    enum Login: Equatable {
        /// A `users` entry whose password the NetNTLMv2 response proves: a full, signing session.
        case user(name: String, password: String)
        /// A `users` entry with `*` as password, or (with `smb_guest`) a user the server does not know.
        case guest(String)
        /// A null session (with `smb_guest`).
        case anonymous
    }

    /// Whether the persona lets this AUTHENTICATE in, and as whom.
    func acceptedLogin(_ message: NTLM.Authenticate, pending: PendingSession) -> Login? {
        let name = message.userName.lowercased()
        let listed = self.configuration.users.pairs.filter { $0.user.lowercased() == name }
        if !message.isAnonymous,
            let pair = listed.first(where: {
                $0.password != "*"
                    && NTLM.verifiesV2(message, serverChallenge: pending.serverChallenge, password: $0.password)
            })
        {
            return .user(name: pair.user, password: pair.password)
        }
        if !message.isAnonymous && listed.contains(where: { $0.password == "*" }) { return .guest(message.userName) }
        guard self.configuration.guest, !self.configuration.signingRequired, listed.isEmpty else { return nil }
        return message.isAnonymous ? .anonymous : .guest(message.userName)
    }

    /// The final SESSION_SETUP response of an accepted login: the session's signing key from the NTLM session key
    /// (and, for 3.1.1, the pre-authentication hash up to this request), SPNEGO's accept-completed with the
    /// server's mechListMIC when the client sent one, and the guest or null flag where it applies.
    mutating func loginSucceeded(
        _ header: SMB2Header,
        _ bytes: [UInt8],
        dialect: UInt16,
        message: NTLM.Authenticate,
        pending: PendingSession,
        login: Login,
        token: SPNEGO.ClientToken,
        fields: EventFields,
        credits: UInt16
    ) -> [Action] {
        var fields = fields
        var sessionFlags: UInt16 = 0
        var signing: SMBSigning?
        var encryption: SMBEncryption?
        var mic: [UInt8]?
        switch login {
        case .user(_, let password):
            fields.add("password", attackerText: password, secret: true)
            fields.add("login_type", "user")
            if let key = NTLM.exportedSessionKey(message, password: password) {
                let preauth = dialect == 0x0311 ? SMBSigning.preauth(pending.preauth, bytes) : []
                signing = SMBSigning(sessionKey: key, dialect: dialect, preauthHash: preauth)
                encryption = SMBEncryption(
                    sessionKey: key,
                    dialect: dialect,
                    cipher: self.negotiatedCipher,
                    preauthHash: preauth
                )
                if token.hasMechListMIC, let mechTypes = pending.mechTypes {
                    mic = NTLM.serverSignature(exportedSessionKey: key, flags: message.flags, over: mechTypes)
                }
            }
        case .guest:
            sessionFlags = 0x1
            fields.add("login_type", "guest")
        case .anonymous:
            sessionFlags = 0x2
            fields.add("login_type", "anonymous")
        }
        let clientRequires = bytes.count > SMB2Header.size + 3 && bytes[SMB2Header.size + 3] & 0x2 != 0
        self.loggedIn[header.sessionID] = Session(
            user: message.userName,
            signing: signing,
            signingRequired: signing != nil && (self.configuration.signingRequired || clientRequires),
            encryption: encryption
        )
        let blob =
            pending.wrapped ? SPNEGO.negTokenResp(state: .acceptCompleted, responseToken: nil, mechListMIC: mic) : []
        var reply = header.response(status: NTStatus.success, credits: credits)
        reply.appendLE16(9)
        reply.appendLE16(sessionFlags)
        reply.appendLE16(blob.isEmpty ? 0 : UInt16(SMB2Header.size + 8))
        reply.appendLE16(UInt16(blob.count))
        reply += blob
        return [.emit(.loginSuccess, fields), .send(NBSS.message(reply))]
    }
}
