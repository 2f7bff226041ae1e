import DecnetCore
import DecnetServiceKit
import DecnetTesting
import Testing

@testable import DecnetServices

/// The SNMP agent: requests as net-snmp's tools and nmap send them (v1, v2c, v3 discovery), the community policy,
/// walks in OID order, GETBULK within the reply bound, and hostile datagrams.
@Suite struct SNMPTests {
    static func agent(archetype: String? = nil, osFamily: OSFamily = .linux) -> SNMPAgent {
        var persona = ["snmp_community": "n0c-r3ad"]
        if let archetype { persona["snmp_archetype"] = archetype }
        let mib = SNMPMIB(
            persona: persona,
            hostname: "mon01",
            osFamily: osFamily,
            mac: "52:54:00:12:34:56",
            address: "10.0.0.9"
        )
        return SNMPAgent(mib: mib, community: "n0c-r3ad")
    }

    /// A v1/v2c request as snmpget writes it.
    static func request(
        _ type: UInt8,
        version: Int = 1,
        community: String = "n0c-r3ad",
        id: Int = 0x1234,
        first: Int = 0,
        second: Int = 0,
        oids: [String]
    ) -> [UInt8] {
        let bindings = oids.map { OID($0)! }.map { ($0, SNMPValue.null) }
        let pdu = SNMPMessage.encodePDU(type, requestID: id, error: first, index: second, bindings: bindings)
        return BERWriter.constructed(0x30, [BERWriter.integer(version), BERWriter.string(community), pdu], ad: false)
    }

    static func reply(_ answer: (SNMPAgent.Answer, [(EventID, EventFields)])) -> SNMPMessage? {
        guard case .reply(let bytes) = answer.0 else { return nil }
        return SNMPMessage(bytes)
    }

    static func field(_ events: [(EventID, EventFields)], _ id: EventID, _ name: String) -> String? {
        events.first { $0.0 == id }?.1.fields.first { $0.name == name }?.value
    }

    @Test func aGetReadsTheSystemGroupAsTheDeviceWritesIt() throws {
        let agent = Self.agent()
        let message = try #require(
            SNMPMessage(Self.request(0xA0, oids: ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0"]))
        )
        let answer = agent.answer(message, uptime: 12_345, byteBound: 4096)
        let reply = try #require(Self.reply(answer)?.pdu)
        #expect(reply.type == .response && reply.requestID == 0x1234 && reply.first == 0)
        #expect(
            reply.bindings.map(\.value) == [
                .text("Linux mon01 5.10.0-28-amd64 #1 SMP Debian 5.10.209-2 (2024-01-31) x86_64"), .text("mon01"),
                .oid(OID([1, 3, 6, 1, 4, 1, 8072, 3, 2, 10])),
            ]
        )
        #expect(Self.field(answer.1, .commandInput, "command") == "get")
        // A Cisco router and an HP printer say so.
        let router = try #require(
            Self.reply(Self.agent(archetype: "router").answer(message, uptime: 1, byteBound: 4096))?.pdu
        )
        #expect(router.bindings[0].value.text.hasPrefix("Cisco IOS Software"))
        #expect(router.bindings[2].value == .oid(OID([1, 3, 6, 1, 4, 1, 9, 1, 1041])))
    }

    @Test func aWrongCommunityIsRecordedAndAnsweredWithSilence() throws {
        let message = try #require(SNMPMessage(Self.request(0xA0, community: "public", oids: ["1.3.6.1.2.1.1.1.0"])))
        let answer = Self.agent().answer(message, uptime: 1, byteBound: 4096)
        #expect(answer.0 == .silence)
        #expect(Self.field(answer.1, .loginFailed, "password") == "public")
        #expect(Self.field(answer.1, .loginFailed, "method") == "community")
    }

    @Test func getNextWalksInOIDOrderToTheEndOfTheView() throws {
        let agent = Self.agent()
        var cursor = "1.3.6.1"
        var walked: [OID] = []
        for _ in 0..<100 {
            let message = try #require(SNMPMessage(Self.request(0xA1, oids: [cursor])))
            let binding = try #require(
                Self.reply(agent.answer(message, uptime: 500, byteBound: 4096))?.pdu?.bindings.first
            )
            if binding.value == .endOfMibView { break }
            walked.append(binding.oid)
            cursor = binding.oid.description
        }
        #expect(walked == walked.sorted() && Set(walked).count == walked.count && walked.count == 37, "\(walked)")
        #expect(walked.contains(OID("1.3.6.1.2.1.4.20.1.1.10.0.0.9")!), "the decky's own address")
        // v1 ends a walk with noSuchName instead.
        let end = try #require(SNMPMessage(Self.request(0xA1, version: 0, oids: ["1.3.6.1.6.3.99"])))
        let v1 = try #require(Self.reply(agent.answer(end, uptime: 1, byteBound: 4096))?.pdu)
        #expect(v1.first == 2 && v1.second == 1)
    }

    @Test func getBulkStaysWithinTheReplyBound() throws {
        let agent = Self.agent()
        let request = Self.request(0xA5, second: 40, oids: ["1.3.6.1.2.1.2"])
        let message = try #require(SNMPMessage(request))
        let answer = agent.answer(message, uptime: 1, byteBound: request.count * 8)
        guard case .reply(let bytes) = answer.0 else {
            Issue.record("no reply")
            return
        }
        #expect(bytes.count <= request.count * 8)
        let bindings = try #require(SNMPMessage(bytes)?.pdu?.bindings)
        #expect(bindings.count > 3 && bindings.first?.oid == OID("1.3.6.1.2.1.2.1.0"))
        #expect(bindings.map(\.oid) == bindings.map(\.oid).sorted())
    }

    @Test func setIsRefusedAndRecorded() throws {
        let set = SNMPMessage.encodePDU(
            0xA3,
            requestID: 7,
            error: 0,
            index: 0,
            bindings: [(OID("1.3.6.1.2.1.1.5.0")!, .text("pwned"))]
        )
        let bytes = BERWriter.constructed(0x30, [BERWriter.integer(1), BERWriter.string("n0c-r3ad"), set], ad: false)
        let answer = Self.agent().answer(try #require(SNMPMessage(bytes)), uptime: 1, byteBound: 4096)
        let pdu = try #require(Self.reply(answer)?.pdu)
        #expect(pdu.first == 6 && pdu.second == 1, "noAccess")
        #expect(Self.field(answer.1, .payloadReceived, "preview") == "1.3.6.1.2.1.1.5.0=pwned")
        // A value nothing can be set to is refused for its type first, at its position (net-snmp 5.9.3).
        let null = SNMPMessage.encodePDU(
            0xA3,
            requestID: 8,
            error: 0,
            index: 0,
            bindings: [(OID("1.3.6.1.2.1.1.5.0")!, .text("x")), (OID("1.3.6.1.2.1.1.6.0")!, .null)]
        )
        let typed = BERWriter.constructed(0x30, [BERWriter.integer(1), BERWriter.string("n0c-r3ad"), null], ad: false)
        let typedMessage = try #require(SNMPMessage(typed))
        let wrong = try #require(Self.reply(Self.agent().answer(typedMessage, uptime: 1, byteBound: 4096))?.pdu)
        #expect(wrong.first == 7 && wrong.second == 2, "wrongType")
    }

    /// v3 as net-snmp's tools (and nmap's -sV probe) start it: an engine discovery answered with a Report naming a
    /// net-snmp engine; then a request with a user, whose name and authentication parameters are captured.
    @Test func v3DiscoveryNamesTheEngineAndUsersAreCaptured() throws {
        func v3(user: String, engine: [UInt8], auth: [UInt8]) -> [UInt8] {
            let usm = BERWriter.constructed(
                0x30,
                [
                    BERWriter.octets(engine), BERWriter.integer(0), BERWriter.integer(0), BERWriter.string(user),
                    BERWriter.octets(auth), BERWriter.octets([]),
                ],
                ad: false
            )
            let pdu = SNMPMessage.encodePDU(0xA0, requestID: 99, error: 0, index: 0, bindings: [])
            return BERWriter.constructed(
                0x30,
                [
                    BERWriter.integer(3),
                    BERWriter.constructed(
                        0x30,
                        [
                            BERWriter.integer(4242), BERWriter.integer(65_507), BERWriter.octets([0x05]),
                            BERWriter.integer(3),
                        ],
                        ad: false
                    ),
                    BERWriter.octets(usm),
                    BERWriter.constructed(0x30, [BERWriter.octets([]), BERWriter.octets([]), pdu], ad: false),
                ],
                ad: false
            )
        }
        let agent = Self.agent()
        let discovery = agent.answer(
            try #require(SNMPMessage(v3(user: "", engine: [], auth: []))),
            uptime: 360_000,
            byteBound: 4096
        )
        let report = try #require(Self.reply(discovery))
        #expect(
            report.v3?.engineID.starts(with: [0x80, 0x00, 0x1F, 0x88, 0x80]) == true,
            "net-snmp's enterprise and format"
        )
        // net-snmp's layout: 4 random bytes, the creation time (little-endian, in the past), 4 zero bytes.
        let engine = try #require(report.v3?.engineID)
        let created = engine[9..<13].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(
            engine.count == 17 && engine.suffix(4) == [0, 0, 0, 0] && created > 1_600_000_000 && created < 1_800_000_000
        )
        #expect(report.v3?.engineTime == 3_600 && report.v3?.messageID == 4242)
        #expect(report.pdu?.type == .report && report.pdu?.bindings.first?.oid == OID("1.3.6.1.6.3.15.1.1.4.0"))
        let login = agent.answer(
            try #require(
                SNMPMessage(v3(user: "monitor", engine: agent.engineID, auth: [UInt8](repeating: 0xAB, count: 12)))
            ),
            uptime: 1,
            byteBound: 4096
        )
        #expect(Self.reply(login)?.pdu?.bindings.first?.oid == OID("1.3.6.1.6.3.15.1.1.3.0"), "unknown user")
        #expect(Self.field(login.1, .loginFailed, "username") == "monitor")
        #expect(Self.field(login.1, .loginFailed, "auth_params") == String(repeating: "ab", count: 12))
        #expect(Self.field(login.1, .loginFailed, "security_level") == "authNoPriv")
    }

    @Test func hostileDatagramsAreDroppedNeverCrash() throws {
        #expect(
            SNMPMessage([]) == nil && SNMPMessage([0x30, 0x00]) == nil
                && SNMPMessage([0x30, 0x84, 0xFF, 0, 0, 0]) == nil
        )
        #expect(OID(encoded: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) == nil && OID(encoded: [0x2B, 0x86]) == nil)
        let agent = Self.agent()
        // A first subidentifier past 32 bits (2.4294967216 here, 2^32) is read, and echoed in the reply without
        // overflowing: the GET (community n0c-r3ad) is answered with noSuchObject for it.
        let wide: [UInt8] = [0x90, 0x80, 0x80, 0x80, 0x00]
        #expect(OID(encoded: wide)?.encoded == wide)
        let get = BERWriter.constructed(
            0x30,
            [
                BERWriter.integer(1), BERWriter.string("n0c-r3ad"),
                [0xA0, 0x16, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0B, 0x30, 0x09, 0x06, 0x05]
                    + wide + [0x05, 0x00],
            ],
            ad: false
        )
        let message = try #require(SNMPMessage(get))
        let answered = try #require(Self.reply(agent.answer(message, uptime: 1, byteBound: 512))?.pdu)
        #expect(answered.bindings.first?.oid.encoded == wide)
        var generator = SeededGenerator(seed: 161)
        let samples = [
            Self.request(0xA1, oids: ["1.3.6.1.2.1.1"]),
            Self.request(0xA5, first: 1, second: 10, oids: ["1.3.6.1", "1.3.6.1.2.1.2"]),
        ]
        for _ in 0..<3000 {
            for var sample in samples {
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    sample[Int.random(in: 0..<sample.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
                if let message = SNMPMessage(sample) { _ = agent.answer(message, uptime: 1, byteBound: 512) }
            }
        }
    }
}
