import DecnetCore
import DecnetServiceKit

/// SQL Server's side of the TDS login (MS-TDS), without I/O: PRELOGIN answered with the options the client
/// sent and the persona's version, LOGIN7 with its password decoded and captured, integrated (SSPI) logins
/// challenged with the persona's NTLM CHALLENGE and captured as hashcat lines, and the login-failed error and
/// close that a real server sends.
struct MSSQLStateMachine {
    enum Action: Equatable {
        case send([UInt8])
        case emit(EventID, EventFields)
        case close
        /// Send these bytes (the PRELOGIN response) in the clear, then run TLS inside PRELOGIN packets.
        case startTLS([UInt8])
        /// Drop TLS before what follows (the login was all the client wanted encrypted).
        case endTLS
    }

    /// How much of the connection TLS covers, from the PRELOGIN's ENCRYPTION answer (MS-TDS 2.2.6.5).
    enum Encryption: Equatable {
        /// ENCRYPT_NOT_SUP: none.
        case none
        /// ENCRYPT_OFF: the LOGIN7 packet only.
        case loginOnly
        /// ENCRYPT_ON: everything after PRELOGIN.
        case full
    }

    struct Configuration: Sendable, Equatable {
        /// major, minor, build, sub-build.
        var version: (UInt8, UInt8, UInt16, UInt16)
        var versionText: String
        var identity: WindowsIdentity
        /// Whether the server has a certificate (a real SQL Server always has one, self-signed at worst).
        var tlsAvailable = false

        static func == (lhs: Configuration, rhs: Configuration) -> Bool {
            lhs.versionText == rhs.versionText && lhs.identity == rhs.identity
        }
    }

    enum State: Equatable {
        case awaitingLogin
        /// An integrated login was challenged; waiting for the AUTHENTICATE.
        case awaitingSSPI(challenge: [UInt8], wrapped: Bool)
        case closed
    }

    let configuration: Configuration
    var random: () -> [UInt8]
    var now: () -> UInt64
    private(set) var state = State.awaitingLogin
    private(set) var encryption = Encryption.none
    /// The TDS version the client's LOGIN7 asked for (7.4 until one arrives).
    private var tdsVersion: UInt32 = 0x7400_0004

    init(configuration: Configuration, random: @escaping () -> [UInt8], now: @escaping () -> UInt64) {
        self.configuration = configuration
        self.random = random
        self.now = now
    }

    var serverName: String { self.configuration.identity.netbiosName }

    mutating func received(_ message: TDSMessage) -> [Action] {
        switch (self.state, message) {
        case (.closed, _):
            return []
        case (_, .invalid(let problem, let bytes)):
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: bytes)), .close]
        case (.awaitingLogin, .message(TDS.preLogin, let payload)):
            return self.preLogin(payload)
        case (.awaitingLogin, .message(TDS.login7, let payload)):
            return self.login(payload)
        case (.awaitingSSPI(let challenge, _), .message(TDS.sspi, let payload)):
            return self.sspi(payload, challenge: challenge)
        case (_, .message(let type, let payload)):
            // SQL batches, RPCs or attention before a login: the server closes the connection.
            self.state = .closed
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed(
                        "TDS message type 0x\(String(type, radix: 16)) before a login",
                        preview: payload
                    )
                ), .close,
            ]
        }
    }

    private mutating func preLogin(_ payload: [UInt8]) -> [Action] {
        guard let options = TDS.preLoginOptions(payload) else {
            return [.emit(.clientMalformed, EventFields.malformed("PRELOGIN option table", preview: payload)), .close]
        }
        var fields = EventFields()
        fields.add("client", "tds")
        if let version = options.first(where: { $0.token == 0 })?.data, version.count >= 6 {
            fields.add("client_version", "\(version[0]).\(version[1]).\(Int(version[2]) << 8 | Int(version[3]))")
        }
        let asked = options.first(where: { $0.token == 1 })?.data.first
        if let asked {
            fields.add("encryption", ["off", "on", "not-supported", "required"][Int(min(asked & 0x03, 3))])
        }
        // A server without Force Encryption answers OFF with OFF (TLS for the login), ON and REQ with ON (TLS for
        // everything), NOT_SUP with NOT_SUP (none).
        let answer: UInt8 =
            !self.configuration.tlsAvailable ? 0x02 : asked.map { [0x00, 0x01, 0x02, 0x01][Int($0 & 0x03)] } ?? 0x02
        self.encryption = answer == 0x00 ? .loginOnly : answer == 0x01 ? .full : .none
        let (major, minor, build, sub) = self.configuration.version
        var reply: [(token: UInt8, data: [UInt8])] = []
        for (token, _) in options {
            switch token {
            case 0:
                reply.append(
                    (0, [major, minor, UInt8(build >> 8), UInt8(build & 0xFF), UInt8(sub >> 8), UInt8(sub & 0xFF)])
                )
            case 1: reply.append((1, [answer]))
            case 2: reply.append((2, [0x00]))
            case 3: reply.append((3, []))
            case 4, 6: reply.append((token, [0x00]))
            default: continue
            }
        }
        let response = TDS.packet(TDS.tabularResult, TDS.preLoginResponse(reply))
        return [.emit(.clientFingerprint, fields), self.encryption == .none ? .send(response) : .startTLS(response)]
    }

    private mutating func login(_ payload: [UInt8]) -> [Action] {
        guard let login = TDS.login(payload) else {
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("LOGIN7 that does not parse", preview: payload)), .close,
            ]
        }
        self.tdsVersion = login.tdsVersion
        // With ENCRYPT_OFF only the LOGIN7 packet was encrypted: the answer goes in the clear.
        let plainAfter: [Action] = self.encryption == .loginOnly ? [.endTLS] : []
        self.encryption = self.encryption == .loginOnly ? .none : self.encryption
        var fingerprint = EventFields()
        fingerprint.add("client", "tds")
        fingerprint.add("app_name", attackerText: login.appName)
        fingerprint.add("host_name", attackerText: login.hostName)
        fingerprint.add("library", attackerText: login.library)
        fingerprint.add("tds_version", "0x" + String(login.tdsVersion, radix: 16))
        fingerprint.add("client_mac", login.clientID.map { lowerHex([$0]) }.joined(separator: ":"))
        fingerprint.add("client_pid", String(login.clientPID))
        var actions: [Action] = [.emit(.clientFingerprint, fingerprint)] + plainAfter
        if login.integratedSecurity || !login.sspi.isEmpty {
            let token = SPNEGO.clientToken(login.sspi)
            guard let ntlm = token.ntlm, NTLM.messageType(ntlm) == .negotiate else {
                self.state = .closed
                var fields = EventFields()
                fields.add("method", "sspi")
                return actions + [
                    .emit(.loginFailed, fields),
                    .send(
                        self.failure(
                            "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication.",
                            number: 18452
                        )
                    ), .close,
                ]
            }
            let challenge = Array(self.random().prefix(8))
            let data = NTLM.challenge(
                challenge,
                answering: ntlm,
                wrapped: token.wrapped,
                identity: self.configuration.identity,
                time: self.now()
            )
            self.state = .awaitingSSPI(challenge: challenge, wrapped: token.wrapped)
            return actions + [.send(TDS.packet(TDS.tabularResult, TDS.sspiToken(data)))]
        }
        var fields = EventFields()
        fields.add("username", attackerText: login.userName)
        fields.add("password", attackerBytes: Self.utf16(login.password), secret: true)
        fields.add("method", "sql")
        if !login.database.isEmpty { fields.add("database", attackerText: login.database) }
        self.state = .closed
        actions += [
            .emit(.loginFailed, fields), .send(self.failure("Login failed for user '\(login.userName)'.")), .close,
        ]
        return actions
    }

    private mutating func sspi(_ payload: [UInt8], challenge: [UInt8]) -> [Action] {
        self.state = .closed
        let token = SPNEGO.clientToken(payload)
        guard let ntlm = token.ntlm, let message = try? NTLM.authenticate(ntlm) else {
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("SSPI message without an AUTHENTICATE", preview: payload)
                ), .close,
            ]
        }
        var fields = NTLM.loginFields(message, serverChallenge: challenge)
        fields.add("auth", "sspi")
        // The server's own accounts (its computer name, or "." / none) and its domain's are judged by the
        // password; any other domain is one the server does not trust.
        let identity = self.configuration.identity
        let domain = message.domainName.uppercased()
        let sameDomain =
            ["", ".", identity.netbiosName, identity.netbiosDomain].contains(domain)
            || message.domainName.lowercased() == identity.dnsDomain
        let text =
            sameDomain
            ? "Login failed for user '\(message.domainName)\\\(message.userName)'."
            : "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication."
        return [.emit(.loginFailed, fields), .send(self.failure(text, number: sameDomain ? 18456 : 18452)), .close]
    }

    private func failure(_ text: String, number: UInt32 = 18456) -> [UInt8] {
        TDS.packet(
            TDS.tabularResult,
            TDS.loginFailed(text, number: number, serverName: self.serverName, tdsVersion: self.tdsVersion)
        )
    }

    /// The decoded password's UTF-16LE as UTF-8 bytes (invalid sequences kept as replacement characters).
    static func utf16(_ bytes: [UInt8]) -> [UInt8] { Array(NTLM.decode(bytes, .unicode).utf8) }

}
