import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import DecnetServices

/// The SMB emulator's decoder and state machine, driven by what real clients sent (smbclient 4.17 and impacket
/// 0.13.1, recorded against it, under `Replays/smb/`) and by hostile bytes.
@Suite struct SMBTests {
    static let windows2019 = WindowsIdentity(
        persona: ["os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP"],
        hostname: "srv01",
        osFamily: .windows
    )

    static func machine(
        _ identity: WindowsIdentity = windows2019,
        netbios: Bool = false,
        challenge: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
    ) -> SMBStateMachine {
        SMBStateMachine(
            configuration: SMBService.Configuration(
                identity: identity,
                signingRequired: false,
                domainController: false,
                serverGUID: [UInt8](repeating: 0xAB, count: 16)
            ),
            netbiosSession: netbios,
            random: { challenge },
            now: { 133_777_000_000_000_000 }
        )
    }

    /// The NBSS frames of a byte stream, as the service's decoder cuts them.
    static func frames(_ bytes: [UInt8]) throws -> [NBSSFrame] {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(NBSSFrameDecoder(), maximumBufferSize: NBSSFrameDecoder.maximumLength + 8)
        )
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        var frames: [NBSSFrame] = []
        while let frame = try channel.readInbound(as: NBSSFrame.self) { frames.append(frame) }
        _ = try channel.finish()
        return frames
    }

    /// A recorded client stream; its file name carries the password and the server challenge it answered.
    static func replay(_ name: String) throws -> (frames: [NBSSFrame], password: String, challenge: [UInt8]) {
        let url = ReplayTests.root.appendingPathComponent("smb").appendingPathComponent(name + ".b64")
        let text = try String(contentsOf: url, encoding: .utf8).filter { !$0.isWhitespace }
        let bytes = try #require(Data(base64Encoded: text))
        let parts = name.split(separator: "-")
        let challengeHex = String(parts[3])
        let challenge = stride(from: 0, to: 16, by: 2).map {
            UInt8(challengeHex[challengeHex.index(challengeHex.startIndex, offsetBy: $0)...].prefix(2), radix: 16)!
        }
        return (try self.frames(Array(bytes)), String(parts[2]), challenge)
    }

    /// Feeds recorded frames, giving each request the session id this machine handed out (the recording holds
    /// the one the server it was made against chose).
    static func run(_ machine: inout SMBStateMachine, _ frames: [NBSSFrame]) -> [SMBStateMachine.Action] {
        var session: [UInt8]?
        var actions: [SMBStateMachine.Action] = []
        for frame in frames {
            var frame = frame
            if case .message(var bytes) = frame, let session, SMB2Header(bytes) != nil, bytes.le64(40) != 0 {
                bytes.replaceSubrange(40..<48, with: session)
                frame = .message(bytes)
            }
            let step = machine.received(frame)
            for reply in self.sent(step) where reply.count >= 4 + 64 && reply.le32(4 + 8) == 0xC000_0016 {
                session = Array(reply[(4 + 40)..<(4 + 48)])
            }
            actions += step
        }
        return actions
    }

    static func sent(_ actions: [SMBStateMachine.Action]) -> [[UInt8]] {
        actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
    }

    static func events(_ actions: [SMBStateMachine.Action], _ id: EventID) -> [EventFields] {
        actions.compactMap { if case .emit(id, let fields) = $0 { fields } else { nil } }
    }

    @Test func theNTHashIsMD4OfTheUTF16Password() {
        // MS-NLMP 4.2.4.1.1's example password "Password".
        #expect(lowerHex(NTLM.ntHash(password: "Password")) == "a4f49c406510bdcab6824ee7c30fd852")
    }

    @Test func smbclientsLoginIsCapturedAsAHashThatVerifiesAgainstItsPassword() throws {
        let (frames, password, challenge) = try Self.replay("smbclient-alice-Password1-c6800d1060d9d1bc")
        var machine = Self.machine(challenge: challenge)
        let actions = Self.run(&machine, frames)
        let fingerprint = try #require(Self.events(actions, .clientFingerprint).first)
        #expect(fingerprint["client"] == "smb2" && fingerprint["dialects"] == "2.0.2,2.1,3.0,3.0.2,3.1.1")
        let login = try #require(Self.events(actions, .loginFailed).first)
        #expect(login["username"] == "alice" && login["domain"] == "CORP" && login["method"] == "ntlmv2")
        #expect(login["dialect"] == "3.1.1" && login["hashcat_mode"] == "5600")
        let line = try #require(login["hashcat"])
        #expect(line.hasPrefix("alice::CORP:c6800d1060d9d1bc:"))
        // The line's fields, read back as hashcat reads them, verify against the password and nothing else.
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        let response = try #require(Self.bytes(String(fields[4]) + String(fields[5])))
        let message = NTLM.Authenticate(
            flags: .unicode,
            user: NTLM.encode("alice", true),
            domain: NTLM.encode("CORP", true),
            workstation: [],
            lmResponse: [],
            ntResponse: response,
            clientVersion: nil
        )
        #expect(NTLM.verifiesV2(message, serverChallenge: challenge, password: password))
        #expect(!NTLM.verifiesV2(message, serverChallenge: challenge, password: password + "!"))
        // The last reply is STATUS_LOGON_FAILURE, and the connection stays open for another try, as on Windows.
        let last = try #require(Self.sent(actions).last)
        #expect(Array(last[12..<16]) == [0x6D, 0x00, 0x00, 0xC0])
        #expect(!actions.contains(.close))
    }

    @Test func impacketStartsWithSMB1AndIsUpgradedToSMB2() throws {
        let (frames, password, challenge) = try Self.replay("impacket-bob-Summer2025-06cbe542a3962867")
        var machine = Self.machine(challenge: challenge)
        let first = machine.received(frames[0])
        let reply = try #require(Self.sent(first).first)
        #expect(Array(reply[4..<8]) == SMB2Header.protocolID)
        #expect(reply.le16(4 + 64 + 4) == 0x02FF, "the wildcard dialect answers SMB1's 'SMB 2.???'")
        #expect(Self.events(first, .clientFingerprint).first?["dialects"] == "NT LM 0.12,SMB 2.002,SMB 2.???")
        let rest = Self.run(&machine, Array(frames.dropFirst()))
        let login = try #require(Self.events(rest, .loginFailed).first)
        #expect(login["username"] == "bob" && login["method"] == "ntlmv2")
        let token = try #require(NTLMTestMessages.authenticate(in: frames))
        #expect(NTLM.verifiesV2(try NTLM.authenticate(token), serverChallenge: challenge, password: password))
    }

    @Test func theNegotiateResponseIsThePersonasRelease() throws {
        let (frames, _, _) = try Self.replay("smbclient-alice-Password1-c6800d1060d9d1bc")
        for (os, dialect, contexts) in [
            ("Windows Server 2019 Standard 17763", 0x0311, 2), ("Windows Server 2012 R2 Standard 9600", 0x0302, 0),
            ("Windows 7 Professional 7601", 0x0210, 0),
        ] as [(String, UInt16, UInt16)] {
            var machine = Self.machine(WindowsIdentity(persona: ["os_version": os], hostname: "pc", osFamily: .windows))
            let reply = try #require(Self.sent(machine.received(frames[0])).first)
            let body = 4 + 64
            #expect(reply.le16(body) == 65 && reply.le16(body + 2) == 0x01, "signing enabled, not required")
            #expect(reply.le16(body + 4) == dialect, "\(os)")
            #expect(reply.le16(body + 6) == contexts)
            #expect(Array(reply[(body + 8)..<(body + 24)]) == [UInt8](repeating: 0xAB, count: 16))
            #expect(reply.le64(body + 40) == 133_777_000_000_000_000 && reply.le64(body + 48) == 0)
            let tokenOffset = Int(reply.le16(body + 56)), tokenLength = Int(reply.le16(body + 58))
            let token = Array(reply[(4 + tokenOffset)..<(4 + tokenOffset + tokenLength)])
            #expect(token.starts(with: [0x60]))
            #expect(
                token.indices.contains {
                    token[$0...].starts(with: [0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0A])
                }
            )
        }
    }

    @Test func theChallengeNamesThePersona() throws {
        let token = NTLM.challenge(
            [9, 9, 9, 9, 9, 9, 9, 9],
            clientFlags: [.unicode, .extendedSessionSecurity],
            identity: Self.windows2019,
            time: 1
        )
        #expect(NTLM.messageType(token) == .challenge)
        #expect(Array(token[48..<56]) == [10, 0, 0x63, 0x45, 0, 0, 0, 0x0F], "10.0.17763, NTLM revision 15")
        let text = String(decoding: stride(from: 56, to: token.count - 1, by: 2).map { token[$0] }, as: UTF8.self)
        for name in ["CORP", "SRV01", "corp.local", "srv01.corp.local"] { #expect(text.contains(name), "\(name)") }
        let workgroup = WindowsIdentity(
            persona: ["os_version": "Windows 10 Pro 19045"],
            hostname: "desk-7",
            osFamily: .windows
        )
        #expect(!workgroup.isDomainMember && workgroup.netbiosName == "DESK-7" && workgroup.dnsHostName == "desk-7")
        let flags = NTLM.Flags(
            rawValue: NTLM.challenge(
                [0, 0, 0, 0, 0, 0, 0, 0],
                clientFlags: .unicode,
                identity: workgroup,
                time: 1
            ).le32(20)
        )
        #expect(flags.contains(.targetTypeServer) && !flags.contains(.targetTypeDomain))
    }

    @Test func theIdentityReadsTheOSVersion() {
        let server2016 = WindowsIdentity(
            persona: ["os_version": "Windows Server 2016 Standard 14393"],
            hostname: "fs",
            osFamily: .windows
        )
        #expect(server2016.release.smb1 && server2016.build == 14393 && server2016.productVersion == "10.0.14393")
        #expect(server2016.nativeOS == "Windows Server 2016 Standard 14393")
        #expect(server2016.nativeLanMan == "Windows Server 2016 Standard 6.3")
        let bare = WindowsIdentity(
            persona: ["os_version": "Windows 7", "build": "7600"],
            hostname: "pc",
            osFamily: .windows
        )
        #expect(bare.nativeOS == "Windows 7 Professional 7600" && bare.productVersion == "6.1.7600")
        let samba = WindowsIdentity(persona: ["os_version": "Samba"], hostname: "files", osFamily: .linux)
        #expect(samba.release.isSamba && !samba.isDomainMember && samba.netbiosDomain == "WORKGROUP")
    }

    @Test func port139WantsASessionRequestFirst() throws {
        var named = Self.machine(netbios: true)
        let request = NTLMTestMessages.sessionRequest(called: "*SMBSERVER", calling: "KALI")
        let accepted = named.received(.sessionRequest(request))
        #expect(Self.sent(accepted) == [[0x82, 0, 0, 0]])
        #expect(Self.events(accepted, .clientFingerprint).first?["netbios_name"] == "KALI")
        var wrongName = Self.machine(netbios: true)
        let refused = wrongName.received(
            .sessionRequest(NTLMTestMessages.sessionRequest(called: "10.0.0.5", calling: "X"))
        )
        #expect(Self.sent(refused) == [[0x83, 0, 0, 1, 0x82]] && refused.contains(.close))
        var early = Self.machine(netbios: true)
        let (frames, _, _) = try Self.replay("smbclient-alice-Password1-c6800d1060d9d1bc")
        let probe = early.received(frames[0])
        #expect(Self.sent(probe) == [[0x83, 0, 0, 1, 0x8F]] && probe.contains(.close))
    }

    @Test func anSMB1OnlyClientFindsTheDoorShut() {
        // nmap's SMBProgNeg: SMB1 dialects only, to a persona without SMB1.
        var machine = Self.machine()
        var message = SMB1Message.protocolID + [0x72] + [UInt8](repeating: 0, count: 27) + [0, 0x0C, 0]
        message += [0x02] + Array("NT LM 0.12".utf8) + [0] + [0x02] + Array("LANMAN1.0".utf8) + [0, 0]
        message[33] = UInt8(message.count - 35)
        let actions = machine.received(.message(message))
        #expect(Self.sent(actions).isEmpty && actions.contains(.close))
        #expect(Self.events(actions, .clientFingerprint).first?["dialects"] == "NT LM 0.12,LANMAN1.0")
    }

    static let windows2016 = WindowsIdentity(
        persona: ["os_version": "Windows Server 2016 Standard 14393", "workgroup": "CORP"],
        hostname: "FS01",
        osFamily: .windows
    )

    /// nmap's SMBProgNeg probe (its -sV line for port 445), as nmap-service-probes writes it.
    static let smbProgNeg: [UInt8] = {
        var message = SMB1Message.protocolID + [0x72, 0, 0, 0, 0, 0x08, 0x01, 0x40] + [UInt8](repeating: 0, count: 14)
        message += [0x40, 0x06, 0, 0, 0x01, 0, 0, 0x81, 0]
        for dialect in [
            "PC NETWORK PROGRAM 1.0", "MICROSOFT NETWORKS 1.03", "MICROSOFT NETWORKS 3.0", "LANMAN1.0",
            "LM1.2X002", "Samba", "NT LANMAN 1.0", "NT LM 0.12",
        ] {
            message += [0x02] + Array(dialect.utf8) + [0]
        }
        return message
    }()

    @Test func aServer2016AnswersNmapsSMB1ProbeAsNmapKnowsWindowsServers() throws {
        var machine = Self.machine(Self.windows2016)
        let reply = try #require(Self.sent(machine.received(.message(Self.smbProgNeg))).first)
        // The bytes nmap's "Microsoft Windows Server 2008 R2 - 2012 microsoft-ds" line requires, in order.
        let expected: [UInt8] =
            [0xFF, 0x53, 0x4D, 0x42, 0x72, 0, 0, 0, 0, 0x88, 0x01, 0x40] + [UInt8](repeating: 0, count: 14)
            + [0x40, 0x06, 0, 0, 0x01, 0, 0x11, 0x07, 0]
        #expect(Array(reply[4..<(4 + expected.count)]) == expected)
        let words = 4 + expected.count + 1
        #expect(
            Array(reply[words..<(words + 20)]) == [
                0x32, 0, 0x01, 0, 0x04, 0x41, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0xFC, 0xF3, 0x01, 0,
            ]
        )
        let names = Array(reply[(words + 20 + 21)...])
        #expect(names == NTLM.encode("CORP", true) + [0, 0] + NTLM.encode("FS01", true) + [0, 0])
    }

    @Test func hydrasSMB1LoginsAreCapturedAsNetNTLMv1() throws {
        let (frames, _, challenge) = try Self.replay("hydra-administrator-Password1-5f18596dd2a0e9f0")
        var machine = Self.machine(Self.windows2016, challenge: challenge)
        let actions = Self.run(&machine, frames)
        let login = try #require(Self.events(actions, .loginFailed).first)
        #expect(login["method"] == "ntlmv1" && login["hashcat_mode"] == "5500" && login["dialect"] == "NT LM 0.12")
        // The same line hashcat cracked to Password1 when it was recorded (docs/services/smb.md).
        #expect(
            login["hashcat"] == "administrator:::1ca41245b66bf21bba46207e9e61a78f0238b96d56cc2638:"
                + "1ca41245b66bf21bba46207e9e61a78f0238b96d56cc2638:5f18596dd2a0e9f0"
        )
        #expect(Array(try #require(Self.sent(actions).last)[9..<13]) == [0x6D, 0x00, 0x00, 0xC0])
        // The same client against Windows Server 2019 (SMB1 off) is disconnected at the negotiate.
        var without = Self.machine(challenge: challenge)
        let refused = without.received(frames[0])
        #expect(Self.sent(refused).isEmpty && refused.contains(.close))
    }

    @Test func anSMB1NullSessionIsLetInAndToldTheServersOS() throws {
        var machine = Self.machine(Self.windows2016)
        _ = machine.received(.message(Self.smbProgNeg))
        var setup = SMB1Message.protocolID + [0x73, 0, 0, 0, 0, 0x08, 0x01, 0x40] + [UInt8](repeating: 0, count: 14)
        setup +=
            [0x40, 0x06, 0, 0, 0x02, 0, 13, 0xFF, 0, 0, 0, 0xFF, 0xFF, 1, 0, 1, 0] + [UInt8](repeating: 0, count: 4)
        setup += [0, 0, 0, 0] + [UInt8](repeating: 0, count: 4) + [0x50, 0, 0, 0]
        let data: [UInt8] = [0, 0] + Array("Nmap".utf8) + [0] + Array("Native Lanman".utf8) + [0]
        setup += [UInt8(data.count), 0] + data
        let actions = machine.received(.message(setup))
        #expect(Self.events(actions, .loginSuccess).first?["method"] == "ntlm-anonymous")
        let reply = try #require(Self.sent(actions).first)
        #expect(reply.le32(4 + 5) == 0 && reply[4 + 32] == 3, "STATUS_SUCCESS, three words")
        let text = String(decoding: reply[(4 + 41)...], as: UTF8.self)
        #expect(text == "Windows Server 2016 Standard 14393\0Windows Server 2016 Standard 6.3\0CORP\0")
        #expect(Self.events(actions, .clientFingerprint).first?["native_os"] == "Nmap")
    }

    // MARK: hostile input

    @Test func theDecoderClosesOnHeadersNoClientSends() throws {
        #expect(
            try Self.frames([0x00, 0xFF, 0xFF, 0xFF, 0xFE]) == [
                .invalid("NetBIOS message of 16777215 bytes", [0x00, 0xFF, 0xFF, 0xFF, 0xFE])
            ]
        )
        let http = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        #expect(try Self.frames(http) == [.invalid("NetBIOS message type 0x47", http)])
        #expect(try Self.frames([0x85, 0, 0, 0, 0x00, 0, 0, 1, 0x42]) == [.keepAlive, .message([0x42])])
        #expect(try Self.frames([0x00, 0, 0, 9, 1, 2]) == [], "an incomplete message waits, and is dropped at EOF")
    }

    @Test func authenticateMessagesThatLieAboutTheirFieldsAreRefused() throws {
        var token = NTLM.signature + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 60)
        #expect((try? NTLM.authenticate(token)) != nil, "all fields empty is a valid (anonymous) message")
        token[36] = 8
        token[40] = 0xF0  // user name: 8 bytes at offset 240, beyond the end
        #expect(throws: NTLM.ParseError.self) { try NTLM.authenticate(token) }
        token[36] = 0xFF
        token[37] = 0xFF
        token[40] = 64  // 65535 bytes
        #expect(throws: NTLM.ParseError.self) { try NTLM.authenticate(token) }
        #expect(throws: NTLM.ParseError.self) { try NTLM.authenticate(Array(token.prefix(40))) }
        #expect(throws: NTLM.ParseError.self) { try NTLM.authenticate(Array("NTLMSSP".utf8)) }
        for junk in [
            [], [0x60], [0x60, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], [0xA1, 0x03, 0x30, 0x01, 0x00], Array("garbage".utf8),
        ] as [[UInt8]] {
            #expect(SPNEGO.clientToken(junk).ntlm == nil)
        }
    }

    @Test func truncatedAndMutatedClientStreamsNeverCrashTheMachine() throws {
        var inputs: [[NBSSFrame]] = []
        for name in [
            "smbclient-alice-Password1-c6800d1060d9d1bc", "impacket-bob-Summer2025-06cbe542a3962867",
            "hydra-administrator-Password1-5f18596dd2a0e9f0",
        ] {
            inputs.append(try Self.replay(name).frames)
        }
        var generator = SeededGenerator(seed: 0x5A4B)
        var runs = 0
        for frames in inputs {
            for _ in 0..<400 {
                var mutated = frames
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                guard case .message(var bytes) = mutated[index], !bytes.isEmpty else { continue }
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
                case 1:
                    for _ in 0..<Int.random(in: 1...8, using: &generator) {
                        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                            in: 0...255,
                            using: &generator
                        )
                    }
                default:
                    let at = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes.replaceSubrange(at..<min(bytes.count, at + 2), with: [0xFF, 0xFF])
                }
                mutated[index] = .message(bytes)
                for identity in [Self.windows2019, Self.windows2016] {
                    var machine = Self.machine(identity)
                    _ = Self.run(&machine, mutated)
                    runs += 1
                }
            }
        }
        #expect(runs > 1800)
    }

    static func bytes(_ hex: String) -> [UInt8]? {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            out.append(byte)
            index = next
        }
        return out
    }
}

/// Builders for client messages the tests need.
enum NTLMTestMessages {
    /// An NBSS session request payload: called and calling names, first-level encoded.
    static func sessionRequest(called: String, calling: String) -> [UInt8] {
        func encode(_ name: String, suffix: UInt8) -> [UInt8] {
            var raw = Array(name.utf8.prefix(15))
            while raw.count < 15 { raw.append(0x20) }
            raw.append(suffix)
            return [0x20] + raw.flatMap { [0x41 + ($0 >> 4), 0x41 + ($0 & 0xF)] } + [0]
        }
        return encode(called, suffix: 0x20) + encode(calling, suffix: 0)
    }

    /// The NTLM AUTHENTICATE inside a recorded stream.
    static func authenticate(in frames: [NBSSFrame]) -> [UInt8]? {
        for case .message(let bytes) in frames {
            let signature = NTLM.signature + [3, 0, 0, 0]
            if let start = bytes.indices.first(where: { bytes[$0...].starts(with: signature) }) {
                return Array(bytes[start...])
            }
        }
        return nil
    }
}

extension EventFields {
    fileprivate subscript(_ name: String) -> String? { self.fields.first { $0.name == name }?.value }
}
