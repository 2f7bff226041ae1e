import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import Testing

@testable import DecnetServices

/// The S7 side of the conpot PLC: nmap's s7-info exchange read at its fixed offsets, the COTP TSAP check, the
/// session password as hydra and snap7 send it, variables shared with Modbus, PLC STOP under protection, SZL
/// answers split into data units, and hostile TPDUs.
@Suite struct S7Tests {
    /// nmap s7-info's packets, byte for byte.
    static let nmapCOTP = "0300001611e00000001400c1020100c2020102c0010a"
    static let nmapAltCOTP = "0300001611e00000000500c1020100c2020200c0010a"
    static let nmapSetup = "0300001902f08032010000000000080000f0000001000101e0"
    static let nmapSZL11 = "0300002102f080320700000000000800080001120411440100ff09000400110001"
    static let nmapSZL1C = "0300002102f080320700000000000800080001120411440100ff090004001c0001"

    static func machine(_ process: PLCProcess) -> S7StateMachine {
        S7StateMachine(process: process, reference: 0x4431) { Date(timeIntervalSince1970: 1_800_000_000) }
    }

    /// Feeds a whole TPKT (as a client writes it) and returns the actions.
    static func send(_ machine: inout S7StateMachine, _ hex: String) -> [ProtocolAction] {
        Self.send(&machine, Conpot.bytes(hex))
    }

    static func send(_ machine: inout S7StateMachine, _ tpkt: [UInt8]) -> [ProtocolAction] {
        let frames = Conpot.decode(tpkt, mode: .s7)
        return frames.flatMap { machine.received($0) }
    }

    /// An S7 PDU in a DT TPDU in a TPKT.
    static func data(_ pdu: [UInt8]) -> [UInt8] { COTP.dataTPKT(pdu) }

    static func job(_ parameter: [UInt8], data: [UInt8] = [], reference: UInt16 = 7) -> [UInt8] {
        [0x32, 0x01, 0, 0] + S7PDU.word(Int(reference)) + S7PDU.word(parameter.count) + S7PDU.word(data.count)
            + parameter + data
    }

    static func userData(
        group: UInt8,
        subfunction: UInt8,
        data: [UInt8],
        method: UInt8 = 0x11,
        sequence: UInt8 = 0
    )
        -> [UInt8]
    {
        let parameter: [UInt8] =
            method == 0x11
            ? [0x00, 0x01, 0x12, 0x04, 0x11, 0x40 | group, subfunction, sequence]
            : [0x00, 0x01, 0x12, 0x08, 0x12, 0x40 | group, subfunction, sequence, 0, 0, 0, 0]
        return [0x32, 0x07, 0, 0, 0, 9] + S7PDU.word(parameter.count) + S7PDU.word(data.count) + parameter + data
    }

    /// A connected machine after nmap's COTP and setup.
    static func connected(_ process: PLCProcess) -> S7StateMachine {
        var machine = Self.machine(process)
        _ = Self.send(&machine, Self.nmapCOTP)
        _ = Self.send(&machine, Self.nmapSetup)
        return machine
    }

    @Test func s7InfoReadsABelievableCPUAtItsFixedOffsets() throws {
        let process = Conpot.process(hostname: "plc-3.waterworks.local")
        let persona = process.persona
        var machine = Self.machine(process)
        let confirm = try #require(Conpot.sent(Self.send(&machine, Self.nmapCOTP)).first)
        #expect(confirm[5] == 0xD0, "s7-info checks byte 6 for the CC")
        #expect(Array(confirm[6...7]) == [0x00, 0x14], "the CC answers the client's reference")
        let setup = try #require(Conpot.sent(Self.send(&machine, Self.nmapSetup)).first)
        #expect(setup[7] == 0x32 && setup[8] == 0x03 && Array(setup.suffix(2)) == [0x00, 0xF0], "PDU 240")
        let first = try #require(Conpot.sent(Self.send(&machine, Self.nmapSZL11)).first)
        let module = try #require(Conpot.sent(Self.send(&machine, Self.nmapSZL11)).first)
        #expect(first == module && module.count >= 125 && module[7] == 0x32)
        #expect(Conpot.zString(module, at: 44) == "6ES7 315-2EH14-0AB0 ")
        #expect(Conpot.zString(module, at: 72) == "6ES7 315-2EH14-0AB0 ")
        #expect(Array(module[122...124]) == persona.firmware, "Version bytes at 123")
        let components = try #require(Conpot.sent(Self.send(&machine, Self.nmapSZL1C)).first)
        #expect(components.count >= 180 && components[30] != 0x1C)
        #expect(Conpot.zString(components, at: 44) == persona.systemName)
        #expect(Conpot.zString(components, at: 78) == "CPU 315-2 PN/DP")
        #expect(Conpot.zString(components, at: 112) == persona.plant)
        #expect(Conpot.zString(components, at: 146) == "Original Siemens Equipment")
        #expect(Conpot.zString(components, at: 180) == persona.serial)
        // Derived from the hostname, and none of conpot's well-known defaults.
        #expect(persona.systemName == "\(persona.systemName.prefix { $0 != "_" })_PLC-3")
        #expect(persona.serial.hasPrefix("S C-") && persona.serial.count == 16)
        let defaults = ["Technodrome", "Mouser Factory", "88111222", "CP 443-1 EX40", "Venus", "IM151-8 PN/DP CPU"]
        for text in [persona.systemName, persona.plant, persona.serial, persona.moduleName] {
            #expect(!defaults.contains { text.contains($0) })
        }
        let other = PLCPersona(persona: [:], hostname: "plc-4.waterworks.local")
        #expect(
            other.systemName != persona.systemName && other.serial != persona.serial && other.plant != persona.plant
        )
    }

    @Test func theTSAPMustNameTheCPUsRackAndSlot() {
        var machine = Self.machine(Conpot.process())
        let refused = Self.send(&machine, Self.nmapAltCOTP)
        #expect(Conpot.sent(refused).isEmpty && Conpot.closes(refused))
        let fields = Conpot.fields(refused, .commandInput)
        #expect(fields["accepted"] == "false" && fields["slot"] == "0" && fields["connection_type"] == "OP")
        // An S7-1200 answers slot 0 and 1, not the S7-300's slot 2.
        var compact = Self.machine(Conpot.process(["plc_model": "s7-1200"]))
        #expect(Conpot.sent(Self.send(&compact, Self.nmapAltCOTP)).first?[5] == 0xD0)
        var wrong = Self.machine(Conpot.process(["plc_model": "s7-1200"]))
        #expect(Conpot.closes(Self.send(&wrong, Self.nmapCOTP)))
        // A string TSAP (S7comm-plus's SIMATIC-ROOT-ES) reaches no S7-300.
        var plus = Self.machine(Conpot.process())
        let cr: [UInt8] = [30, 0xE0, 0, 0, 0, 1, 0, 0xC1, 2, 1, 0, 0xC2, 15] + Array("SIMATIC-ROOT-ES".utf8)
        let root = Self.send(&plus, COTP.tpkt(cr + [0xC0, 1, 0x0A]))
        #expect(Conpot.closes(root))
    }

    @Test func sessionPasswordsAreRecoveredAsPlaintextAsHydraSendsThem() throws {
        for password in ["", "a", "Secret1", "12345678", "toolongpassword"] {
            let encoded = S7PDU.encodePassword(Array(password.utf8))
            #expect(S7PDU.decodePassword(encoded) == Array(password.utf8.prefix(8)))
        }
        // hydra's p_s7_password_request with "Secret1" encoded as hydra encodes it.
        let encoded = S7PDU.encodePassword(Array("Secret1".utf8))
        #expect(encoded[0] == UInt8(ascii: "S") ^ 0x55 && encoded[2] == UInt8(ascii: "c") ^ 0x55 ^ encoded[0])
        let request = Conpot.bytes("0300002502f0803207000000000008000c0001120411450100ff090008")
        let tpkt = Array(request.prefix(29)) + encoded
        var machine = Self.connected(Conpot.process())
        let actions = Self.send(&machine, tpkt)
        let reply = try #require(Conpot.sent(actions).first)
        #expect(reply.count > 30 && reply[27] == 0xD6 && reply[28] == 0x02, "hydra reads 0xd602: wrong password")
        let failed = Conpot.fields(actions, .loginFailed)
        #expect(failed["password"] == "Secret1" && failed["method"] == "s7-session-password")
        #expect(failed["encoded"] == S7StateMachine.hex(encoded))
        // The persona's password legitimises; an unprotected CPU has none to give.
        var right = Self.connected(Conpot.process(["plc_password": "Secret1"]))
        let accepted = Self.send(&right, tpkt)
        #expect(Conpot.sent(accepted).first.map { Array($0[27...28]) } == [0x00, 0x00])
        #expect(Conpot.fields(accepted, .loginSuccess)["password"] == "Secret1")
        var open = Self.connected(Conpot.process(["plc_protection": "none"]))
        #expect(Conpot.sent(Self.send(&open, tpkt)).first.map { Array($0[27...28]) } == [0xD6, 0x05])
    }

    @Test func variablesAreTheSamePlantModbusSees() throws {
        let process = Conpot.process()
        var machine = Self.connected(process)
        // Write DB1.DBW44 (holding register 22) and M10.3, then read both back with DB1.DBB0[4].
        let item = { (type: UInt8, count: Int, block: Int, area: UInt8, address: Int) -> [UInt8] in
            [0x12, 0x0A, 0x10, type] + S7PDU.word(count) + S7PDU.word(block) + [area]
                + [UInt8(address >> 16), UInt8((address >> 8) & 0xFF), UInt8(address & 0xFF)]
        }
        let write = Self.job(
            [0x05, 0x02] + item(0x02, 2, 1, 0x84, 44 * 8) + item(0x01, 1, 0, 0x83, 10 * 8 + 3),
            data: [0x00, 0x04, 0x00, 0x10, 0x01, 0xF4] + [0x00, 0x03, 0x00, 0x01, 0x01]
        )
        let written = Self.send(&machine, Self.data(write))
        let ack = try #require(Conpot.sent(written).first)
        #expect(Array(ack.suffix(2)) == [0xFF, 0xFF])
        let fields = Conpot.fields(written, .commandInput)
        #expect(
            fields["command"] == "write_var" && fields["args"] == "DB1.DBB44[2], M10.3" && fields["values"] == "01f4;01"
        )
        var modbus = ModbusStateMachine(process: process)
        let registers = modbus.received(
            .modbus(ModbusFrame(transaction: 1, protocolID: 0, unit: 1, pdu: [0x03, 0x00, 0x16, 0x00, 0x01]))
        )
        #expect(Conpot.sent(registers).first.map { Array($0.suffix(2)) } == [0x01, 0xF4])
        let read = Self.job(
            [0x04, 0x03] + item(0x02, 1, 0, 0x83, 80) + item(0x01, 1, 0, 0x83, 83) + item(0x02, 4, 99, 0x84, 0)
        )
        let answer = try #require(Conpot.sent(Self.send(&machine, Self.data(read))).first)
        let data = Array(answer.dropFirst(7 + 14))
        #expect(Array(data.prefix(6)) == [0xFF, 0x04, 0x00, 0x08, 0x08, 0x00], "MB10 with its fill byte")
        #expect(Array(data[6..<12]) == [0xFF, 0x03, 0x00, 0x01, 0x01, 0x00], "M10.3 with its fill byte")
        #expect(Array(data[12...]) == [0x0A, 0x00, 0x00, 0x00], "DB99 does not exist")
    }

    @Test func plcStopNeedsThePasswordUnderProtectionAndStopsTheProcess() throws {
        let process = Conpot.process(["plc_password": "pump42"])
        var machine = Self.connected(process)
        let stop = Self.data(Self.job([0x29, 0, 0, 0, 0, 0, 9] + Array("P_PROGRAM".utf8)))
        let refused = Self.send(&machine, stop)
        let reply = try #require(Conpot.sent(refused).first)
        #expect(Array(reply[17...18]) == [0xD2, 0x41] && process.running)
        #expect(Conpot.fields(refused, .commandInput)["command"] == "plc_stop")
        let login = Self.userData(
            group: 5,
            subfunction: 1,
            data: [0xFF, 0x09, 0x00, 0x08] + S7PDU.encodePassword(Array("pump42".utf8))
        )
        _ = Self.send(&machine, Self.data(login))
        let stopped = try #require(Conpot.sent(Self.send(&machine, stop)).first)
        #expect(Array(stopped[17...18]) == [0x00, 0x00] && !process.running)
        let state = try #require(
            Conpot.sent(
                Self.send(
                    &machine,
                    Self.data(
                        Self.userData(group: 4, subfunction: 1, data: [0xFF, 0x09, 0x00, 0x04, 0x04, 0x24, 0x00, 0x00])
                    )
                )
            ).first
        )
        #expect(state[44] == 0x04, "SZL 0x0424 says STOP")
        let start = Self.data(Self.job([0x28, 0, 0, 0, 0, 0, 0, 0xFD, 0, 0, 9] + Array("P_PROGRAM".utf8)))
        let started = Self.send(&machine, start)
        #expect(Conpot.fields(started, .commandInput)["command"] == "plc_hot_start" && process.running)
    }

    @Test func longSZLAnswersComeInDataUnitsAsSnap7Reassembles() throws {
        var machine = Self.connected(Conpot.process())
        let request = Self.data(
            Self.userData(group: 4, subfunction: 1, data: [0xFF, 0x09, 0x00, 0x04, 0x00, 0x1C, 0x00, 0x00])
        )
        let first = try #require(Conpot.sent(Self.send(&machine, request)).first)
        #expect(first.count == 7 + 240 && first[26] == 0x01, "more data units follow")
        let sequence = first[24]
        let followUp = Self.data(
            Self.userData(group: 4, subfunction: 1, data: [0x0A, 0x00, 0x00, 0x00], method: 0x12, sequence: sequence)
        )
        let second = try #require(Conpot.sent(Self.send(&machine, followUp)).first)
        #expect(second[26] == 0x00 && second[24] == sequence)
        let content = Array(first.dropFirst(33)) + Array(second.dropFirst(33))
        #expect(content.count == 8 + 10 * 34 && Array(content[4...7]) == [0x00, 0x22, 0x00, 0x0A])
    }

    @Test func hostileTPDUsCloseOrAnswerNeverCrash() {
        // Bad TPKT framing.
        for bad in ["0400000700000000", "0300000300", "03000006000000", "0300ffff"] {
            let output = Conpot.decode(Conpot.bytes(bad) + [UInt8](repeating: 0, count: 16), mode: .s7)
            guard case .invalid = output.first else {
                Issue.record("\(bad): \(output)")
                continue
            }
        }
        // COTP: DT before CR, a CR whose parameter runs past it, a zero-length header.
        for tpdu in ["02f080320100", "11e00000001400c10a0100", "00e0", "ffe0000000000000"] {
            var machine = Self.machine(Conpot.process())
            let actions = machine.received(.tpkt(Conpot.bytes(tpdu)))
            #expect(Conpot.closes(actions) && Conpot.events(actions).contains(.clientMalformed), "\(tpdu)")
        }
        // S7 PDUs with lengths that lie, S7comm-plus, and truncated jobs and user data.
        var generator = SeededGenerator(seed: 102)
        let process = Conpot.process()
        for _ in 0..<2_000 {
            var machine = Self.connected(process)
            let kind = Int.random(in: 0..<4, using: &generator)
            var pdu: [UInt8]
            switch kind {
            case 0:
                pdu = Self.job(
                    [0x04, UInt8.random(in: 0...255, using: &generator)]
                        + Conpot.randomBytes(Int.random(in: 0...40, using: &generator), &generator)
                )
            case 1:
                pdu = Self.job(
                    [0x05, 0x01, 0x12, 0x0A, 0x10, 0x02, 0xFF, 0xFF, 0, 1, 0x84, 0, 0, 0],
                    data: Conpot.randomBytes(Int.random(in: 0...20, using: &generator), &generator)
                )
            case 2:
                pdu = Self.userData(
                    group: UInt8.random(in: 0...15, using: &generator),
                    subfunction: UInt8.random(in: 0...9, using: &generator),
                    data: Conpot.randomBytes(Int.random(in: 0...12, using: &generator), &generator)
                )
            default: pdu = [0x32] + Conpot.randomBytes(Int.random(in: 0...40, using: &generator), &generator)
            }
            if Bool.random(using: &generator), pdu.count > 12 { pdu[Int.random(in: 6..<10, using: &generator)] ^= 0xFF }
            _ = Self.send(&machine, Self.data(pdu))
            _ = Self.send(
                &machine,
                Self.data(Conpot.randomBytes(Int.random(in: 0...64, using: &generator), &generator))
            )
        }
        // A TSDU split over DT TPDUs is reassembled; one that never ends is bounded.
        var machine = Self.connected(process)
        let setup = Conpot.bytes("32010000000000080000f0000001000100f0")
        _ = machine.received(.tpkt([0x02, 0xF0, 0x00] + Array(setup.prefix(5))))
        let answered = machine.received(.tpkt([0x02, 0xF0, 0x80] + Array(setup.dropFirst(5))))
        #expect(Conpot.sent(answered).count == 1)
        var endless = Self.connected(process)
        var closed = false
        for _ in 0..<40 where !closed {
            closed = Conpot.closes(
                endless.received(.tpkt([0x02, 0xF0, 0x00] + [UInt8](repeating: 0x41, count: 1_000)))
            )
        }
        #expect(closed)
    }
}
