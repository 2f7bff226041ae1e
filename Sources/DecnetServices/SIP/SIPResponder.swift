import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation

/// The PBX's answers to SIP requests, without sockets or clocks: one message in, the responses (in order) and
/// the events out. The same responder serves UDP and TCP.
///
/// It answers as Asterisk's chan_sip with `alwaysauthreject=no` does (the enumeration policy, documented in
/// docs/services/sip.md): OPTIONS is 200 for an extension that exists and 404 otherwise; REGISTER for an
/// unknown extension is `404 Not found`, for a known one a 401 digest challenge; a wrong digest is 403, a right
/// one 200. Every INVITE is challenged (100 Trying, then 407 Proxy-Authenticate), whoever it claims to be, so a
/// toll-fraud attempt leaves its digest as well as its number and SDP. Nonces are stateless: eight hex digits
/// keyed on the Call-ID and the half-minute, valid for that and the next half-minute.
struct SIPResponder: Sendable {
    enum Transport: String, Sendable {
        case udp = "UDP"
        case tcp = "TCP"
    }

    /// Where a message came from and arrived.
    struct Peer: Sendable {
        var transport: Transport
        var source: Endpoint
        var local: Endpoint
    }

    /// The responses to write, in order (a provisional one first where there is one), and the events.
    struct Outcome: Sendable {
        var replies: [[UInt8]] = []
        var events: [(EventID, EventFields)] = []
    }

    /// How a digest fared.
    enum Verdict: Equatable {
        /// No credentials, or ones for a nonce that is not (or no longer) ours: challenge (again).
        case challenge(stale: Bool)
        /// The digest proves the account's password.
        case accepted
        /// A wrong password, or an account the PBX does not hold.
        case refused
        /// The digest names another account than the request (chan_sip's AUTH_USERNAME_MISMATCH).
        case mismatch
    }

    let persona: SIPPersona
    /// The key nonces and tags are derived from (random per start).
    let secret: String

    /// Seconds a nonce stays valid at least (chan_sip forgets a dialog 32 s after its challenge).
    static let nonceWindow = 30
    /// REGISTER expiry bounds and default (chan_sip's min/max/default expiry).
    static let minimumExpiry = 60
    static let maximumExpiry = 3600
    static let defaultExpiry = 120

    init(persona: SIPPersona, secret: String) {
        self.persona = persona
        self.secret = secret
    }

    /// Answers one datagram or stream message. `now` is Unix time (nonces, the Date header); `byteBound` caps each
    /// reply (UDP: what the listener lets out for this request), dropping optional headers first.
    func respond(to bytes: [UInt8], peer: Peer, now: Int, stream: Bool = false, byteBound: Int? = nil) -> Outcome {
        var outcome = Outcome()
        switch SIPParser.parse(bytes, stream: stream) {
        case .keepalive:
            break
        case .response(let status):
            outcome.events.append(
                (.clientMalformed, .malformed("response \(status.prefix(8)) to no request", preview: bytes))
            )
        case .malformed(let problem):
            outcome.events.append((.clientMalformed, .malformed(problem, preview: bytes)))
        case .request(let request):
            var exchange = SIPExchange(responder: self, request: request, peer: peer, now: now, byteBound: byteBound)
            exchange.run()
            outcome.replies = exchange.replies
            outcome.events = exchange.events
        }
        return outcome
    }

    /// The response to a stream message that cannot be framed (a bad Content-Length over TCP): 400, then the
    /// connection closes. Nil when the header section does not even parse.
    func badFraming(_ head: [UInt8], problem: String, peer: Peer, now: Int) -> [UInt8]? {
        guard case .request(let request) = SIPParser.parse(head + [0x0D, 0x0A, 0x0D, 0x0A], stream: true),
            request.method != "ACK"
        else { return nil }
        let exchange = SIPExchange(responder: self, request: request, peer: peer, now: now, byteBound: nil)
        return exchange.response("400 Bad Request")
    }

    /// Eight hex digits of MD5 over the secret and `parts`.
    func derived(_ parts: String...) -> String {
        String(SIPDigest.md5Hex(([self.secret] + parts).joined(separator: "\u{1}")).prefix(8))
    }

    /// The nonce a challenge for this Call-ID carries in the half-minute `slot`.
    func nonce(callID: String, slot: Int) -> String { self.derived("nonce", callID, String(slot)) }

    /// Whether a nonce is one this PBX issued for the Call-ID in the last `nonceWindow`–2×`nonceWindow` seconds.
    func isFresh(_ nonce: String, callID: String, now: Int) -> Bool {
        let slot = now / Self.nonceWindow
        return nonce.lowercased() == self.nonce(callID: callID, slot: slot)
            || nonce.lowercased() == self.nonce(callID: callID, slot: slot - 1)
    }

    /// Checks the credentials of `request` for `account` (the extension the request acts as).
    func verify(
        _ request: SIPRequest,
        account: String,
        headers: [String],
        peer: Peer,
        now: Int
    ) -> (Verdict, [(EventID, EventFields)]) {
        guard let raw = headers.lazy.compactMap({ request.first($0) }).first else {
            return (.challenge(stale: false), [])
        }
        guard let digest = SIPDigest(header: raw) else {
            if raw.lowercased().hasPrefix("basic "), let (user, password) = Self.basic(raw) {
                var fields = EventFields.login(username: Array(user.utf8), password: password, method: "basic")
                fields.add("sip_method", attackerText: request.method)
                return (.challenge(stale: false), [(.loginFailed, fields)])
            }
            return (
                .challenge(stale: false),
                [(.clientMalformed, .malformed("unreadable credentials", preview: Array(raw.utf8)))]
            )
        }
        let name = String(digest.username.prefix { $0 != "@" })
        let password = self.persona.password(for: name)
        let proven =
            password.map { $0 == "*" || digest.proves(password: $0, method: request.method, realm: self.persona.realm) }
            ?? false
        let fresh = self.isFresh(digest.nonce, callID: request.first("call-id") ?? "", now: now)
        let verdict: Verdict
        let reason: String?
        if name != account {
            (verdict, reason) = (.mismatch, "username does not match the account")
        } else if !fresh {
            (verdict, reason) = (.challenge(stale: proven), "stale nonce")
        } else if proven {
            (verdict, reason) = (.accepted, nil)
        } else {
            (verdict, reason) = (.refused, password == nil ? "unknown account" : "wrong password")
        }
        var fields = EventFields()
        fields.add("username", attackerText: digest.username)
        if verdict == .accepted, let password, password != "*" {
            fields.add("password", attackerText: password, secret: true)
        }
        fields.add("method", "digest")
        fields.add("sip_method", attackerText: request.method)
        fields.add("realm", attackerText: digest.realm)
        fields.add("nonce", attackerText: digest.nonce)
        fields.add("uri", attackerText: digest.uri)
        fields.add("response", attackerText: digest.response)
        for (key, value) in [
            ("algorithm", digest.algorithm), ("qop", digest.qop), ("nc", digest.nc), ("cnonce", digest.cnonce),
        ] {
            if let value { fields.add(key, attackerText: value) }
        }
        if let line = digest.hashcatLine(method: request.method, server: peer.local.ip, client: peer.source.ip) {
            fields.add("hashcat_mode", "11400")
            fields.add("hashcat", attackerText: line)
        }
        if let reason { fields.add("reason", reason) }
        return (verdict, [(verdict == .accepted ? .loginSuccess : .loginFailed, fields)])
    }

    /// `Basic base64(user:password)`, which no SIP client should send but some brute forcers do.
    static func basic(_ header: String) -> (String, [UInt8])? {
        let encoded = SIPParser.trimmed(header.dropFirst(6))
        guard let data = Data(base64Encoded: encoded) else { return nil }
        let bytes = [UInt8](data)
        guard let colon = bytes.firstIndex(of: 0x3A) else { return nil }
        return (String(decoding: bytes[..<colon], as: UTF8.self), Array(bytes[(colon + 1)...]))
    }
}
