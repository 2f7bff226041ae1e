import DecnetCore
import DecnetServiceKit

/// An RFB server (RFC 6143) offering VNC authentication, without I/O: the version handshake (3.3, 3.7 or 3.8 as
/// the persona claims, never above what the client asks), the security types, a fresh 16-byte challenge per
/// connection, the response captured with it (crackable offline; tried at once against common passwords), the
/// failure each version sends, and for the persona's own password a desktop that records what is typed.
///
/// The client's bytes arrive in arbitrary chunks; they are buffered (at most `maximumBuffer`) and consumed as the
/// step in hand needs them.
struct VNCStateMachine {
    enum Action: Equatable {
        case send([UInt8])
        case emit(EventID, EventFields)
        case close
    }

    enum State: Equatable {
        case awaitingVersion
        case awaitingSecurityType
        case awaitingResponse
        case awaitingClientInit
        case session
        case closed
    }

    struct Configuration: Sendable, Equatable {
        /// The server's protocol version (3, 7 or 8 after "003.").
        var minor: Int
        /// The version string as sent (`003.008`, or an unusual one such as `003.889` or `004.001`).
        var versionText: String
        /// The password that logs in, if any.
        var password: String?
        var desktopName: String
        /// TigerVNC's wording, the VNC server Debian and Ubuntu ship (Linux deckies speaking 3.8): its failure
        /// reason is "Authentication failure", and a security type it did not offer gets a close without a word
        /// (Debian 12's Xtigervnc 1.12, measured in bench/differential). Others say "Authentication failed".
        var tigerVNC = false
    }

    static let maximumBuffer = 1 << 16

    let configuration: Configuration
    let challenge: [UInt8]
    private(set) var state = State.awaitingVersion
    private var buffer: [UInt8] = []
    /// The version agreed with the client (3, 7 or 8).
    private var minor = 8
    /// Keys typed in the session since the last Enter.
    private var typed: [UInt8] = []

    init(configuration: Configuration, challenge: [UInt8]) {
        precondition(challenge.count == 16, "the challenge is 16 bytes")
        self.configuration = configuration
        self.challenge = challenge
    }

    /// The ProtocolVersion message the server opens with.
    var greeting: [UInt8] { Self.greeting(self.configuration) }

    static func greeting(_ configuration: Configuration) -> [UInt8] { Array("RFB \(configuration.versionText)\n".utf8) }

    /// A ProtocolVersion message's length (`RFB 003.008\n`).
    static let versionLength = 12

    mutating func received(_ bytes: [UInt8]) -> [Action] {
        guard self.state != .closed else { return [] }
        guard self.buffer.count + bytes.count <= Self.maximumBuffer else {
            self.state = .closed
            return [
                .emit(
                    .clientMalformed,
                    EventFields.malformed("more than \(Self.maximumBuffer) bytes unread", preview: bytes)
                ), .close,
            ]
        }
        self.buffer += bytes
        var actions: [Action] = []
        while self.state != .closed, let step = self.step() {
            actions += step
        }
        return actions
    }

    /// The connection closed: keys typed since the last Enter are reported.
    mutating func connectionClosed() -> [Action] { self.flushTyped() }

    /// One step if the buffer holds enough for it, nil otherwise.
    private mutating func step() -> [Action]? {
        switch self.state {
        case .awaitingVersion:
            guard let version = self.take(Self.versionLength) else { return nil }
            return self.version(version)
        case .awaitingSecurityType:
            guard let type = self.take(1) else { return nil }
            return self.securityType(type[0])
        case .awaitingResponse:
            guard let response = self.take(16) else { return nil }
            return self.response(response)
        case .awaitingClientInit:
            guard let shared = self.take(1) else { return nil }
            self.state = .session
            var fields = EventFields()
            fields.add("client", "rfb")
            fields.add("shared", shared[0] == 0 ? "no" : "yes")
            return [.emit(.clientFingerprint, fields), .send(self.serverInit)]
        case .session:
            return self.clientMessage()
        case .closed:
            return nil
        }
    }

    private mutating func take(_ count: Int) -> [UInt8]? {
        guard self.buffer.count >= count else { return nil }
        defer { self.buffer.removeFirst(count) }
        return Array(self.buffer.prefix(count))
    }

    private mutating func version(_ bytes: [UInt8]) -> [Action] {
        let text = String(decoding: bytes, as: UTF8.self)
        var fields = EventFields()
        fields.add("client", "rfb")
        fields.add("version", attackerText: String(text.dropLast()))
        guard text.hasPrefix("RFB "), text.hasSuffix("\n"), let major = Int(text.dropFirst(4).prefix(3)),
            let clientMinor = Int(text.dropFirst(8).prefix(3))
        else {
            self.state = .closed
            return [.emit(.clientMalformed, EventFields.malformed("not an RFB version", preview: bytes)), .close]
        }
        if self.configuration.tigerVNC && major != 3 {
            // TigerVNC speaks 3.x only: no security types (a count of 0) and the reason, then the close.
            self.state = .closed
            let reason = Array("Client needs protocol version \(major).\(clientMinor), server has 3.8".utf8)
            return [.emit(.clientFingerprint, fields), .send([0] + Self.u32(reason.count) + reason), .close]
        }
        // RFC 6143 §7.1.1: other minors below 7 are read as 3.3, anything above 8 as 3.8.
        let wanted = major > 3 ? 8 : clientMinor >= 8 ? 8 : clientMinor == 7 ? 7 : 3
        self.minor = min(wanted, self.configuration.minor)
        if self.minor == 3 {
            // 3.3: the server names the one type it uses, then the challenge follows at once.
            self.state = .awaitingResponse
            return [.emit(.clientFingerprint, fields), .send([0, 0, 0, 2] + self.challenge)]
        }
        self.state = .awaitingSecurityType
        return [.emit(.clientFingerprint, fields), .send([1, 2])]
    }

    private mutating func securityType(_ type: UInt8) -> [Action] {
        guard type == 2 else {
            // A type that was not offered (realvnc-auth-bypass asks for None): refused, as RFB 3.8 servers do.
            self.state = .closed
            var fields = EventFields()
            fields.add("method", "rfb-security-type-\(type)")
            fields.add("error", "security type \(type) was not offered")
            if self.configuration.tigerVNC { return [.emit(.loginFailed, fields), .close] }
            return [.emit(.loginFailed, fields)] + self.failure(self.failureReason) + [.close]
        }
        self.state = .awaitingResponse
        return [.send(self.challenge)]
    }

    private mutating func response(_ response: [UInt8]) -> [Action] {
        var fields = EventFields()
        fields.add("method", "vnc-auth")
        fields.add("challenge_hex", lowerHex(self.challenge))
        fields.add("response_hex", lowerHex(response))
        // John the Ripper's vnc format; hashcat has no mode for it.
        fields.add("john", "$vnc$*" + lowerHex(self.challenge).uppercased() + "*" + lowerHex(response).uppercased())
        if let password = self.configuration.password,
            VNCAuth.response(challenge: self.challenge, password: Array(password.utf8)) == response
        {
            fields.add("password", attackerText: password, secret: true)
            self.state = .awaitingClientInit
            return [.emit(.loginSuccess, fields), .send([0, 0, 0, 0])]
        }
        if let weak = VNCAuth.recoverCommon(challenge: self.challenge, response: response) {
            fields.add("password", attackerText: weak, secret: true)
            fields.add("password_source", "common-password list")
        }
        self.state = .closed
        return [.emit(.loginFailed, fields)] + self.failure(self.failureReason) + [.close]
    }

    private var failureReason: String {
        self.configuration.tigerVNC ? "Authentication failure" : "Authentication failed"
    }

    /// SecurityResult failed; from 3.8 with its reason.
    private func failure(_ reason: String) -> [Action] {
        var bytes: [UInt8] = [0, 0, 0, 1]
        if self.minor >= 8 { bytes += Self.u32(reason.utf8.count) + Array(reason.utf8) }
        return [.send(bytes)]
    }

    /// ServerInit: 1024×768, 32 bits per pixel true colour, and the desktop's name.
    var serverInit: [UInt8] {
        var bytes: [UInt8] = [0x04, 0x00, 0x03, 0x00]
        bytes += [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]
        let name = Array(self.configuration.desktopName.utf8)
        return bytes + Self.u32(name.count) + name
    }

    /// One client message of a session (RFC 6143 §7.5), or nil until it is complete. Key presses are collected
    /// into lines; clipboard text is recorded; pixel formats, encodings, update requests and pointer moves are read
    /// and dropped (the screen never changes).
    private mutating func clientMessage() -> [Action]? {
        guard let type = self.buffer.first else { return nil }
        let length: Int
        switch type {
        case 0: length = 20
        case 2:
            guard self.buffer.count >= 4 else { return nil }
            length = 4 + 4 * (Int(self.buffer[2]) << 8 | Int(self.buffer[3]))
        case 3: length = 10
        case 4: length = 8
        case 5: length = 6
        case 6:
            guard self.buffer.count >= 8 else { return nil }
            let text = Int(Self.be32(self.buffer, 4))
            guard text <= Self.maximumBuffer - 8 else {
                self.state = .closed
                return [
                    .emit(.clientMalformed, EventFields.malformed("clipboard text of \(text) bytes", preview: [])),
                    .close,
                ]
            }
            length = 8 + text
        default:
            self.state = .closed
            return [
                .emit(.clientMalformed, EventFields.malformed("client message type \(type)", preview: self.buffer)),
                .close,
            ]
        }
        guard let message = self.take(length) else { return nil }
        switch type {
        case 4 where message[1] != 0:
            let key = Self.be32(message, 4)
            if key == 0xFF0D || key == 0xFF8D { return self.flushTyped() }
            if (0x20...0x7E).contains(key), self.typed.count < 4096 { self.typed.append(UInt8(key)) }
            return []
        case 6:
            var fields = EventFields()
            fields.add("kind", "clipboard")
            fields.add("size", String(message.count - 8))
            fields.add("preview", attackerBytes: message.dropFirst(8).prefix(200))
            return [.emit(.payloadReceived, fields)]
        default:
            return []
        }
    }

    private mutating func flushTyped() -> [Action] {
        guard !self.typed.isEmpty else { return [] }
        var fields = EventFields()
        fields.add("command", "keys")
        fields.add("args", attackerBytes: self.typed)
        self.typed = []
        return [.emit(.commandInput, fields)]
    }

    static func u32(_ value: Int) -> [UInt8] {
        [
            UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value),
        ]
    }

    static func be32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

}
