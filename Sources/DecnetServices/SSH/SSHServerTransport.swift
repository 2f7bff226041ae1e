import Crypto
import DecnetCore
import DecnetServiceKit
import NIOCore

/// The server side of the SSH transport and user authentication as a state machine: bytes in, bytes and events
/// out. It sends the claimed OpenSSH's identification and KEXINIT, records the client's identification, KEXINIT
/// and HASSH, runs sntrup761x25519-sha512 or curve25519-sha256 with an Ed25519 host key, protects packets with chacha20-poly1305 or
/// AES-CTR and an ETM HMAC,
/// honours strict KEX, and records every authentication attempt.
///
/// Logins the persona accepts go on to the connection protocol (`SSHConnection`); the others are refused after
/// PAM's failure delay. Password and keyboard-interactive answers are recorded, offered public keys with their
/// fingerprints.
///
/// What it does not do yet (issue 4): UMAC, the non-ETM MACs, the finite-field groups and ECDH on NIST curves, so
/// a client that picks them is disconnected; RSA host keys.
struct SSHServerTransport {
    enum Action: Equatable {
        case send([UInt8])
        case emit(EventID, EventFields)
        /// Wait this long before the next action (a failed login's delay).
        case pause(milliseconds: Int)
        /// Store as an artifact and raise its event.
        case keep(SSHArtifact)
        /// The RSA host key is still being made: wait for it, then call `hostKeyReady()`.
        case awaitHostKey
        case close
    }

    /// Who the server is beyond its transport: the shell behind a login and which logins work.
    struct Configuration: Sendable {
        var openSSH: OpenSSHProfile
        var shell: ShellProfile
        var users: AcceptedCredentials
        /// Whether keyboard-interactive is offered (Debian's and Ubuntu's sshd_config turn it off).
        var keyboardInteractive = false
        /// Milliseconds before a failed password is answered: pam_unix's 2 s, which PAM varies by ±25 %.
        var failureDelay: ClosedRange<Int> = 1500...2500
        /// sshd's LoginGraceTime (120 s): how long a connection may take to log in.
        var loginGraceTime: Duration = .seconds(120)

        init(
            openSSH: OpenSSHProfile,
            shell: ShellProfile = ShellProfile(
                hostname: "srv-01",
                distro: DistroCatalogue.all[0],
                osFamily: .linux,
                ip: "10.0.0.5",
                mac: "00:0c:29:4f:8e:35"
            ),
            users: AcceptedCredentials = AcceptedCredentials(nil)
        ) {
            self.openSSH = openSSH
            self.shell = shell
            self.users = users
        }
    }

    /// Disconnect reasons (RFC 4253 §11.1).
    enum Reason: UInt32 {
        case protocolError = 2
        case keyExchangeFailed = 3
        case macError = 5
        case serviceNotAvailable = 7
        case noMoreAuthMethodsAvailable = 14
    }

    static let kexImplemented: Set<String> = [
        "curve25519-sha256", "curve25519-sha256@libssh.org", "sntrup761x25519-sha512",
        "sntrup761x25519-sha512@openssh.com", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    ]
    static let hostKeyImplemented = SSHHostKeys.algorithms
    /// OpenSSH's MaxAuthTries default.
    static let maximumAuthAttempts = 6

    private enum Phase {
        case identification
        case kexInit
        case kexReply
        case newKeys
        case service
        case authentication
        /// Waiting for the answer to the keyboard-interactive password prompt.
        case keyboardInteractive
        case connection
        case closed
    }

    let configuration: Configuration
    var profile: OpenSSHProfile { self.configuration.openSSH }
    let hostKeys: SSHHostKeys
    private(set) var serverKexInit: SSHKexInit
    /// Where a key exchange returns to: the service request after the first, where it was for a rekey.
    private var afterKex = Phase.service
    private var connection: SSHConnection?
    private var promptedUser: [UInt8] = []
    private let started = ContinuousClock.now
    private var phase = Phase.identification
    private var buffer = ByteBuffer()
    private var clientIdentification: String?
    private var clientKexInit: [UInt8] = []
    private var clientOffersExtInfo = false
    private var strict = false
    private var sessionID: [UInt8]?
    private var inboundSequence: UInt32 = 0
    private var outboundSequence: UInt32 = 0
    private var inbound: SSHPacketProtection?
    private var outbound: SSHPacketProtection?
    private var pendingInbound: SSHPacketProtection?
    private var negotiated: (cipherIn: String, cipherOut: String, macIn: SSHMAC?, macOut: SSHMAC?)?
    private var kex = "curve25519-sha256"
    /// The host key algorithms the client listed, for the RSA signature type of a host key proof.
    private var clientHostKeyAlgorithms: [String] = []
    /// zlib@openssh.com per direction (inbound, outbound), switched on after a successful login.
    private var delayedCompression = (false, false)
    private var inboundCompression: SSHCompression?
    private var outboundCompression: SSHCompression?
    /// Reading stops until the negotiated RSA host key is made.
    private var awaitingHostKey = false
    /// Group exchange (RFC 4419): the client's min, n, max and the group sent for them.
    private var exchangeGroup: (request: [UInt8], group: SSHDiffieHellmanGroup)?
    private var isGroupExchange: Bool { self.kex == "diffie-hellman-group-exchange-sha256" }

    /// Messages of a key exchange: KEXINIT, NEWKEYS, and the method-specific 30 to 34.
    static let keyExchangeMessages: Set<UInt8> = [20, 21, 30, 31, 32, 33, 34]
    private var hostKeyAlgorithm = "ssh-ed25519"
    private var authAttempts = 0

    init(configuration: Configuration, hostKeys: SSHHostKeys) {
        self.configuration = configuration
        self.hostKeys = hostKeys
        self.serverKexInit = configuration.openSSH.kexInit()
    }

    init(profile: OpenSSHProfile, hostKeys: SSHHostKeys) {
        self.init(configuration: Configuration(openSSH: profile), hostKeys: hostKeys)
    }

    /// The transport as it stands after its first key exchange (the client's identification and KEXINIT read,
    /// `sessionID` agreed), waiting for the service request, but with its packets left unprotected: for the fuzzer
    /// (`FuzzEntries.sshSession`), which cannot encrypt, to reach what sits behind the cipher.
    init(afterKeyExchangeOf configuration: Configuration, hostKeys: SSHHostKeys, sessionID: [UInt8]) {
        self.init(configuration: configuration, hostKeys: hostKeys)
        self.clientIdentification = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
        self.clientKexInit = configuration.openSSH.kexInit().payload
        self.sessionID = sessionID
        self.phase = .service
    }

    /// The RSA host key the exchange waits for is made: reading goes on (call `receive` with no bytes).
    mutating func hostKeyReady() { self.awaitingHostKey = false }

    /// The connection ended: what the session still holds (a shell's recording, an unfinished upload).
    mutating func finish() -> [Action] {
        guard var connection = self.connection else { return [] }
        self.connection = nil
        return connection.finish().compactMap { action in
            switch action {
            case .keep(let artifact): .keep(artifact)
            case .emit(let id, let fields): .emit(id, fields)
            case .send: nil
            }
        }
    }

    /// The identification line, sent as soon as the client connects.
    func greeting() -> [UInt8] { Array((self.profile.identification + "\r\n").utf8) }

    /// Feeds bytes from the client.
    mutating func receive(_ bytes: ByteBuffer) -> [Action] {
        guard self.phase != .closed else { return [] }
        var bytes = bytes
        self.buffer.writeBuffer(&bytes)
        var actions: [Action] = []
        do {
            if self.phase == .identification {
                let identification: SSHWire.Identification
                do {
                    guard let line = try self.readIdentification() else { return [] }
                    identification = try SSHWire.Identification(line: line)
                } catch let error as SSHWire.ProtocolError {
                    return self.refuseIdentification(error)
                }
                self.clientIdentification = identification.line
                self.phase = .kexInit
                actions.append(.send(try self.packet(self.serverKexInit.payload)))
            }
            while self.phase != .closed, !self.awaitingHostKey, let payload = try self.readPacket() {
                actions += try self.handle(payload)
            }
        } catch let error as SSHWire.ProtocolError {
            actions += self.disconnect(.protocolError, error.description, malformed: error.description)
        } catch {
            actions += self.disconnect(.protocolError, "internal error", malformed: "\(error)")
        }
        // An unread identification or packet that keeps growing is refused by the read limits above.
        self.buffer.discardReadBytes()
        return actions
    }

    // MARK: framing

    /// What OpenSSH's sshd says to a client whose first line is not an identification it takes (kex.c,
    /// kex_exchange_identification): plain text, not a packet, and the connection ends; "Protocol major versions
    /// differ." for an SSH-1 client, "Invalid SSH identification string." for anything else (a line without
    /// `SSH-`, a NUL, a CR without LF, a line too long). nmap's probes of an SSH port get these answers from the
    /// real server (bench/differential).
    private mutating func refuseIdentification(_ error: SSHWire.ProtocolError) -> [Action] {
        var fields = EventFields()
        fields.add("error", error.description)
        self.phase = .closed
        let text =
            error.description.hasPrefix("protocol version")
            ? "Protocol major versions differ." : "Invalid SSH identification string."
        return [.emit(.clientMalformed, fields), .send(Array((text + "\r\n").utf8)), .close]
    }

    private mutating func readIdentification() throws -> String? {
        let view = self.buffer.readableBytesView
        guard let newline = try SSHWire.identificationEnd(view) else { return nil }
        var line = Array(view[view.startIndex..<newline])
        if line.last == 0x0D { line.removeLast() }
        self.buffer.moveReaderIndex(to: newline + 1)
        return String(decoding: line, as: UTF8.self)
    }

    private mutating func readPacket() throws -> [UInt8]? {
        let payload: [UInt8]?
        if var protection = self.inbound {
            payload = try protection.open(&self.buffer, sequence: self.inboundSequence)
            self.inbound = protection
        } else {
            payload = try SSHWire.readPlainPacket(&self.buffer)
        }
        guard let payload else { return nil }
        guard !payload.isEmpty else { throw SSHWire.ProtocolError("empty packet") }
        self.inboundSequence &+= 1
        if let compression = self.inboundCompression { return try compression.decompress(payload) }
        return payload
    }

    private mutating func packet(_ payload: [UInt8]) throws -> [UInt8] {
        let payload = self.outboundCompression?.compress(payload) ?? payload
        let bytes: [UInt8]
        if var protection = self.outbound {
            bytes = try protection.seal(payload, sequence: self.outboundSequence)
            self.outbound = protection
        } else {
            bytes = SSHWire.plainPacket(payload)
        }
        self.outboundSequence &+= 1
        return bytes
    }

    private mutating func disconnect(_ reason: Reason, _ text: String, malformed: String? = nil) -> [Action] {
        var actions: [Action] = []
        if let malformed {
            var fields = EventFields()
            fields.add("error", malformed)
            actions.append(.emit(.clientMalformed, fields))
        }
        var writer = SSHWriter()
        writer.byte(1)
        writer.uint32(reason.rawValue)
        writer.string(text)
        writer.string("")
        if let bytes = try? self.packet(writer.bytes) { actions.append(.send(bytes)) }
        self.phase = .closed
        actions.append(.close)
        return actions
    }

    // MARK: messages

    private mutating func handle(_ payload: [UInt8]) throws -> [Action] {
        let message = payload[0]
        // Strict KEX (Terrapin): nothing but the key exchange before the first NEWKEYS.
        if self.strict && self.sessionID == nil && !Self.keyExchangeMessages.contains(message) {
            return self.disconnect(.protocolError, "strict KEX violation: unexpected message \(message)")
        }
        switch message {
        case 1:  // DISCONNECT
            self.phase = .closed
            return [.close]
        case 2, 4:  // IGNORE, DEBUG
            return []
        case 3:  // UNIMPLEMENTED
            return []
        case 20 where self.phase == .kexInit:
            return try self.receivedKexInit(payload)
        case 20 where self.sessionID != nil && [.service, .authentication, .connection].contains(self.phase):
            // The client rekeys: our KEXINIT, then the exchange as the first time, then back to where it was.
            self.afterKex = self.phase
            self.serverKexInit = self.profile.kexInit()
            let ours = try self.packet(self.serverKexInit.payload)
            self.phase = .kexInit
            return [.send(ours)] + (try self.receivedKexInit(payload))
        case 30 where self.phase == .kexReply && !self.isGroupExchange:
            return try self.receivedECDHInit(payload)
        case 34 where self.phase == .kexReply && self.isGroupExchange && self.exchangeGroup == nil:
            return try self.receivedGroupRequest(payload)
        case 32 where self.phase == .kexReply && self.exchangeGroup != nil:
            return try self.receivedECDHInit(payload)
        case 21 where self.phase == .newKeys:
            self.inbound = self.pendingInbound
            self.pendingInbound = nil
            if self.strict { self.inboundSequence = 0 }
            self.phase = self.afterKex
            return []
        case 5 where self.phase == .service:
            var reader = SSHReader(Array(payload.dropFirst()))
            let service = try reader.text(maximum: 256)
            guard service == "ssh-userauth" else {
                return self.disconnect(.serviceNotAvailable, "Unsupported service")
            }
            var writer = SSHWriter()
            writer.byte(6)
            writer.string(service)
            self.phase = .authentication
            return [.send(try self.packet(writer.bytes))]
        case 50 where self.phase == .authentication:
            return try self.receivedAuthRequest(payload)
        case 50 where self.phase == .connection:
            return []  // sshd ignores a request after success
        case 61 where self.phase == .keyboardInteractive:
            var reader = SSHReader(Array(payload.dropFirst()))
            let count = try reader.uint32()
            let answer = count > 0 ? try reader.string(maximum: 4096) : []
            self.phase = .authentication
            return try self.judge(user: self.promptedUser, password: answer, method: "keyboard-interactive")
        case 80 where self.phase == .connection && Self.isProofRequest(payload):
            return [.send(try self.packet(try self.proveHostKeys(payload)))]
        case 80...100 where self.phase == .connection:
            guard var connection = self.connection else { return [] }
            let actions = try connection.receive(payload)
            self.connection = connection
            return try actions.map { action in
                switch action {
                case .send(let payload): .send(try self.packet(payload))
                case .emit(let id, let fields): .emit(id, fields)
                case .keep(let artifact): .keep(artifact)
                }
            }
        default:
            if self.sessionID == nil || Self.keyExchangeMessages.contains(message) {
                return self.disconnect(.protocolError, "protocol error: unexpected message \(message)")
            }
            var writer = SSHWriter()
            writer.byte(3)
            writer.uint32(self.inboundSequence &- 1)
            return [.send(try self.packet(writer.bytes))]
        }
    }

    private mutating func receivedKexInit(_ payload: [UInt8]) throws -> [Action] {
        let client = try SSHKexInit(payload: payload)
        self.clientKexInit = payload
        self.clientOffersExtInfo = self.sessionID == nil && client.kexAlgorithms.contains("ext-info-c")
        self.clientHostKeyAlgorithms = client.serverHostKeyAlgorithms
        if self.sessionID == nil {
            self.strict =
                client.kexAlgorithms.contains("kex-strict-c-v00@openssh.com")
                && self.serverKexInit.kexAlgorithms.contains("kex-strict-s-v00@openssh.com")
        }
        if self.strict && self.sessionID == nil && self.inboundSequence != 1 {
            return self.disconnect(.protocolError, "strict KEX violation: KEXINIT was not the first packet")
        }
        var fields = EventFields()
        fields.add("hassh", client.hassh)
        fields.add("hassh_algorithms", attackerText: client.hasshClientText)
        fields.add("client_version", attackerText: self.clientIdentification ?? "")
        fields.add("host_key_algorithms", attackerText: client.serverHostKeyAlgorithms.joined(separator: ","))
        var actions: [Action] = [.emit(.clientFingerprint, fields)]

        func choose(_ clientList: [String], _ serverList: [String]) -> String? {
            clientList.first { serverList.contains($0) }
        }
        let server = self.serverKexInit
        guard let kex = choose(client.kexAlgorithms, server.kexAlgorithms),
            let hostKey = choose(client.serverHostKeyAlgorithms, server.serverHostKeyAlgorithms),
            let cipherIn = choose(client.encryptionClientToServer, server.encryptionClientToServer),
            let cipherOut = choose(client.encryptionServerToClient, server.encryptionServerToClient),
            let macIn = choose(client.macClientToServer, server.macClientToServer),
            let macOut = choose(client.macServerToClient, server.macServerToClient),
            let compressIn = choose(client.compressionClientToServer, server.compressionClientToServer),
            let compressOut = choose(client.compressionServerToClient, server.compressionServerToClient)
        else {
            actions += self.disconnect(.keyExchangeFailed, "no matching algorithm")
            return actions
        }
        // An AEAD cipher needs no MAC; the others need one of the implemented ETM MACs.
        let inMAC = SSHMAC(rawValue: macIn)
        let outMAC = SSHMAC(rawValue: macOut)
        guard Self.kexImplemented.contains(kex), Self.hostKeyImplemented.contains(hostKey),
            SSHPacketProtection.ciphers[cipherIn] != nil, SSHPacketProtection.ciphers[cipherOut] != nil,
            SSHPacketProtection.isAEAD(cipherIn) || inMAC != nil,
            SSHPacketProtection.isAEAD(cipherOut) || outMAC != nil
        else {
            var unsupported = EventFields()
            unsupported.add("error", "negotiated \(kex), \(hostKey), \(cipherIn), \(macIn): not implemented yet")
            actions.append(.emit(.clientMalformed, unsupported))
            actions += self.disconnect(.keyExchangeFailed, "no matching algorithm")
            return actions
        }
        self.negotiated = (cipherIn, cipherOut, inMAC, outMAC)
        self.kex = kex
        self.hostKeyAlgorithm = hostKey
        self.delayedCompression = (compressIn == "zlib@openssh.com", compressOut == "zlib@openssh.com")
        self.phase = .kexReply
        if SSHHostKeys.isRSA(hostKey) && self.hostKeys.rsa.value == nil {
            self.awaitingHostKey = true
            actions.append(.awaitHostKey)
        }
        return actions
    }

    /// The server's half of the key agreement: its public value, K as it enters the hash and the key
    /// derivation, and the exchange's hash function; nil for a client value that is not a valid key.
    private struct Agreement {
        var serverPublic: [UInt8]
        var secret: [UInt8]
        var digest: ([UInt8]) -> [UInt8]
    }

    private func agree(_ clientPublic: [UInt8]) throws -> Agreement? {
        /// K as an mpint (RFC 4253 §8, RFC 5656 §4, RFC 8731 §3).
        func mpint(_ shared: [UInt8]) -> [UInt8] {
            var writer = SSHWriter()
            writer.mpint(unsigned: shared)
            return writer.bytes
        }
        func bytes(_ secret: SharedSecret) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }
        switch self.kex {
        case "ecdh-sha2-nistp256":
            guard let peer = try? P256.KeyAgreement.PublicKey(x963Representation: clientPublic) else { return nil }
            let ephemeral = P256.KeyAgreement.PrivateKey()
            return Agreement(
                serverPublic: Array(ephemeral.publicKey.x963Representation),
                secret: mpint(bytes(try ephemeral.sharedSecretFromKeyAgreement(with: peer))),
                digest: { Array(SHA256.hash(data: $0)) }
            )
        case "ecdh-sha2-nistp384":
            guard let peer = try? P384.KeyAgreement.PublicKey(x963Representation: clientPublic) else { return nil }
            let ephemeral = P384.KeyAgreement.PrivateKey()
            return Agreement(
                serverPublic: Array(ephemeral.publicKey.x963Representation),
                secret: mpint(bytes(try ephemeral.sharedSecretFromKeyAgreement(with: peer))),
                digest: { Array(SHA384.hash(data: $0)) }
            )
        case "ecdh-sha2-nistp521":
            guard let peer = try? P521.KeyAgreement.PublicKey(x963Representation: clientPublic) else { return nil }
            let ephemeral = P521.KeyAgreement.PrivateKey()
            return Agreement(
                serverPublic: Array(ephemeral.publicKey.x963Representation),
                secret: mpint(bytes(try ephemeral.sharedSecretFromKeyAgreement(with: peer))),
                digest: { Array(SHA512.hash(data: $0)) }
            )
        default:
            break
        }
        if let group = self.exchangeGroup?.group ?? SSHDiffieHellmanGroup.named(self.kex) {
            return try Self.diffieHellman(clientPublic, group: group, kex: self.kex)
        }
        let hybrid = self.kex.hasPrefix("sntrup761x25519")
        // curve25519-sha256: Q_C is an X25519 key. sntrup761x25519-sha512: an sntrup761 public key, then one.
        let keyLength = hybrid ? SNTRUP761.publicKeyBytes + 32 : 32
        guard clientPublic.count == keyLength,
            let peer = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: clientPublic.suffix(32))
        else { return nil }
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let shared = bytes(try ephemeral.sharedSecretFromKeyAgreement(with: peer))
        guard shared.contains(where: { $0 != 0 }) else { return nil }
        let serverPublic = Array(ephemeral.publicKey.rawRepresentation)
        guard hybrid else {
            return Agreement(
                serverPublic: serverPublic,
                secret: mpint(shared),
                digest: { Array(SHA256.hash(data: $0)) }
            )
        }
        // The hybrid's K: a string of SHA-512(sntrup761 secret ‖ X25519 secret) (OpenSSH's PROTOCOL).
        let encapsulated = try SNTRUP761.encapsulate(to: Array(clientPublic.prefix(SNTRUP761.publicKeyBytes)))
        var secret = SSHWriter()
        secret.string(Array(SHA512.hash(data: encapsulated.secret + shared)))
        return Agreement(
            serverPublic: encapsulated.ciphertext + serverPublic,
            secret: secret.bytes,
            digest: { Array(SHA512.hash(data: $0)) }
        )
    }

    /// RFC 4253 §8 over one of the MODP groups: e must lie in (1, p - 1); y has 512 bits, as sshd picks for
    /// these ciphers; f = g^y, K = e^y mod p, both as mpints.
    private static func diffieHellman(
        _ clientPublic: [UInt8],
        group: SSHDiffieHellmanGroup,
        kex: String
    ) throws
        -> Agreement?
    {
        // e arrives as an mpint: positive, at most one leading zero.
        guard let first = clientPublic.first, first & 0x80 == 0 else { return nil }
        let e = Array(clientPublic.drop { $0 == 0 })
        var pMinusOne = group.prime
        pMinusOne[pMinusOne.count - 1] -= 1  // the primes end in 0xFF
        guard e.count > 1 || (e.first ?? 0) > 1, Self.less(e, than: pMinusOne) else { return nil }
        let y = SSHWire.randomBytes(64)
        guard let f = SSHModularArithmetic.power(group.generator, y, modulus: group.prime),
            let k = SSHModularArithmetic.power(e, y, modulus: group.prime)
        else { return nil }
        func mpint(_ value: [UInt8]) -> [UInt8] {
            var writer = SSHWriter()
            writer.mpint(unsigned: value)
            return writer.bytes
        }
        let sha512 = kex.hasSuffix("sha512")
        return Agreement(
            serverPublic: Array(mpint(f).dropFirst(4)),
            secret: mpint(k),
            digest: sha512 ? { Array(SHA512.hash(data: $0)) } : { Array(SHA256.hash(data: $0)) }
        )
    }

    /// Whether big-endian `a` (no leading zeros) is less than big-endian `b` (no leading zeros).
    private static func less(_ a: [UInt8], than b: [UInt8]) -> Bool {
        a.count != b.count ? a.count < b.count : a.lexicographicallyPrecedes(b)
    }

    /// KEX_DH_GEX_REQUEST: min, n, max bits; answered with the group (KEX_DH_GEX_GROUP).
    private mutating func receivedGroupRequest(_ payload: [UInt8]) throws -> [Action] {
        var reader = SSHReader(Array(payload.dropFirst()))
        let minimum = try reader.uint32()
        let preferred = try reader.uint32()
        let maximum = try reader.uint32()
        // sshd's checks (kexgexs.c): 1024 <= min <= n <= max <= 8192, after clamping.
        guard minimum <= preferred, preferred <= maximum, maximum >= 2048, minimum <= 8192 else {
            return self.disconnect(
                .keyExchangeFailed,
                "DH_GEX_REQUEST, bad parameters: \(minimum) !< \(preferred) !< \(maximum)"
            )
        }
        let group = SSHDiffieHellmanGroup.fallback(maximum: maximum)
        self.exchangeGroup = (Array(payload.dropFirst()), group)
        var writer = SSHWriter()
        writer.byte(31)
        writer.mpint(unsigned: group.prime)
        writer.mpint(unsigned: group.generator)
        return [.send(try self.packet(writer.bytes))]
    }

    private mutating func receivedECDHInit(_ payload: [UInt8]) throws -> [Action] {
        var reader = SSHReader(Array(payload.dropFirst()))
        let clientPublic = try reader.string(maximum: 2048)
        guard let agreement = try self.agree(clientPublic) else {
            return self.disconnect(.keyExchangeFailed, "bad client public key")
        }
        let serverPublic = agreement.serverPublic
        let digest = agreement.digest
        var secret = SSHWriter()
        secret.bytes = agreement.secret
        let hostKeyBlob = try self.hostKeys.blob(self.hostKeyAlgorithm)
        var exchange = SSHWriter()
        exchange.string(self.clientIdentification ?? "")
        exchange.string(self.profile.identification)
        exchange.string(self.clientKexInit)
        exchange.string(self.serverKexInit.payload)
        exchange.string(hostKeyBlob)
        if let (request, group) = self.exchangeGroup {
            // RFC 4419 §3: min, n, max, p, g between K_S and e.
            exchange.bytes += request
            exchange.mpint(unsigned: group.prime)
            exchange.mpint(unsigned: group.generator)
        }
        exchange.string(clientPublic)
        exchange.string(serverPublic)
        let hash = digest(exchange.bytes + secret.bytes)
        if self.sessionID == nil { self.sessionID = hash }

        var reply = SSHWriter()
        reply.byte(self.exchangeGroup == nil ? 31 : 33)
        self.exchangeGroup = nil
        reply.string(hostKeyBlob)
        reply.string(serverPublic)
        reply.string(try self.hostKeys.sign(hash, algorithm: self.hostKeyAlgorithm))
        var actions: [Action] = [.send(try self.packet(reply.bytes))]
        actions.append(.send(try self.packet([21])))
        if self.strict { self.outboundSequence = 0 }

        // RFC 4253 §7.2: keys from K, H and the session id, with the key exchange's hash.
        let sessionID = self.sessionID ?? hash
        func derive(_ letter: UInt8, _ length: Int) -> [UInt8] {
            var key = digest(secret.bytes + hash + [letter] + sessionID)
            while key.count < length { key += digest(secret.bytes + hash + key) }
            return Array(key.prefix(length))
        }
        guard let negotiated = self.negotiated,
            let inLengths = SSHPacketProtection.ciphers[negotiated.cipherIn],
            let outLengths = SSHPacketProtection.ciphers[negotiated.cipherOut]
        else { return self.disconnect(.keyExchangeFailed, "no matching algorithm") }
        self.pendingInbound = SSHPacketProtection(
            cipher: negotiated.cipherIn,
            key: derive(0x43, inLengths.key),
            iv: derive(0x41, inLengths.iv),
            macKey: derive(0x45, negotiated.macIn?.keyLength ?? 0),
            mac: negotiated.macIn
        )
        self.outbound = SSHPacketProtection(
            cipher: negotiated.cipherOut,
            key: derive(0x44, outLengths.key),
            iv: derive(0x42, outLengths.iv),
            macKey: derive(0x46, negotiated.macOut?.keyLength ?? 0),
            mac: negotiated.macOut
        )
        if self.clientOffersExtInfo {
            // What OpenSSH 9.2 sends right after its NEWKEYS.
            var info = SSHWriter()
            info.byte(7)
            info.uint32(2)
            info.string("server-sig-algs")
            info.string(
                "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512"
            )
            info.string("publickey-hostbound@openssh.com")
            info.string("0")
            actions.append(.send(try self.packet(info.bytes)))
        }
        self.phase = .newKeys
        return actions
    }

    /// The methods sshd lists as able to continue.
    private var methods: String {
        self.configuration.keyboardInteractive ? "publickey,password,keyboard-interactive" : "publickey,password"
    }

    private mutating func receivedAuthRequest(_ payload: [UInt8]) throws -> [Action] {
        var reader = SSHReader(Array(payload.dropFirst()))
        let user = try reader.string(maximum: 1024)
        _ = try reader.string(maximum: 256)
        let method = try reader.text(maximum: 256)
        var actions: [Action] = []
        switch method {
        case "password":
            let changing = try reader.bool()
            let password = try reader.string(maximum: 4096)
            if changing {
                // A password change request: recorded as a failed login, never honoured.
                self.authAttempts += 1
                actions.append(
                    .emit(.loginFailed, EventFields.login(username: user, password: password, method: "password"))
                )
                return actions + (try self.failure())
            }
            return try self.judge(user: user, password: password, method: "password")
        case "keyboard-interactive" where self.configuration.keyboardInteractive:
            // PAM's one prompt, as sshd sends it.
            self.promptedUser = user
            self.phase = .keyboardInteractive
            var writer = SSHWriter()
            writer.byte(60)
            writer.string("")
            writer.string("")
            writer.string("")
            writer.uint32(1)
            writer.string("Password: ")
            writer.bool(false)
            return [.send(try self.packet(writer.bytes))]
        case "publickey":
            let signed = try reader.bool()
            let algorithm = try reader.text(maximum: 256)
            let blob = try reader.string(maximum: 16_384)
            var fields = EventFields()
            fields.add("username", attackerBytes: user)
            fields.add("method", "publickey")
            fields.add("key_type", attackerText: algorithm)
            fields.add("fingerprint", SSHHostKeys.fingerprint(blob))
            fields.add("signed", signed ? "true" : "false")
            actions.append(.emit(.loginFailed, fields))
            self.authAttempts += 1
        case "none":
            break
        default:
            self.authAttempts += 1
        }
        return actions + (try self.failure())
    }

    /// A password (or the answer to the password prompt) against the persona's users.
    private mutating func judge(user: [UInt8], password: [UInt8], method: String) throws -> [Action] {
        let fields = EventFields.login(username: user, password: password, method: method)
        guard self.configuration.users.accepts(user: user, password: password) else {
            self.authAttempts += 1
            let delay = self.configuration.failureDelay
            return [.emit(.loginFailed, fields), .pause(milliseconds: Int.random(in: delay))]
                + (try self.failure())
        }
        self.phase = .connection
        self.connection = SSHConnection(
            profile: self.configuration.shell,
            user: String(decoding: user, as: UTF8.self),
            clientIsOpenSSH: self.clientIdentification?.contains("OpenSSH") ?? false,
            started: self.started
        )
        let success = try self.packet([52])
        // zlib@openssh.com starts after USERAUTH_SUCCESS, in both directions.
        if self.delayedCompression.0 { self.inboundCompression = SSHCompression(deflating: false) }
        if self.delayedCompression.1 { self.outboundCompression = SSHCompression(deflating: true) }
        return [.emit(.loginSuccess, fields), .send(success), .send(try self.packet(self.hostKeysNotice()))]
    }

    /// USERAUTH_FAILURE, or sshd's disconnect once MaxAuthTries is reached.
    private mutating func failure() throws -> [Action] {
        if self.authAttempts >= Self.maximumAuthAttempts {
            return self.disconnect(.protocolError, "Too many authentication failures")
        }
        var writer = SSHWriter()
        writer.byte(51)
        writer.string(self.methods)
        writer.bool(false)
        return [.send(try self.packet(writer.bytes))]
    }

    // MARK: host key rotation (OpenSSH's PROTOCOL, "hostkeys-00@openssh.com")

    /// The host keys of this server, in sshd's default HostKey order (RSA while it is still being made is left
    /// out).
    private var hostKeyBlobs: [[UInt8]] {
        ["rsa-sha2-512", "ecdsa-sha2-nistp256", "ssh-ed25519"].compactMap { try? self.hostKeys.blob($0) }
    }

    /// What sshd sends once a login succeeded: every host key, so a client with UpdateHostKeys learns them.
    private func hostKeysNotice() -> [UInt8] {
        var writer = SSHWriter()
        writer.byte(80)
        writer.string("hostkeys-00@openssh.com")
        writer.bool(false)
        for blob in self.hostKeyBlobs { writer.string(blob) }
        return writer.bytes
    }

    private static func isProofRequest(_ payload: [UInt8]) -> Bool {
        var reader = SSHReader(payload)
        _ = try? reader.byte()
        return (try? reader.text(maximum: 64)) == "hostkeys-prove-00@openssh.com"
    }

    /// A client asks the server to prove it holds keys it announced: a signature per key over the request name,
    /// the session id and the key (RSA with the key exchange's RSA signature type, else the strongest the client
    /// listed, as sshd does); a key this server does not hold gets REQUEST_FAILURE.
    private func proveHostKeys(_ payload: [UInt8]) throws -> [UInt8] {
        var reader = SSHReader(payload)
        _ = try reader.byte()
        _ = try reader.text(maximum: 64)
        let wantReply = try reader.bool()
        var signatures = SSHWriter()
        signatures.byte(81)
        let ours = self.hostKeyBlobs
        var count = 0
        while !reader.isEmpty, count < 16 {
            let blob = try reader.string(maximum: 16_384)
            count += 1
            guard ours.contains(blob) else { return [82] }
            var signed = SSHWriter()
            signed.string("hostkeys-prove-00@openssh.com")
            signed.string(self.sessionID ?? [])
            signed.string(blob)
            var blobReader = SSHReader(blob)
            let type = try blobReader.text(maximum: 64)
            let algorithm: String
            switch type {
            case "ssh-rsa" where SSHHostKeys.isRSA(self.hostKeyAlgorithm):
                algorithm = self.hostKeyAlgorithm
            case "ssh-rsa":
                algorithm =
                    ["rsa-sha2-512", "rsa-sha2-256"].first { self.clientHostKeyAlgorithms.contains($0) } ?? "ssh-rsa"
            default: algorithm = type
            }
            signatures.string(try self.hostKeys.sign(signed.bytes, algorithm: algorithm))
        }
        return wantReply ? signatures.bytes : []
    }
}
