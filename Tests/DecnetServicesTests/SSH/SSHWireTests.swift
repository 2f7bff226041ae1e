import DecnetCore
import Foundation
import NIOCore
import Testing

@testable import DecnetServices

/// The pre-encryption SSH layer: identification lines, plain binary packets, KEXINIT and HASSH, checked against
/// bytes a real OpenSSH client sent and the HASSH values of real OpenSSH servers.
@Suite struct SSHWireTests {
    /// What a server does with the first bytes of a connection: the client's identification line, then its
    /// first packet, which must be a KEXINIT. nil when more bytes are needed.
    static func firstFlight(_ bytes: [UInt8]) throws -> (SSHWire.Identification, SSHKexInit)? {
        var buffer = ByteBuffer(bytes: bytes)
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: 0x0A) else {
            if view.count > SSHWire.maximumIdentificationLength {
                throw SSHWire.ProtocolError("identification longer than 255 bytes")
            }
            return nil
        }
        var line = Array(view[view.startIndex..<newline])
        if line.last == 0x0D { line.removeLast() }
        guard line.count <= SSHWire.maximumIdentificationLength - 2 else {
            throw SSHWire.ProtocolError("identification longer than 255 bytes")
        }
        let identification = try SSHWire.Identification(line: String(decoding: line, as: UTF8.self))
        buffer.moveReaderIndex(to: newline + 1)
        guard let payload = try SSHWire.readPlainPacket(&buffer) else { return nil }
        return (identification, try SSHKexInit(payload: payload))
    }

    static let replays = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Replays/ssh")

    static func replay(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: Self.replays.appendingPathComponent(name), encoding: .utf8)
        return Array(try #require(Data(base64Encoded: text.filter { !$0.isWhitespace })))
    }

    @Test func debian12ClientHelloGivesItsKnownHASSH() throws {
        let bytes = try Self.replay("openssh-9.2p1-debian12-client-hello.b64")
        let (identification, kexInit) = try #require(try Self.firstFlight(bytes))
        #expect(identification.softwareVersion == "OpenSSH_9.2p1")
        #expect(identification.comments == "Debian-2+deb12u6")
        // deb12u4 and later offer sntrup761 under its plain name first, then the @openssh.com one.
        #expect(
            Array(kexInit.kexAlgorithms.prefix(2)) == ["sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com"]
        )
        #expect(kexInit.kexAlgorithms.contains("kex-strict-c-v00@openssh.com"))
        #expect(kexInit.hassh == "472b5de333ad665af5cbf10ff892c4df", "\(kexInit.hasshClientText)")
        // What we parse we write back byte for byte.
        var buffer = ByteBuffer(bytes: bytes)
        buffer.moveReaderIndex(forwardBy: identification.line.utf8.count + 2)
        #expect(try SSHWire.readPlainPacket(&buffer) == kexInit.payload)
    }

    @Test func profilesGiveTheRealServersHASSH() {
        // Captured from Debian's 9.2p1-2+deb12u10 sshd; Ubuntu 22.04's 8.9p1 with the strict-kex backport.
        #expect(OpenSSHProfile.debian12.kexInit().hasshServer == "425d29fe50d8e4f5e37efb6e24bcf660")
        #expect(OpenSSHProfile.ubuntu2204.kexInit().hasshServer == "41ff3ecd1458b0bf86e1b4891636213e")
    }

    @Test func kexInitRoundTripsAndFramesOnEightByteBlocks() throws {
        let kexInit = OpenSSHProfile.debian12.kexInit(cookie: Array(0..<16))
        #expect(try SSHKexInit(payload: kexInit.payload) == kexInit)
        for size in 0..<40 {
            let payload = [UInt8](repeating: 0x14, count: size + 1)
            let packet = SSHWire.plainPacket(payload)
            #expect(packet.count % 8 == 0)
            #expect(packet[4] >= 4)
            var buffer = ByteBuffer(bytes: packet)
            #expect(try SSHWire.readPlainPacket(&buffer) == payload)
            #expect(buffer.readableBytes == 0)
        }
        var partial = ByteBuffer(bytes: SSHWire.plainPacket([20, 1, 2]).dropLast())
        #expect(try SSHWire.readPlainPacket(&partial) == nil, "waits for the rest")
    }

    @Test func hostileIdentificationsAreRefused() {
        for line in [
            "SSH-1.5-OpenSSH_1.2.3", "SSH-2.0-", "SSH-2.0", "HTTP/1.1 200 OK", "SSH-2.0-\u{1b}[31mred",
            "SSH-2.0-" + String(repeating: "A", count: 300),
        ] {
            #expect(throws: SSHWire.ProtocolError.self, "\(line.prefix(20))") { try SSHWire.Identification(line: line) }
        }
        #expect(
            (try? SSHWire.Identification(line: "SSH-1.99-PuTTY_Release_0.78"))?.softwareVersion == "PuTTY_Release_0.78"
        )
    }

    @Test func hostilePacketsAndKexInitsAreRefused() throws {
        func packet(_ length: UInt32, _ padding: UInt8, _ body: [UInt8]) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(length)
            buffer.writeInteger(padding)
            buffer.writeBytes(body)
            return buffer
        }
        for (length, padding) in [(UInt32(0), UInt8(4)), (0xFFFF_FFFF, 4), (36_004, 4), (12, 12), (12, 2), (13, 4)] {
            var buffer = packet(length, padding, [UInt8](repeating: 0, count: 64))
            #expect(throws: SSHWire.ProtocolError.self, "length \(length) padding \(padding)") {
                _ = try SSHWire.readPlainPacket(&buffer)
            }
        }
        var good = OpenSSHProfile.debian12.kexInit(cookie: Array(0..<16)).payload
        #expect(throws: SSHWire.ProtocolError.self) { try SSHKexInit(payload: Array(good.prefix(30))) }
        #expect(throws: SSHWire.ProtocolError.self) { try SSHKexInit(payload: [21] + good.dropFirst()) }
        // The first name-list claims 2 GiB.
        good.replaceSubrange(17..<21, with: [0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: SSHWire.ProtocolError.self) { try SSHKexInit(payload: good) }
        var list = ByteBuffer()
        list.writeInteger(UInt8(20))
        list.writeBytes([UInt8](repeating: 0, count: 16))
        for text in ["a,,b", "", "", "", "", "", "", "", "", ""] {
            list.writeInteger(UInt32(text.utf8.count))
            list.writeString(text)
        }
        list.writeBytes([0, 0, 0, 0, 0])
        // An empty name is kept as sent, as OpenSSH does (libssh's clients send one), and never matches.
        let parsed = try SSHKexInit(payload: Array(list.readableBytesView))
        #expect(parsed.kexAlgorithms == ["a", "", "b"] && parsed.hasshClientText.hasPrefix("a,,b;"))
    }

    @Test func replaysDoNotCrash() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.replays.path).filter {
            $0.hasSuffix(".b64")
        }
        #expect(names.count >= 8)
        for name in names.sorted() {
            let bytes = try Self.replay(name)
            // Every prefix, as if the bytes came one at a time: each ends in a result, a wait or a refusal.
            for end in stride(from: 0, through: bytes.count, by: max(1, bytes.count / 64)) {
                _ = try? Self.firstFlight(Array(bytes.prefix(end)))
            }
        }
    }
}

/// The transport state machine with hostile peers: every case ends in a disconnect (a DISCONNECT packet, then
/// close), never a crash or a hang.
@Suite struct SSHServerTransportTests {
    static func transport() throws -> SSHServerTransport {
        SSHServerTransport(profile: .debian12, hostKeys: try SSHHostKeys(directory: nil))
    }

    static func closes(_ actions: [SSHServerTransport.Action]) -> Bool { actions.last == .close }

    @Test func aClientKexInitIsAnsweredWithTheProfilesAndFingerprinted() throws {
        var transport = try Self.transport()
        #expect(transport.greeting() == Array("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n".utf8))
        let hello = try SSHWireTests.replay("openssh-9.2p1-debian12-client-hello.b64")
        let actions = transport.receive(ByteBuffer(bytes: hello))
        // Our KEXINIT and the client's fingerprint; then the transport waits for the client's key exchange.
        guard case .send(let kexInit) = actions.first else {
            Issue.record("no KEXINIT sent: \(actions)")
            return
        }
        var buffer = ByteBuffer(bytes: kexInit)
        let sent = try SSHKexInit(payload: try #require(try SSHWire.readPlainPacket(&buffer)))
        #expect(sent.hasshServer == "425d29fe50d8e4f5e37efb6e24bcf660")
        let fingerprints = actions.compactMap { action -> EventFields? in
            if case .emit(.clientFingerprint, let fields) = action { return fields }
            return nil
        }
        #expect(fingerprints.first?.fields.first { $0.name == "hassh" }?.value == "472b5de333ad665af5cbf10ff892c4df")
        #expect(!Self.closes(actions), "sntrup761x25519-sha512 is negotiated, as with the real server")
    }

    /// What OpenSSH 9.2's sshd says to what is not an identification (kex.c; measured against Debian 12's in
    /// bench/differential): plain text, not a packet, and a close; at once for a NUL or a CR without its LF, which
    /// is how nmap's binary probes are answered.
    @Test func badIdentificationsGetOpenSSHsPlainText() throws {
        let invalid = Array("Invalid SSH identification string.\r\n".utf8)
        let cases: [([UInt8], [UInt8])] = [
            (Array("GET / HTTP/1.0\r\n\r\n".utf8), invalid),
            (Array("\r\n\r\n".utf8), invalid),
            ([0x80, 0x00, 0x00, 0x28, 0x72, 0xFE], invalid),
            (Array("l\0\u{b}\0".utf8), invalid),
            (Array("SSH-2.0-x\rz".utf8), invalid),
            ([UInt8](repeating: 0x41, count: 300), invalid),
            (Array("SSH-1.5-Nmap-SSH1-Hostkey\r\n".utf8), Array("Protocol major versions differ.\r\n".utf8)),
        ]
        for (bytes, reply) in cases {
            var transport = try Self.transport()
            let actions = transport.receive(ByteBuffer(bytes: bytes))
            #expect(actions.contains(.send(reply)) && Self.closes(actions), "\(bytes.prefix(20))")
        }
    }

    @Test func hostilePeersAreDisconnected() throws {
        let identification = Array("SSH-2.0-OpenSSH_9.2p1\r\n".utf8)
        var ignore = SSHWriter()
        ignore.byte(2)
        ignore.string("before KEXINIT")
        func client(strict: Bool) -> [UInt8] {
            let kexInit = SSHKexInit(
                cookie: Array(0..<16),
                kex: ["curve25519-sha256"] + (strict ? ["kex-strict-c-v00@openssh.com"] : []),
                hostKeys: ["ssh-ed25519"],
                encryption: ["aes128-ctr"],
                mac: ["hmac-sha2-256-etm@openssh.com"],
                compression: ["none"]
            )
            return identification + SSHWire.plainPacket(kexInit.payload)
        }
        let cases: [(String, [UInt8])] = [
            ("garbage instead of an identification", Array("GET / HTTP/1.1\r\n\r\n".utf8)),
            ("an identification without end", [UInt8](repeating: 0x41, count: 300)),
            (
                "a packet length of 4 GiB",
                identification + [0xFF, 0xFF, 0xFF, 0xFF, 4] + [UInt8](repeating: 0, count: 16)
            ),
            ("a packet that is not a KEXINIT", identification + SSHWire.plainPacket([50, 0, 0, 0, 0])),
            ("an empty payload", identification + [0, 0, 0, 12, 11] + [UInt8](repeating: 0, count: 11)),
            // Strict KEX: an IGNORE after the client announced kex-strict-c is a Terrapin-style injection.
            ("a message slipped into a strict KEX", client(strict: true) + SSHWire.plainPacket(ignore.bytes)),
        ]
        for (name, bytes) in cases {
            var transport = try Self.transport()
            var actions: [SSHServerTransport.Action] = []
            // One byte at a time, as a slow peer would send them.
            for byte in bytes {
                actions += transport.receive(ByteBuffer(bytes: [byte]))
                if Self.closes(actions) { break }
            }
            #expect(Self.closes(actions), "\(name)")
            #expect(transport.receive(ByteBuffer(bytes: [1, 2, 3])).isEmpty, "\(name): nothing after the close")
        }
        // Without strict KEX the same IGNORE is allowed, as RFC 4253 says.
        var lenient = try Self.transport()
        #expect(
            !Self.closes(lenient.receive(ByteBuffer(bytes: client(strict: false) + SSHWire.plainPacket(ignore.bytes))))
        )
    }
}

/// Packet protection after NEWKEYS: what is sealed opens, anything altered is refused, and a part waits.
@Suite struct SSHPacketProtectionTests {
    static let kinds: [(String, SSHPacketProtection)] = [
        (
            "aes128-ctr + hmac-sha2-256-etm",
            SSHPacketProtection(
                cipher: "aes128-ctr",
                key: Array(0..<16),
                iv: Array(16..<32),
                macKey: Array(32..<64),
                mac: .sha256ETM
            )
        ),
        (
            "aes256-ctr + hmac-sha2-512-etm",
            SSHPacketProtection(
                cipher: "aes256-ctr",
                key: Array(0..<32),
                iv: Array(32..<48),
                macKey: Array(0..<64),
                mac: .sha512ETM
            )
        ),
        (
            "aes192-ctr + hmac-sha2-256 (encrypt-and-MAC)",
            SSHPacketProtection(
                cipher: "aes192-ctr",
                key: Array(0..<24),
                iv: Array(24..<40),
                macKey: Array(40..<72),
                mac: .sha256
            )
        ),
        (
            "aes128-ctr + hmac-sha1 (encrypt-and-MAC)",
            SSHPacketProtection(
                cipher: "aes128-ctr",
                key: Array(0..<16),
                iv: Array(0..<16),
                macKey: Array(0..<20),
                mac: .sha1
            )
        ),
        (
            "aes256-ctr + hmac-sha1-etm",
            SSHPacketProtection(
                cipher: "aes256-ctr",
                key: Array(0..<32),
                iv: Array(0..<16),
                macKey: Array(0..<20),
                mac: .sha1ETM
            )
        ),
        (
            "aes128-ctr + umac-64-etm",
            SSHPacketProtection(
                cipher: "aes128-ctr",
                key: Array(0..<16),
                iv: Array(0..<16),
                macKey: Array(0..<16),
                mac: .umac64ETM
            )
        ),
        (
            "aes256-ctr + umac-128 (encrypt-and-MAC)",
            SSHPacketProtection(
                cipher: "aes256-ctr",
                key: Array(0..<32),
                iv: Array(0..<16),
                macKey: Array(0..<16),
                mac: .umac128
            )
        ),
        (
            "aes128-gcm",
            SSHPacketProtection(
                cipher: "aes128-gcm@openssh.com",
                key: Array(0..<16),
                iv: Array(0..<12),
                macKey: [],
                mac: nil
            )
        ),
        (
            "aes256-gcm",
            SSHPacketProtection(
                cipher: "aes256-gcm@openssh.com",
                key: Array(0..<32),
                iv: Array(0..<12),
                macKey: [],
                mac: nil
            )
        ),
        (
            "chacha20-poly1305",
            SSHPacketProtection(
                cipher: "chacha20-poly1305@openssh.com",
                key: Array(0..<64),
                iv: [],
                macKey: [],
                mac: nil
            )
        ),
    ]

    @Test func sealedPacketsOpenAndAlteredOnesAreRefused() throws {
        for (name, protection) in Self.kinds {
            var sender = protection
            var receiver = protection
            for sequence in UInt32(0)..<5 {
                let payload = [UInt8](repeating: UInt8(sequence), count: Int(sequence) * 37 + 1)
                let packet = try sender.seal(payload, sequence: sequence)
                var partial = ByteBuffer(bytes: packet.dropLast())
                var probe = receiver
                #expect(try probe.open(&partial, sequence: sequence) == nil, "\(name): waits for the rest")
                var buffer = ByteBuffer(bytes: packet)
                #expect(try receiver.open(&buffer, sequence: sequence) == payload, "\(name) #\(sequence)")
            }
            // One flipped bit anywhere after the length, or the wrong sequence number: refused.
            var fresh = protection
            let packet = try fresh.seal(Array("secret".utf8), sequence: 9)
            for index in [5, packet.count / 2, packet.count - 1] {
                var altered = packet
                altered[index] ^= 0x01
                var buffer = ByteBuffer(bytes: altered)
                var opener = protection
                #expect(throws: SSHWire.ProtocolError.self, "\(name): byte \(index)") {
                    _ = try opener.open(&buffer, sequence: 9)
                }
            }
            // A replayed packet: under another sequence number, or (AES-GCM, whose nonce counts packets by
            // itself) as the next packet.
            var opener = protection
            if case .gcm = protection {
                var first = ByteBuffer(bytes: packet)
                _ = try opener.open(&first, sequence: 9)
            }
            var buffer = ByteBuffer(bytes: packet)
            #expect(throws: SSHWire.ProtocolError.self, "\(name): replayed") {
                _ = try opener.open(&buffer, sequence: 10)
            }
        }
    }
}

/// sntrup761's encodings (the specification's Encode/Decode) and encapsulation's shapes.
@Suite struct SNTRUP761Tests {
    @Test func encodingsHaveTheSpecifiedLengthsAndRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        let q = [Int](repeating: SNTRUP761.q, count: SNTRUP761.p)
        let values = q.map { Int.random(in: 0..<$0, using: &generator) }
        let encoded = SNTRUP761.encode(values, q)
        #expect(encoded.count == SNTRUP761.publicKeyBytes)
        #expect(SNTRUP761.decode(encoded, q) == values)
        let rounded = [Int](repeating: 1531, count: SNTRUP761.p)
        let small = rounded.map { Int.random(in: 0..<$0, using: &generator) }
        #expect(SNTRUP761.encode(small, rounded).count == SNTRUP761.ciphertextBytes - 32)
        #expect(SNTRUP761.decode(SNTRUP761.encode(small, rounded), rounded) == small)
        for moduli in [[2], [3, 5], [4591, 4591, 4591], [1531, 7, 300, 9000, 2]] {
            let values = moduli.map { Int.random(in: 0..<$0, using: &generator) }
            #expect(SNTRUP761.decode(SNTRUP761.encode(values, moduli), moduli) == values, "\(moduli)")
        }
    }

    @Test func encapsulationHasTheSpecifiedShapes() throws {
        var generator = SystemRandomNumberGenerator()
        let h = (0..<SNTRUP761.p).map { _ in Int.random(in: 0..<SNTRUP761.q, using: &generator) }
        let publicKey = SNTRUP761.encode(h, [Int](repeating: SNTRUP761.q, count: SNTRUP761.p))
        let r = SNTRUP761.randomShort()
        #expect(r.filter { $0 != 0 }.count == SNTRUP761.w)
        let (ciphertext, secret) = try SNTRUP761.encapsulate(to: publicKey, short: r)
        #expect(ciphertext.count == SNTRUP761.ciphertextBytes && secret.count == 32)
        // Deterministic in r; every rounded coefficient is a multiple of 3 inside -2295...2295.
        #expect(try SNTRUP761.encapsulate(to: publicKey, short: r).ciphertext == ciphertext)
        let c = SNTRUP761.round(SNTRUP761.multiply(h.map { $0 - SNTRUP761.q12 }, r))
        #expect(c.allSatisfy { $0 % 3 == 0 && abs($0) <= SNTRUP761.q12 })
        #expect(throws: SNTRUP761.Failure.self) { try SNTRUP761.encapsulate(to: Array(publicKey.dropLast())) }
    }
}
