import DecnetCore
import DecnetServiceKit
import Foundation

/// One request being answered: the method's handling, the responses it gets and what is recorded of it.
struct SIPExchange {
    let responder: SIPResponder
    let request: SIPRequest
    let peer: SIPResponder.Peer
    let now: Int
    let byteBound: Int?
    private(set) var replies: [[UInt8]] = []
    private(set) var events: [(EventID, EventFields)] = []
    /// Events after command.input (logins, payloads).
    private var details: [(EventID, EventFields)] = []
    /// Extra command.input fields (the dialed number of an INVITE).
    private var commandFields = EventFields()
    /// The status of the last response, for command.input.
    private var answered: String?

    var persona: SIPPersona { self.responder.persona }

    init(responder: SIPResponder, request: SIPRequest, peer: SIPResponder.Peer, now: Int, byteBound: Int?) {
        self.responder = responder
        self.request = request
        self.peer = peer
        self.now = now
        self.byteBound = byteBound
    }

    mutating func run() {
        self.dispatch()
        var command = EventFields()
        command.add("command", attackerText: self.request.method)
        command.add("args", attackerText: self.request.uri)
        command.add("transport", self.peer.transport.rawValue)
        for (field, header) in [("call_id", "call-id"), ("from", "from"), ("to", "to"), ("user_agent", "user-agent")] {
            if let value = self.request.first(header) { command.add(field, attackerText: String(value.prefix(512))) }
        }
        for field in self.commandFields.fields { command.add(field.name, field.value) }
        command.add("response", self.answered.map { String($0.prefix(3)) } ?? "none")
        if let defect = self.request.defect { command.add("error", defect) }
        if let (tool, basis) = SIPScanner.identify(self.request) {
            var fields = EventFields()
            fields.add("client", attackerText: self.request.first("user-agent") ?? tool)
            if let agent = self.request.first("user-agent") { fields.add("user_agent", attackerText: agent) }
            fields.add("tool", tool)
            fields.add("tool_basis", basis)
            self.events.append((.clientFingerprint, fields))
        } else if let agent = self.request.first("user-agent") {
            var fields = EventFields()
            fields.add("client", attackerText: agent)
            fields.add("user_agent", attackerText: agent)
            self.events.append((.clientFingerprint, fields))
        }
        self.events.append((.commandInput, command))
        self.events += self.details
    }

    private mutating func dispatch() {
        let request = self.request
        guard request.method != "ACK" else { return }  // ACK is never answered (RFC 3261 §17.2.1)
        guard request.version.uppercased() == "SIP/2.0" else { return self.reply("505 Version Not Supported") }
        let cseq = request.first("cseq").map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }) } ?? []
        guard request.defect == nil, request.first("call-id")?.isEmpty == false, request.first("from") != nil,
            request.first("to") != nil, cseq.count == 2, UInt32(cseq[0]) != nil
        else { return self.reply("400 Bad Request") }
        guard cseq[1] == request.method else { return self.reply("400 Bad Request") }
        switch request.method {
        case "OPTIONS": self.options()
        case "REGISTER": self.register()
        case "INVITE": self.invite()
        case "SUBSCRIBE": self.subscribe()
        case "MESSAGE":
            self.recordBody(kind: "sip-message")
            self.reply("405 Method Not Allowed")
        case "NOTIFY": self.reply("489 Bad event")
        case "PUBLISH": self.reply("489 Bad Event")
        case "REFER": self.reply("603 Declined (No dialog)")
        case "BYE", "CANCEL", "INFO", "UPDATE", "PRACK": self.reply("481 Call leg/transaction does not exist")
        default: self.reply("501 Method Not Implemented", extra: [("Accept", "application/sdp")])
        }
    }

    /// OPTIONS: 200 for the server itself (no user, chan_sip's `s`) and for an extension, 404 otherwise.
    private mutating func options() {
        let user = SIPAddress.user(ofURI: self.request.uri)
        let found = user.map { self.persona.extensions.contains($0) || $0 == "s" } ?? true
        if found {
            self.reply("200 OK", extra: [("Accept", "application/sdp")], contactUser: user ?? "")
        } else {
            self.reply("404 Not Found", extra: [("Accept", "application/sdp")])
        }
    }

    /// REGISTER: the account is the To user (as chan_sip reads it).
    private mutating func register() {
        guard let account = SIPAddress.user(self.request.first("to") ?? ""), self.persona.extensions.contains(account)
        else {
            self.commandFields.add("extension", "unknown")
            return self.reply("404 Not found")
        }
        self.commandFields.add("extension", "exists")
        if self.authorized(account) { self.registered() }
    }

    /// The digest check of REGISTER and SUBSCRIBE (Authorization, for one of our extensions): true when it passed;
    /// otherwise the 401 challenge, 404 (username not the account) or 403 has been sent.
    private mutating func authorized(_ account: String) -> Bool {
        switch self.verify(account: account, headers: ["authorization"]) {
        case .challenge(let stale): self.challenge(stale: stale, proxy: false)
        case .mismatch: self.reply("404 Not found")
        case .refused: self.reply("403 Forbidden")
        case .accepted: return true
        }
        return false
    }

    /// The responder's verdict on the request's credentials in `headers`, its login events kept for the record.
    private mutating func verify(account: String, headers: [String]) -> SIPResponder.Verdict {
        let (verdict, events) = self.responder.verify(
            self.request,
            account: account,
            headers: headers,
            peer: self.peer,
            now: self.now
        )
        self.details += events
        return verdict
    }

    /// A REGISTER that authenticated: the binding's expiry, bounded as chan_sip bounds it.
    private mutating func registered() {
        let contact = self.request.first("contact")
        let asked =
            contact.flatMap { SIPAddress.parameter("expires", in: $0) }.flatMap { Int($0) }
            ?? self.request.first("expires").flatMap { Int($0) }
        var expiry = asked.flatMap { $0 >= 0 ? $0 : nil } ?? SIPResponder.defaultExpiry
        if contact.map(SIPParser.trimmed) == "*" { expiry = 0 }
        if expiry > 0 && expiry < SIPResponder.minimumExpiry {
            return self.reply("423 Interval too small", extra: [("Min-Expires", String(SIPResponder.minimumExpiry))])
        }
        expiry = min(expiry, SIPResponder.maximumExpiry)
        var extra = [("Expires", String(expiry))]
        if expiry > 0, let contact {
            extra.append(("Contact", "<\(SIPAddress.uri(contact))>;expires=\(expiry)"))
        }
        let date = Date(timeIntervalSince1970: TimeInterval(self.now))
        extra.append(("Date", PosixDate.string(date, format: "EEE, dd MMM yyyy HH:mm:ss 'GMT'", timeZone: "GMT")))
        self.reply("200 OK", extra: extra)
    }

    /// INVITE: every caller is challenged; with a proven digest the call goes nowhere (the extension is not
    /// registered, an outside number has no route).
    private mutating func invite() {
        let dialed = SIPAddress.user(ofURI: self.request.uri) ?? ""
        self.commandFields.add("dialed", attackerText: dialed)
        self.commandFields.add("call_to", self.persona.extensions.contains(dialed) ? "extension" : "external")
        if let contact = self.request.first("contact") {
            self.commandFields.add("contact", attackerText: String(contact.prefix(512)))
        }
        self.recordBody(kind: "sdp")
        let caller = SIPAddress.user(self.request.first("from") ?? "") ?? ""
        switch self.verify(account: caller, headers: ["proxy-authorization", "authorization"]) {
        case .challenge(let stale):
            self.reply("100 Trying")
            self.challenge(stale: stale, proxy: true)
        case .mismatch, .refused:
            self.reply("403 Forbidden")
        case .accepted:
            self.reply("100 Trying")
            self.reply(self.persona.extensions.contains(dialed) ? "480 Temporarily Unavailable" : "404 Not Found")
        }
    }

    /// SUBSCRIBE: an event package is needed; the subscriber (From) is authenticated like a REGISTER.
    private mutating func subscribe() {
        guard self.request.first("event") != nil else { return self.reply("489 Bad Event") }
        guard let account = SIPAddress.user(self.request.first("from") ?? ""),
            self.persona.extensions.contains(account)
        else { return self.reply("404 Not found") }
        if self.authorized(account) { self.reply("404 Not Found") }
    }

    /// 401 with WWW-Authenticate, or 407 with Proxy-Authenticate.
    private mutating func challenge(stale: Bool, proxy: Bool) {
        let nonce = self.responder.nonce(
            callID: self.request.first("call-id") ?? "",
            slot: self.now / SIPResponder.nonceWindow
        )
        let value =
            "Digest algorithm=MD5, realm=\"\(self.persona.realm)\", nonce=\"\(nonce)\", qop=\"auth\""
            + (stale ? ", stale=true" : "")
        if proxy {
            self.reply("407 Proxy Authentication Required", extra: [("Proxy-Authenticate", value)])
        } else {
            self.reply("401 Unauthorized", extra: [("WWW-Authenticate", value)])
        }
    }

    /// A body worth keeping (an INVITE's SDP, a MESSAGE's text) as payload.received.
    private mutating func recordBody(kind: String) {
        let body = self.request.body
        guard !body.isEmpty else { return }
        var fields = EventFields()
        fields.add("kind", kind)
        if let type = self.request.first("content-type") { fields.add("content_type", attackerText: type) }
        fields.add("size", String(body.count))
        fields.add("sha256", ArtifactStore.sha256(body))
        fields.add("preview", attackerBytes: body.prefix(1024))
        if kind == "sdp" {
            let text = String(decoding: body.prefix(8192), as: UTF8.self)
            for line in text.split(whereSeparator: \.isNewline).prefix(64) {
                if line.hasPrefix("c=IN IP4 ") || line.hasPrefix("c=IN IP6 ") {
                    fields.add("media_ip", attackerText: String(line.dropFirst(9).prefix(64)))
                } else if line.hasPrefix("m=audio ") {
                    let port = line.dropFirst(8).prefix { $0.isNumber }
                    if !port.isEmpty { fields.add("media_port", String(port)) }
                }
            }
        }
        self.details.append((.payloadReceived, fields))
    }

    /// Extra headers a response keeps when it must shrink: without them it means nothing.
    static let essential: Set<String> = ["WWW-Authenticate", "Proxy-Authenticate", "Min-Expires"]

    /// Adds a response, made smaller (optional headers dropped) or left out when `byteBound` asks.
    private mutating func reply(
        _ status: String,
        extra: [(String, String)] = [],
        contactUser: String? = nil
    ) {
        var bytes = self.response(status, extra: extra, contactUser: contactUser)
        if let bound = self.byteBound, bytes.count > bound {
            bytes = self.response(status, extra: extra.filter { Self.essential.contains($0.0) }, minimal: true)
            guard bytes.count <= bound else { return }
        }
        self.replies.append(bytes)
        self.answered = status
    }

    /// A response as chan_sip's respprep lays it out: Via (the topmost answered), Record-Route (1xx/2xx), From,
    /// To (with our tag, except on 100), Call-ID, CSeq, Server, Allow, Supported, Contact, the extra headers,
    /// Content-Length.
    func response(
        _ status: String,
        extra: [(String, String)] = [],
        contactUser: String? = nil,
        minimal: Bool = false
    ) -> [UInt8] {
        // Written straight into the bytes sent: one buffer, no line strings joined and copied again.
        var out: [UInt8] = []
        out.reserveCapacity(640)
        func header(_ name: String, _ value: some StringProtocol) {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "SIP/2.0 ".utf8)
        out.append(contentsOf: status.utf8)
        out.append(contentsOf: "\r\n".utf8)
        var first = true
        for field in self.request.headers where field.name == "via" {
            header(
                "Via",
                first
                    ? SIPVia.answered(field.value, source: self.peer.source.ip, port: self.peer.source.port)
                    : field.value
            )
            first = false
        }
        if !minimal && (status.hasPrefix("1") || status.hasPrefix("2")) {
            for field in self.request.headers where field.name == "record-route" { header("Record-Route", field.value) }
        }
        let from = self.request.first("from")
        if let from { header("From", from) }
        if var to = self.request.first("to") {
            if SIPAddress.parameter("tag", in: to) == nil && !status.hasPrefix("100") {
                let fromTag = from.flatMap { SIPAddress.parameter("tag", in: $0) } ?? ""
                to += ";tag=as" + self.responder.derived("tag", self.request.first("call-id") ?? "", fromTag)
            }
            header("To", to)
        }
        if let callID = self.request.first("call-id") { header("Call-ID", callID) }
        if let cseq = self.request.first("cseq") { header("CSeq", cseq) }
        header(self.persona.serverHeader, self.persona.server)
        if !minimal {
            header("Allow", self.persona.allow)
            header("Supported", self.persona.supported)
            if let user = contactUser {
                let address = "\(user.isEmpty ? "" : user + "@")\(self.peer.local.ip):\(self.peer.local.port)"
                let transport = self.peer.transport == .tcp ? ";transport=tcp" : ""
                header("Contact", "<sip:\(address)\(transport)>")
            }
        }
        for (name, value) in extra { header(name, value) }
        out.append(contentsOf: "Content-Length: 0\r\n\r\n".utf8)
        return out
    }
}
