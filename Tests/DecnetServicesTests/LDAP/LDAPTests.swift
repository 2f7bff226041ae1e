import DecnetCore
import NIOCore
import NIOEmbedded
import SwiftASN1
import Testing

@testable import DecnetServices

/// The domain controller's LDAP: nmap's probes, binds of every kind, and hostile BER.
@Suite struct LDAPTests {
    static let configuration = LDAPStateMachine.Configuration(
        identity: WindowsIdentity(
            persona: ["os_version": "Windows Server 2019 Standard 17763", "workgroup": "CORP", "domain": "corp.local"],
            hostname: "DC01",
            osFamily: .windows
        ),
        baseDN: "DC=corp,DC=local",
        domain: "corp.local",
        functionalLevel: 7,
        highestCommittedUSN: 200_000
    )

    static func machine(challenge: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]) -> LDAPStateMachine {
        LDAPStateMachine(
            configuration: Self.configuration,
            random: { challenge },
            now: { 133_777_000_000_000_000 },
            generalizedTime: { "20261205120000.0Z" }
        )
    }

    static func messages(_ bytes: [UInt8]) throws -> [LDAPInbound] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LDAPMessageDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        var messages: [LDAPInbound] = []
        while let message = try channel.readInbound(as: LDAPInbound.self) { messages.append(message) }
        _ = try channel.finish()
        return messages
    }

    static func sent(_ actions: [LDAPStateMachine.Action]) -> [[UInt8]] {
        actions.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }
    }

    static func fields(_ actions: [LDAPStateMachine.Action], _ id: EventID) -> [String: String] {
        for case .emit(id, let fields) in actions {
            return Dictionary(fields.fields.map { ($0.name, $0.value) }) { first, _ in first }
        }
        return [:]
    }

    /// A bind request: message id, version 3, name, and an authentication choice (context tag, content).
    static func bind(_ id: Int, name: String, choice: UInt8, _ content: [UInt8]) -> [UInt8] {
        let body = BERWriter.integer(3) + BERWriter.string(name) + BERWriter.element(choice, content)
        return BERWriter.constructed(0x30, [BERWriter.integer(id), BERWriter.element(0x60, body)], ad: false)
    }

    @Test func nmapsRootDSEProbeGetsWhatItsActiveDirectoryLineReads() throws {
        // nmap-service-probes' LDAPSearchReq, with its four-byte lengths.
        let probe: [UInt8] =
            [
                0x30, 0x84, 0x00, 0x00, 0x00, 0x2d, 0x02, 0x01, 0x07, 0x63, 0x84, 0x00, 0x00, 0x00, 0x24,
                0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x64, 0x01,
                0x01, 0x00, 0x87, 0x0b,
            ] + Array("objectClass".utf8) + [0x30, 0x84, 0x00, 0x00, 0x00, 0x00]
        var machine = Self.machine()
        let message = try #require(try Self.messages(probe).first)
        let replies = Self.sent(machine.received(message))
        let entry = try #require(replies.first)
        #expect(Array(entry.prefix(4)) == [0x30, 0x84, 0x00, 0x00] && Array(entry[6..<9]) == [0x02, 0x01, 0x07])
        let service =
            "CN=NTDS Settings,CN=DC01,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,DC=local"
        let needle =
            Array("dsServiceName".utf8) + [
                0x31, 0x84, 0, 0, 0, UInt8(service.utf8.count + 2), 0x04,
                UInt8(service.utf8.count),
            ] + Array(service.utf8) + [0x30, 0x84, 0]
        #expect(entry.indices.contains { entry[$0...].starts(with: needle) })
        // Then SearchResultDone, success.
        #expect(try #require(replies.last).suffix(7) == [0x0A, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00])
        // The entry parses as BER and names the domain's contexts.
        let parsed = try BER.parse(entry)
        #expect(parsed.identifier == .sequence)
        let text = String(decoding: entry, as: UTF8.self)
        for value in ["DC=corp,DC=local", "DC01.corp.local", "corp.local:dc01$@CORP.LOCAL", "GSS-SPNEGO"] {
            #expect(text.contains(value), "\(value)")
        }
    }

    @Test func aSimpleBindIsCapturedAndRefusedWithADsMessage() throws {
        var machine = Self.machine()
        let actions = machine.received(
            .message(
                Self.bind(
                    1,
                    name: "CN=alice,CN=Users,DC=corp,DC=local",
                    choice: 0x80,
                    Array("Winter2024!".utf8)
                )
            )
        )
        let login = Self.fields(actions, .loginFailed)
        #expect(login["username"] == "CN=alice,CN=Users,DC=corp,DC=local" && login["password"] == "Winter2024!")
        let reply = String(decoding: try #require(Self.sent(actions).first), as: UTF8.self)
        #expect(
            reply.contains("80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, v4563")
        )
        // Anonymous binds succeed; an unbound search below the rootDSE is refused with operationsError.
        #expect(
            try #require(Self.sent(machine.received(.message(Self.bind(2, name: "", choice: 0x80, [])))).first).suffix(
                7
            )
                == [0x0A, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]
        )
        let search = BERWriter.constructed(
            0x30,
            [
                BERWriter.integer(3),
                BERWriter.element(
                    0x63,
                    BERWriter.string("DC=corp,DC=local") + BERWriter.integer(2, tag: 0x0A)
                        + BERWriter.integer(0, tag: 0x0A)
                        + BERWriter.integer(0) + BERWriter.integer(0) + [0x01, 0x01, 0x00]
                        + BERWriter.string("objectClass", tag: 0x87)
                        + BERWriter.element(0x30, [])
                ),
            ],
            ad: false
        )
        let refused = machine.received(.message(search))
        #expect(Self.fields(refused, .commandInput)["args"]?.contains("filter=(objectClass=*)") == true)
        #expect(String(decoding: try #require(Self.sent(refused).first), as: UTF8.self).contains("000004DC"))
    }

    @Test func sicilyAndSPNEGOBindsAreCapturedAsHashesThatVerify() throws {
        let (frames, password, challenge) = try SMBTests.replay("impacket-bob-Summer2025-06cbe542a3962867")
        let authenticate = try #require(NTLMTestMessages.authenticate(in: frames))
        let negotiate = NTLM.signature + [1, 0, 0, 0, 0x35, 0x82, 0x08, 0x60] + [UInt8](repeating: 0, count: 16)
        // Sicily, as impacket's LDAP login makes it: discovery, negotiate (challenge in matchedDN), response.
        var sicily = Self.machine(challenge: challenge)
        let discovery = Self.sent(sicily.received(.message(Self.bind(1, name: "", choice: 0x89, []))))
        #expect(String(decoding: try #require(discovery.first), as: UTF8.self).contains("NTLM"))
        let challenged = try #require(
            Self.sent(sicily.received(.message(Self.bind(2, name: "", choice: 0x8A, negotiate)))).first
        )
        #expect(challenged.indices.contains { challenged[$0...].starts(with: NTLM.signature + [2, 0, 0, 0]) })
        let captured = sicily.received(.message(Self.bind(3, name: "", choice: 0x8B, authenticate)))
        #expect(
            Self.fields(captured, .loginFailed)["username"] == "bob"
                && Self.fields(captured, .loginFailed)["auth"] == "sicily"
        )
        #expect(NTLM.verifiesV2(try NTLM.authenticate(authenticate), serverChallenge: challenge, password: password))
        // SASL GSS-SPNEGO, as ldap3 and ldapdomaindump make it: saslBindInProgress with the challenge.
        var sasl = Self.machine(challenge: challenge)
        let saslBind: ([UInt8]) -> [UInt8] = { credentials in
            Self.bind(1, name: "", choice: 0xA3, BERWriter.string("GSS-SPNEGO") + BERWriter.octets(credentials))
        }
        let progress = try #require(Self.sent(sasl.received(.message(saslBind(negotiate)))).first)
        #expect(progress.indices.contains { progress[$0...].starts(with: [0x0A, 0x01, 0x0E]) }, "saslBindInProgress")
        #expect(Self.fields(sasl.received(.message(saslBind(authenticate))), .loginFailed)["hashcat_mode"] == "5600")
    }

    @Test func hostileBERIsClosed() throws {
        #expect(
            try Self.messages([0x30, 0x85, 1, 2, 3, 4, 5]).first
                == .invalid("BER length form 0x85", [0x30, 0x85, 1, 2, 3, 4, 5])
        )
        #expect(
            try Self.messages([0x30, 0x84, 0x7F, 0, 0, 0]).first
                == .invalid("LDAP message of 2130706438 bytes", [0x30, 0x84, 0x7F, 0, 0, 0])
        )
        #expect(
            try Self.messages(Array("GET /".utf8)).first == .invalid("not a BER SEQUENCE (0x47)", Array("GET /".utf8))
        )
        var machine = Self.machine()
        #expect(machine.received(.message([0x30, 0x03, 0x02, 0x01, 0x01])).last == .close)
        var generator = SeededGenerator(seed: 389)
        let samples = [
            Self.bind(1, name: "cn=x", choice: 0x80, Array("pw".utf8)),
            Self.bind(2, name: "", choice: 0x8A, NTLM.signature + [1, 0, 0, 0, 0, 0, 0, 0]),
        ]
        for _ in 0..<3000 {
            var machine = Self.machine()
            for var sample in samples {
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    sample[Int.random(in: 0..<sample.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
                _ = machine.received(.message(sample))
            }
        }
    }
}
