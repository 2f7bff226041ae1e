import DecnetCore
import DecnetServiceKit

/// RDP's connection sequence up to Network Level Authentication, as Windows with NLA required answers it, without
/// I/O: the X.224 Connection Request (its mstshash cookie recorded), the Connection Confirm choosing CredSSP,
/// then, over TLS, CredSSP's NTLM exchange: the persona's CHALLENGE, the AUTHENTICATE captured as a hashcat line,
/// and STATUS_LOGON_FAILURE in the TSRequest's errorCode so the client reports a logon failure.
struct RDPStateMachine {
    enum Action: Equatable {
        case send([UInt8])
        /// Send these bytes in the clear, then start TLS as the server.
        case startTLS([UInt8])
        case emit(EventID, EventFields)
        case close
    }

    enum State: Equatable {
        case awaitingRequest
        case awaitingNegotiate
        case awaitingAuthenticate(challenge: [UInt8])
        /// TLS security without NLA: waiting for the MCS Connect-Initial (the protocols the client asked for).
        case awaitingConnectInitial(requested: UInt32)
        /// MCS set up; waiting for the Client Info PDU.
        case mcs
        case closed
    }

    /// The CredSSP version Windows 10 / Server 2019 and later speak.
    static let credSSPVersion = 6

    let identity: WindowsIdentity
    /// `rdp_nla = optional`: a client asking for TLS only gets TLS security, and its Client Info PDU carries the
    /// password (as on a host with "Require NLA" off).
    var nlaRequired = true
    var random: () -> [UInt8]
    var now: () -> UInt64
    private(set) var state = State.awaitingRequest
    private var clientVersion = RDPStateMachine.credSSPVersion

    init(identity: WindowsIdentity, random: @escaping () -> [UInt8], now: @escaping () -> UInt64) {
        self.identity = identity
        self.random = random
        self.now = now
    }

    mutating func received(_ message: RDPInbound) -> [Action] {
        switch (self.state, message) {
        case (.closed, _):
            return []
        case (_, .invalid(let problem, let bytes)):
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: bytes)), .close]
        case (.awaitingRequest, .tpkt(let bytes)):
            return self.connectionRequest(bytes)
        case (.awaitingNegotiate, .tsRequest(let bytes)):
            return self.negotiate(bytes)
        case (.awaitingAuthenticate(let challenge), .tsRequest(let bytes)):
            return self.authenticate(bytes, challenge: challenge)
        case (.awaitingConnectInitial(let requested), .tpkt(let bytes)):
            return self.connectInitial(bytes, requested: requested)
        case (.mcs, .tpkt(let bytes)):
            return self.domainPDU(bytes)
        default:
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed("message out of order", preview: [])), .close]
        }
    }

    private mutating func connectionRequest(_ bytes: [UInt8]) -> [Action] {
        guard let request = RDP.connectionRequest(bytes) else {
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("not an X.224 Connection Request", preview: bytes)),
                .close,
            ]
        }
        var fields = EventFields()
        fields.add("client", "rdp")
        if let cookie = request.cookie { fields.add("cookie_user", attackerText: cookie) }
        let requested = request.requestedProtocols ?? RDP.standard
        fields.add("requested_protocols", Self.protocolNames(requested))
        // NLA is required, as on a default Windows install: CredSSP (preferring Early User Authorization) or
        // RDSTLS; plain TLS or standard RDP security get HYBRID_REQUIRED_BY_SERVER.
        // With NLA optional, a client asking for TLS alone gets it; standard RDP security is never offered
        // (SSL_REQUIRED_BY_SERVER), as with the TLS security layer.
        let selected: UInt32? =
            requested & RDP.hybridEx != 0
            ? RDP.hybridEx
            : requested & RDP.hybrid != 0
                ? RDP.hybrid
                : requested & RDP.rdstls != 0
                    ? RDP.rdstls : (!self.nlaRequired && requested & RDP.ssl != 0 ? RDP.ssl : nil)
        guard let selected else {
            self.state = .closed
            return [
                .emit(.clientFingerprint, fields), .send(RDP.connectionConfirm(failure: self.nlaRequired ? 5 : 1)),
                .close,
            ]
        }
        fields.add("selected_protocol", Self.protocolNames(selected))
        if selected == RDP.ssl {
            self.state = .awaitingConnectInitial(requested: requested)
            return [.emit(.clientFingerprint, fields), .startTLS(RDP.connectionConfirm(selected: selected))]
        }
        self.state = .awaitingNegotiate
        return [.emit(.clientFingerprint, fields), .startTLS(RDP.connectionConfirm(selected: selected))]
    }

    private mutating func negotiate(_ bytes: [UInt8]) -> [Action] {
        guard let request = RDP.tsRequest(bytes), let token = request.negoToken, NTLM.messageType(token) == .negotiate
        else {
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("TSRequest without an NTLM NEGOTIATE", preview: bytes)),
                .close,
            ]
        }
        self.clientVersion = request.version
        var fields = EventFields()
        fields.add("client", "credssp")
        fields.add("credssp_version", String(request.version))
        let challenge = Array(self.random().prefix(8))
        self.state = .awaitingAuthenticate(challenge: challenge)
        // CredSSP carries NTLM bare, never in SPNEGO.
        let message = NTLM.challenge(
            challenge,
            answering: token,
            wrapped: false,
            identity: self.identity,
            time: self.now()
        )
        return [
            .emit(.clientFingerprint, fields),
            .send(RDP.tsResponse(version: Self.credSSPVersion, negoToken: message)),
        ]
    }

    private mutating func authenticate(_ bytes: [UInt8], challenge: [UInt8]) -> [Action] {
        self.state = .closed
        guard let request = RDP.tsRequest(bytes), let token = request.negoToken,
            let message = try? NTLM.authenticate(token)
        else {
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("TSRequest without an NTLM AUTHENTICATE", preview: bytes)
                ), .close,
            ]
        }
        var fields = NTLM.loginFields(message, serverChallenge: challenge)
        fields.add("auth", "credssp")
        // errorCode exists from CredSSP 3; older clients just see the connection close.
        let reply =
            self.clientVersion >= 3
            ? [Action.send(RDP.tsResponse(version: Self.credSSPVersion, errorCode: NTStatus.logonFailure))] : []
        return [.emit(.loginFailed, fields)] + reply + [.close]
    }

    /// The MCS Connect-Initial: what the client says it is (name, build, keyboard, screen, channels), answered with
    /// the Connect-Response.
    private mutating func connectInitial(_ bytes: [UInt8], requested: UInt32) -> [Action] {
        guard let payload = RDPMCS.payload(bytes), let data = RDPMCS.connectInitial(payload) else {
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("not an MCS Connect-Initial", preview: bytes)), .close,
            ]
        }
        var fields = EventFields()
        fields.add("client", "rdp-mcs")
        fields.add("client_name", attackerText: data.name)
        fields.add("client_build", String(data.build))
        fields.add("rdp_version", "0x" + String(data.version, radix: 16))
        fields.add("keyboard_layout", "0x" + String(data.keyboardLayout, radix: 16))
        fields.add("desktop", "\(data.width)x\(data.height)")
        if !data.channels.isEmpty { fields.add("channels", attackerText: data.channels.joined(separator: ",")) }
        self.state = .mcs
        return [
            .emit(.clientFingerprint, fields),
            .send(RDPMCS.connectResponse(requestedProtocols: requested, channels: data.channels.count)),
        ]
    }

    /// MCS domain PDUs up to the Client Info PDU, whose credentials are the login; then the server ends the
    /// connection (the next step would be the graphical logon screen).
    private mutating func domainPDU(_ bytes: [UInt8]) -> [Action] {
        guard let payload = RDPMCS.payload(bytes), let pdu = RDPMCS.domainPDU(payload) else {
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed("not an MCS domain PDU", preview: bytes)), .close]
        }
        switch pdu {
        case .erectDomain, .other: return []
        case .attachUser: return [.send(RDPMCS.attachUserConfirm)]
        case .channelJoin(let channel): return [.send(RDPMCS.channelJoinConfirm(channel))]
        case .disconnect:
            self.state = .closed
            return [.close]
        case .sendData(_, let data):
            guard let info = RDPMCS.clientInfo(data) else { return [] }
            self.state = .closed
            var fields = EventFields()
            fields.add("username", attackerText: info.user)
            fields.add("domain", attackerText: info.domain)
            fields.add("password", attackerText: info.password, secret: true)
            fields.add("method", "plaintext")
            fields.add("auth", "rdp-tls")
            fields.add("autologon", info.autologon ? "true" : "false")
            return [.emit(.loginFailed, fields), .send(RDPMCS.disconnect), .close]
        }
    }

    static func protocolNames(_ value: UInt32) -> String {
        var names: [String] = []
        if value == 0 { return "rdp" }
        if value & RDP.ssl != 0 { names.append("ssl") }
        if value & RDP.hybrid != 0 { names.append("hybrid") }
        if value & RDP.rdstls != 0 { names.append("rdstls") }
        if value & RDP.hybridEx != 0 { names.append("hybrid_ex") }
        if value & ~0x0F != 0 { names.append("0x" + String(value, radix: 16)) }
        return names.joined(separator: ",")
    }

}
