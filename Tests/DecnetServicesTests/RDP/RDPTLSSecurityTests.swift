import DecnetCore
import Testing

@testable import DecnetServices

/// RDP without NLA (`rdp_nla = optional`): TLS security, MCS set-up, and the Client Info PDU's credentials, with
/// PDUs built here in the shape FreeRDP 2 sends (RDPLiveTests runs the real one), and hostile ones.
@Suite struct RDPTLSSecurityTests {
    static func machine() -> RDPStateMachine {
        var machine = RDPTests.machine()
        machine.nlaRequired = false
        return machine
    }

    /// An X.224 Connection Request asking for these protocols.
    static func connectionRequest(_ protocols: UInt8) -> [UInt8] {
        [0x03, 0x00, 0x00, 0x13, 0x0E, 0xE0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, protocols, 0, 0, 0]
    }

    /// An MCS Connect-Initial whose GCC data holds CS_CORE (name, build, keyboard, screen) and CS_NET (channels).
    static func connectInitial(
        name: String = "KALI",
        build: UInt32 = 18363,
        channels: [String] = ["rdpdr", "cliprdr"]
    ) -> [UInt8] {
        var core: [UInt8] = []
        core.appendLE32(0x0008_000C)
        core.appendLE16(1280)
        core.appendLE16(800)
        core.appendLE16(0xCA01)
        core.appendLE16(0xAA03)
        core.appendLE32(0x409)
        core.appendLE32(build)
        var encodedName = NTLM.encode(name, true)
        encodedName += [UInt8](repeating: 0, count: 32 - encodedName.count)
        core += encodedName + [UInt8](repeating: 0, count: 12 + 64)
        core = [0x01, 0xC0] + UInt16(4 + core.count).littleEndianBytes + core
        var net: [UInt8] = []
        net.appendLE32(UInt32(channels.count))
        for channel in channels {
            net += Array(channel.utf8) + [UInt8](repeating: 0, count: 8 - channel.utf8.count)
            net.appendLE32(0x8000_0000)
        }
        net = [0x03, 0xC0] + UInt16(4 + net.count).littleEndianBytes + net
        let blocks = core + net
        let gcc: [UInt8] =
            [0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01, 0x81, 0x2A, 0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xC0, 0x00]
            + Array("Duca".utf8) + [0x81, UInt8(blocks.count)] + blocks
        let parameters: [UInt8] =
            [0x30, 0x19] + [UInt8](repeating: 0x02, count: 1) + [0x01, 0x22] + [
                0x02, 0x01, 0x02, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x02,
                0xFF, 0xFF, 0x02, 0x01, 0x02,
            ]
        let body: [UInt8] =
            [0x04, 0x01, 0x01, 0x04, 0x01, 0x01, 0x01, 0x01, 0xFF] + parameters + parameters + parameters
            + [0x04, 0x82] + UInt16(gcc.count).bigEndianBytes + gcc
        return RDPMCS.tpkt([0x7F, 0x65, 0x82] + UInt16(body.count).bigEndianBytes + body)
    }

    /// The Client Info PDU: Send Data Request on the I/O channel, SEC_INFO_PKT, TS_INFO_PACKET in UTF-16.
    static func clientInfo(domain: String, user: String, password: String) -> [UInt8] {
        var info: [UInt8] = []
        info.appendLE32(0)
        info.appendLE32(0x0000_0010 | 0x0000_0008 | 0x0000_0001)
        let fields = [domain, user, password, "", ""].map { NTLM.encode($0, true) }
        for field in fields { info.appendLE16(UInt16(field.count)) }
        for field in fields { info += field + [0, 0] }
        let data: [UInt8] = [0x40, 0x00, 0x00, 0x00] + info
        return RDPMCS.tpkt(
            [0x64, 0x00, 0x06, 0x03, 0xEB, 0x70, 0x80 | UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
        )
    }

    @Test func aTLSOnlyClientGetsTLSSecurityAndItsClientInfoPasswordIsCaptured() throws {
        var machine = Self.machine()
        let confirm = machine.received(.tpkt(Self.connectionRequest(0x01)))
        #expect(confirm.contains(.startTLS(RDP.connectionConfirm(selected: RDP.ssl))))
        let connect = machine.received(.tpkt(Self.connectInitial()))
        let fingerprint = RDPTests.fields(connect, .clientFingerprint)
        #expect(fingerprint["client_name"] == "KALI" && fingerprint["client_build"] == "18363")
        #expect(fingerprint["channels"] == "rdpdr,cliprdr" && fingerprint["desktop"] == "1280x800")
        let response = try #require(connect.compactMap { if case .send(let bytes) = $0 { bytes } else { nil } }.first)
        #expect(Array(response[7..<9]) == [0x7F, 0x66])
        // SC_NET names the I/O channel 1003 and one channel per static channel asked for.
        #expect(
            response.indices.contains {
                response[$0...].starts(with: [0x03, 0x0C, 0x0C, 0x00, 0xEB, 0x03, 0x02, 0x00, 0xEC, 0x03, 0xED, 0x03])
            }
        )
        #expect(machine.received(.tpkt(RDPMCS.tpkt([0x04, 0x01, 0x00, 0x01, 0x00]))).isEmpty, "erect domain")
        #expect(machine.received(.tpkt(RDPMCS.tpkt([0x28]))) == [.send(RDPMCS.tpkt([0x2E, 0x00, 0x00, 0x06]))])
        #expect(
            machine.received(.tpkt(RDPMCS.tpkt([0x38, 0x00, 0x06, 0x03, 0xEB])))
                == [.send(RDPMCS.tpkt([0x3E, 0x00, 0x00, 0x06, 0x03, 0xEB, 0x03, 0xEB]))]
        )
        let login = machine.received(.tpkt(Self.clientInfo(domain: "CORP", user: "alice", password: "Autumn2025!")))
        let fields = RDPTests.fields(login, .loginFailed)
        #expect(fields["username"] == "alice" && fields["domain"] == "CORP" && fields["password"] == "Autumn2025!")
        #expect(fields["auth"] == "rdp-tls" && fields["autologon"] == "true")
        #expect(login.suffix(2) == [.send(RDPMCS.disconnect), .close])
    }

    @Test func nlaStaysPreferredAndStandardSecurityIsNeverOffered() {
        var hybrid = Self.machine()
        #expect(
            hybrid.received(.tpkt(Self.connectionRequest(0x03))).contains(
                .startTLS(RDP.connectionConfirm(selected: RDP.hybrid))
            )
        )
        var standard = Self.machine()
        #expect(
            standard.received(.tpkt(Self.connectionRequest(0x00))).contains(.send(RDP.connectionConfirm(failure: 1)))
        )
        var required = RDPTests.machine()
        #expect(
            required.received(.tpkt(Self.connectionRequest(0x01))).contains(.send(RDP.connectionConfirm(failure: 5)))
        )
    }

    /// Connect-Initials and domain PDUs that lie about their lengths are closed or ignored, never a crash.
    @Test func hostileMCSIsClosed() {
        var generator = SeededGenerator(seed: 3389)
        let samples = [Self.connectInitial(), Self.clientInfo(domain: "D", user: "u", password: "p")]
        for _ in 0..<2000 {
            var machine = Self.machine()
            _ = machine.received(.tpkt(Self.connectionRequest(0x01)))
            for var sample in samples {
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    sample[Int.random(in: 0..<sample.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
                if Bool.random(using: &generator) {
                    sample = Array(sample.prefix(Int.random(in: 0..<sample.count, using: &generator)))
                }
                _ = machine.received(.tpkt(sample))
            }
        }
        var machine = Self.machine()
        _ = machine.received(.tpkt(Self.connectionRequest(0x01)))
        #expect(machine.received(.tpkt([3, 0, 0, 9, 2, 0xF0, 0x80, 0x7F, 0x65])).last == .close)
    }
}
