import DecnetCore

/// NTLMSSP (MS-NLMP) as a server that never lets anyone in unless it knows the password: it reads the client's
/// NEGOTIATE, answers with a CHALLENGE that names the persona, and turns the AUTHENTICATE into a hash line that
/// hashcat cracks offline (NetNTLMv2: mode 5600, NetNTLMv1: mode 5500).
///
/// Nothing here trusts a length or offset the client wrote: every field is checked against the message.
public enum NTLM {
    static let signature: [UInt8] = Array("NTLMSSP".utf8) + [0]

    /// Negotiate flags (MS-NLMP 2.2.2.5) this server uses.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let unicode = Flags(rawValue: 0x0000_0001)
        public static let oem = Flags(rawValue: 0x0000_0002)
        public static let requestTarget = Flags(rawValue: 0x0000_0004)
        public static let sign = Flags(rawValue: 0x0000_0010)
        public static let seal = Flags(rawValue: 0x0000_0020)
        public static let ntlm = Flags(rawValue: 0x0000_0200)
        public static let anonymous = Flags(rawValue: 0x0000_0800)
        public static let alwaysSign = Flags(rawValue: 0x0000_8000)
        public static let targetTypeDomain = Flags(rawValue: 0x0001_0000)
        public static let targetTypeServer = Flags(rawValue: 0x0002_0000)
        public static let extendedSessionSecurity = Flags(rawValue: 0x0008_0000)
        public static let targetInfo = Flags(rawValue: 0x0080_0000)
        public static let version = Flags(rawValue: 0x0200_0000)
        public static let key128 = Flags(rawValue: 0x2000_0000)
        public static let keyExchange = Flags(rawValue: 0x4000_0000)
        public static let key56 = Flags(rawValue: 0x8000_0000)

        /// What a Windows server answers with when the client asks for it.
        static let echoed: Flags = [
            .unicode, .requestTarget, .sign, .seal, .ntlm, .alwaysSign, .extendedSessionSecurity, .key128,
            .keyExchange, .key56,
        ]
    }

    /// Where a message is in the exchange.
    public enum MessageType: UInt32, Sendable { case negotiate = 1, challenge = 2, authenticate = 3 }

    /// The message type of an NTLMSSP token, or nil when it is not one.
    public static func messageType(_ token: [UInt8]) -> MessageType? {
        guard token.count >= 12, Array(token[0..<8]) == self.signature else { return nil }
        return MessageType(rawValue: token.le32(8))
    }

    /// The client's flags from a NEGOTIATE message (0 when it is not one).
    public static func negotiateFlags(_ token: [UInt8]) -> Flags {
        guard self.messageType(token) == .negotiate, token.count >= 16 else { return [] }
        return Flags(rawValue: token.le32(12))
    }

    /// The CHALLENGE message (MS-NLMP 2.2.1.2) for a client's flags, naming the persona.
    public static func challenge(
        _ serverChallenge: [UInt8],
        clientFlags: Flags,
        identity: WindowsIdentity,
        time: UInt64
    ) -> [UInt8] {
        precondition(serverChallenge.count == 8, "the server challenge is 8 bytes")
        var flags = clientFlags.intersection(Flags.echoed)
        flags.formUnion([.requestTarget, .ntlm, .targetInfo, .version])
        flags.insert(identity.isDomainMember ? .targetTypeDomain : .targetTypeServer)
        if !flags.contains(.unicode) { flags.insert(.oem) }
        let unicode = flags.contains(.unicode)
        let targetName = Self.encode(identity.isDomainMember ? identity.netbiosDomain : identity.netbiosName, unicode)
        let targetInfo = Self.targetInfo(identity, time: time)
        let payloadOffset = 56
        var message = self.signature
        message.appendLE32(MessageType.challenge.rawValue)
        message.appendField(length: targetName.count, offset: payloadOffset)
        message.appendLE32(flags.rawValue)
        message.append(contentsOf: serverChallenge)
        message.append(contentsOf: [UInt8](repeating: 0, count: 8))
        message.appendField(length: targetInfo.count, offset: payloadOffset + targetName.count)
        message.append(contentsOf: identity.ntlmVersion)
        message.append(contentsOf: targetName)
        message.append(contentsOf: targetInfo)
        return message
    }

    /// The server's reply to a client's NEGOTIATE: the CHALLENGE for its flags, inside SPNEGO's NegTokenResp
    /// (accept-incomplete) when the client wrapped its own token, bare when it did not. Every service that takes
    /// an NTLM login answers with this.
    public static func challenge(
        _ serverChallenge: [UInt8],
        answering negotiate: [UInt8],
        wrapped: Bool,
        identity: WindowsIdentity,
        time: UInt64
    ) -> [UInt8] {
        let message = self.challenge(
            serverChallenge,
            clientFlags: self.negotiateFlags(negotiate),
            identity: identity,
            time: time
        )
        return wrapped ? SPNEGO.negTokenResp(state: .acceptIncomplete, responseToken: message) : message
    }

    /// The AV pairs (MS-NLMP 2.2.2.1) a Windows host sends: NetBIOS and DNS names, the forest for domain members,
    /// and the time.
    static func targetInfo(_ identity: WindowsIdentity, time: UInt64) -> [UInt8] {
        var pairs: [UInt8] = []
        func add(_ id: UInt16, _ value: [UInt8]) {
            pairs.appendLE16(id)
            pairs.appendLE16(UInt16(value.count))
            pairs.append(contentsOf: value)
        }
        let domainNetbios = identity.isDomainMember ? identity.netbiosDomain : identity.netbiosName
        add(2, self.encode(domainNetbios, true))
        add(1, self.encode(identity.netbiosName, true))
        add(4, self.encode(identity.dnsDomain ?? identity.dnsHostName, true))
        add(3, self.encode(identity.dnsHostName, true))
        if let domain = identity.dnsDomain { add(5, self.encode(domain, true)) }
        var timestamp: [UInt8] = []
        for shift in stride(from: 0, to: 64, by: 8) {
            timestamp.append(UInt8(truncatingIfNeeded: time >> UInt64(shift)))
        }
        add(7, timestamp)
        add(0, [])
        return pairs
    }

    /// `text` as UTF-16LE (`unicode`) or UTF-8, into one array (not an array per code unit).
    static func encode(_ text: String, _ unicode: Bool) -> [UInt8] {
        guard unicode else { return Array(text.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 2)
        for unit in text.utf16 {
            out.append(UInt8(truncatingIfNeeded: unit))
            out.append(UInt8(truncatingIfNeeded: unit >> 8))
        }
        return out
    }

    /// What an AUTHENTICATE message (MS-NLMP 2.2.1.3) says.
    public struct Authenticate: Sendable, Equatable {
        public var flags: Flags
        public var user: [UInt8]
        public var domain: [UInt8]
        public var workstation: [UInt8]
        public var lmResponse: [UInt8]
        public var ntResponse: [UInt8]
        /// The client's VERSION (major, minor, build), when it sent one.
        public var clientVersion: (major: UInt8, minor: UInt8, build: UInt16)?
        /// EncryptedRandomSessionKey (with NEGOTIATE_KEY_EXCH): the session key, RC4-wrapped in the key exchange key.
        public var encryptedSessionKey: [UInt8] = []

        public static func == (lhs: Authenticate, rhs: Authenticate) -> Bool {
            lhs.flags == rhs.flags && lhs.user == rhs.user && lhs.domain == rhs.domain
                && lhs.workstation == rhs.workstation && lhs.lmResponse == rhs.lmResponse
                && lhs.ntResponse == rhs.ntResponse && lhs.encryptedSessionKey == rhs.encryptedSessionKey
                && lhs.clientVersion?.major == rhs.clientVersion?.major
                && lhs.clientVersion?.minor == rhs.clientVersion?.minor
                && lhs.clientVersion?.build == rhs.clientVersion?.build
        }

        /// An anonymous (null session) attempt: no user and no NT response.
        public var isAnonymous: Bool { self.user.isEmpty && self.ntResponse.count <= 1 && self.lmResponse.count <= 1 }

        /// Which response the client computed: NetNTLMv2 carries a blob after its 16-byte proof, v1 is 24 bytes.
        public var method: String {
            if self.isAnonymous { return "ntlm-anonymous" }
            return self.ntResponse.count > 24 ? "ntlmv2" : "ntlmv1"
        }

        /// The user name as text (UTF-16LE when the flags say Unicode).
        public var userName: String { NTLM.decode(self.user, self.flags) }
        public var domainName: String { NTLM.decode(self.domain, self.flags) }
        public var workstationName: String { NTLM.decode(self.workstation, self.flags) }

        /// The line hashcat cracks (`-m 5600` for v2, `-m 5500` for v1), or nil for anonymous or truncated
        /// responses.
        public func hashcat(serverChallenge: [UInt8]) -> (mode: Int, line: String)? {
            let prefix = Self.field(self.userName) + "::" + Self.field(self.domainName) + ":"
            if self.ntResponse.count > 24 {
                let proof = self.ntResponse[0..<16], blob = self.ntResponse[16...]
                return (5600, prefix + lowerHex(serverChallenge) + ":" + lowerHex(proof) + ":" + lowerHex(blob))
            }
            if self.ntResponse.count == 24 {
                // Without an LM response (or with an empty one) hashcat takes the NT response in its place; zeros
                // would read as extended session security and never crack.
                let lm =
                    self.lmResponse.count == 24 && self.lmResponse.contains { $0 != 0 }
                    ? self.lmResponse : self.ntResponse
                return (5500, prefix + lowerHex(lm) + ":" + lowerHex(self.ntResponse) + ":" + lowerHex(serverChallenge))
            }
            return nil
        }

        /// hashcat's lines are colon-separated: a colon in a name would shift the fields.
        static func field(_ text: String) -> String { String(text.map { $0 == ":" ? "_" : $0 }) }
    }

    /// Why a token is not a usable AUTHENTICATE message.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Reads an AUTHENTICATE message. Field lengths and offsets must lie inside the message; names are capped at
    /// 512 bytes and responses at 8 KiB (a real NTLMv2 response is a few hundred bytes).
    public static func authenticate(_ token: [UInt8]) throws(ParseError) -> Authenticate {
        guard self.messageType(token) == .authenticate else { throw ParseError(description: "not an AUTHENTICATE") }
        guard token.count >= 64 else { throw ParseError(description: "AUTHENTICATE of \(token.count) bytes") }
        func field(_ at: Int, _ name: String, limit: Int) throws(ParseError) -> [UInt8] {
            let length = Int(token.le16(at)), offset = Int(token.le32(at + 4))
            if length == 0 { return [] }
            guard length <= limit else { throw ParseError(description: "\(name) of \(length) bytes") }
            guard offset <= token.count, length <= token.count - offset else {
                throw ParseError(description: "\(name) at \(offset)+\(length) outside \(token.count) bytes")
            }
            return Array(token[offset..<(offset + length)])
        }
        let flags = Flags(rawValue: token.le32(60))
        var version: (UInt8, UInt8, UInt16)?
        if flags.contains(.version), token.count >= 72 {
            let lowest = [12, 20, 28, 36, 44, 52].map { Int(token.le32($0 + 4)) }.filter { $0 > 0 }.min() ?? 72
            if lowest >= 72 { version = (token[64], token[65], UInt16(token[66]) | UInt16(token[67]) << 8) }
        }
        return Authenticate(
            flags: flags,
            user: try field(36, "user name", limit: 512),
            domain: try field(28, "domain name", limit: 512),
            workstation: try field(44, "workstation", limit: 512),
            lmResponse: try field(12, "LM response", limit: 8192),
            ntResponse: try field(20, "NT response", limit: 8192),
            clientVersion: version,
            encryptedSessionKey: try field(52, "session key", limit: 16)
        )
    }

    /// UTF-16LE (with `.unicode`; a trailing odd byte is dropped, unpaired surrogates become U+FFFD) or UTF-8
    /// text. ASCII, which nearly every user, domain and host name is, is copied straight across: transcoding
    /// through the standard library's UTF-16 decoder was a twentieth of an mssql login's CPU.
    static func decode(_ bytes: [UInt8], _ flags: Flags) -> String {
        guard flags.contains(.unicode) else { return String(decoding: bytes, as: UTF8.self) }
        let count = bytes.count / 2
        let ascii = bytes.withUnsafeBufferPointer { bytes in
            (0..<count).allSatisfy { bytes[2 * $0] < 0x80 && bytes[2 * $0 + 1] == 0 }
        }
        if ascii {
            return String(unsafeUninitializedCapacity: count) { out in
                for index in 0..<count { out[index] = bytes[2 * index] }
                return count
            }
        }
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var index = 0
        while index + 1 < bytes.count {
            units.append(UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
            index += 2
        }
        return String(decoding: units, as: UTF16.self)
    }

    /// The fields a login event carries for an AUTHENTICATE: user, domain, workstation, the method, the client's
    /// OS version, the server challenge and the hashcat line.
    public static func loginFields(_ message: Authenticate, serverChallenge: [UInt8]) -> EventFields {
        var fields = EventFields()
        fields.add("username", attackerText: message.userName)
        fields.add("domain", attackerText: message.domainName)
        fields.add("workstation", attackerText: message.workstationName)
        fields.add("method", message.method)
        if let version = message.clientVersion {
            fields.add("client_os_version", "\(version.major).\(version.minor).\(version.build)")
        }
        fields.add("server_challenge", lowerHex(serverChallenge))
        if let (mode, line) = message.hashcat(serverChallenge: serverChallenge) {
            fields.add("hashcat_mode", String(mode))
            fields.add("hashcat", attackerText: line)
        }
        return fields
    }
}

func lowerHex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension Array where Element == UInt8 {
    func le16(_ at: Int) -> UInt16 {
        guard at >= 0, at + 2 <= self.count else { return 0 }
        return UInt16(self[at]) | UInt16(self[at + 1]) << 8
    }

    func le32(_ at: Int) -> UInt32 {
        guard at >= 0, at + 4 <= self.count else { return 0 }
        return UInt32(self[at]) | UInt32(self[at + 1]) << 8 | UInt32(self[at + 2]) << 16 | UInt32(self[at + 3]) << 24
    }

    func le64(_ at: Int) -> UInt64 { UInt64(self.le32(at)) | UInt64(self.le32(at + 4)) << 32 }

    mutating func appendLE16(_ value: UInt16) {
        self.append(UInt8(value & 0xFF))
        self.append(UInt8(value >> 8))
    }

    mutating func appendLE32(_ value: UInt32) {
        for shift in [0, 8, 16, 24] as [UInt32] { self.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func appendLE64(_ value: UInt64) {
        self.appendLE32(UInt32(truncatingIfNeeded: value))
        self.appendLE32(UInt32(truncatingIfNeeded: value >> 32))
    }

    /// An NTLM field descriptor: length, maximum length, offset.
    mutating func appendField(length: Int, offset: Int) {
        self.appendLE16(UInt16(length))
        self.appendLE16(UInt16(length))
        self.appendLE32(UInt32(offset))
    }
}
