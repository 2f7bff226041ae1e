import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import Testing

@testable import DecnetServices

/// The Modbus/TCP side of the conpot PLC: nmap's modbus-discover requests, reads of a plant that moves, writes
/// that stay, the standard exceptions, gateway answers for unknown units, and hostile PDUs.
@Suite struct ModbusTests {
    static func request(_ pdu: [UInt8], unit: UInt8 = 1, transaction: UInt16 = 0x1234) -> ConpotInbound {
        .modbus(ModbusFrame(transaction: transaction, protocolID: 0, unit: unit, pdu: pdu))
    }

    /// The response PDU of one request (after the 7-byte MBAP header), checking the header.
    static func reply(_ machine: inout ModbusStateMachine, _ pdu: [UInt8], unit: UInt8 = 1) -> [UInt8] {
        let actions = machine.received(Self.request(pdu, unit: unit))
        guard let bytes = Conpot.sent(actions).first, bytes.count >= 8 else { return [] }
        #expect(Array(bytes[0..<4]) == [0x12, 0x34, 0x00, 0x00])
        #expect(Int(bytes[4]) << 8 | Int(bytes[5]) == bytes.count - 6)
        #expect(bytes[6] == unit)
        return Array(bytes[7...])
    }

    static func registers(_ reply: [UInt8]) -> [Int] {
        stride(from: 2, to: reply.count - 1, by: 2).map { Int(reply[$0]) << 8 | Int(reply[$0 + 1]) }
    }

    @Test func modbusDiscoverNamesTheCPUFromReportServerIDAndDeviceIdentification() throws {
        var machine = ModbusStateMachine(process: Conpot.process())
        // nmap sends "\0\0\0\0\0\2" + sid + 0x11.
        let report = Self.reply(&machine, [0x11])
        #expect(report[0] == 0x11 && Int(report[1]) == report.count - 2)
        #expect(report[3] == 0xFF, "run indicator on")
        let text = String(decoding: report.dropFirst(4), as: UTF8.self)
        #expect(text.hasPrefix("Siemens SIMATIC S7-300 CPU 315-2 PN/DP V3.2."), "\(text)")
        // Then 0x2B/0x0E, read code 1 (basic), object 0.
        let identification = Self.reply(&machine, [0x2B, 0x0E, 0x01, 0x00])
        #expect(Array(identification.prefix(7)) == [0x2B, 0x0E, 0x01, 0x82, 0x00, 0x00, 0x03])
        var objects: [String] = []
        var at = 7
        while at + 2 <= identification.count {
            let length = Int(identification[at + 1])
            objects.append(String(decoding: identification[(at + 2)..<(at + 2 + length)], as: UTF8.self))
            at += 2 + length
        }
        #expect(objects.count == 3 && objects[0] == "Siemens" && objects[1] == "6ES7 315-2EH14-0AB0")
        #expect(objects[2].hasPrefix("V3.2."))
        // Regular stream from object 4, individual access, a bad code, an object that does not exist.
        let regular = Self.reply(&machine, [0x2B, 0x0E, 0x02, 0x04])
        #expect(regular[6] == 3 && regular[7] == 4)
        let individual = Self.reply(&machine, [0x2B, 0x0E, 0x04, 0x06])
        #expect(individual[6] == 1 && individual[7] == 6)
        #expect(Self.reply(&machine, [0x2B, 0x0E, 0x04, 0x42]) == [0xAB, 0x02])
        #expect(Self.reply(&machine, [0x2B, 0x0E, 0x09, 0x00]) == [0xAB, 0x03])
        #expect(Self.reply(&machine, [0x2B, 0x0D, 0x01, 0x00]) == [0xAB, 0x01])
    }

    @Test func unitsNothingAnswersGetGatewayTargetExceptionsAndEveryProbeIsRecorded() {
        var machine = ModbusStateMachine(process: Conpot.process())
        let actions = machine.received(Self.request([0x11], unit: 17))
        let reply = Conpot.sent(actions).first ?? []
        #expect(Array(reply.suffix(2)) == [0x91, 0x0B])
        let fields = Conpot.fields(actions, .commandInput)
        #expect(fields["command"] == "report_server_id" && fields["unit"] == "17" && fields["exception"] == "11")
        // Unit 0 and 255 reach the CPU itself; the drive and the meter do not implement 0x11.
        #expect(Self.reply(&machine, [0x11], unit: 255).first == 0x11)
        #expect(Self.reply(&machine, [0x11], unit: 2) == [0x91, 0x01])
        #expect(Self.reply(&machine, [0x03, 0, 0, 0, 1], unit: 200) == [0x83, 0x0B])
    }

    @Test func theProcessDriftsAndItsCountersOnlyGrow() {
        let clock = PlantClock()
        var machine = ModbusStateMachine(process: Conpot.process(clock: clock))
        let first = Self.registers(Self.reply(&machine, [0x03, 0x00, 0x00, 0x00, 28]))
        #expect(first.count == 28)
        #expect((60...940).contains(first[0]), "level in 0.1 %: \(first[0])")
        #expect((200...470).contains(first[2]), "discharge pressure in 0.01 bar: \(first[2])")
        #expect(first[20] == 850 && first[21] == 250 && first[22] == 380 && first[24] == 1)
        var totals: [Int] = []
        var levels: Set<Int> = []
        for _ in 0..<6 {
            clock.advance(1_800)
            let words = Self.registers(Self.reply(&machine, [0x03, 0x00, 0x00, 0x00, 28]))
            totals.append(words[10] << 16 | words[11])
            levels.insert(words[0])
        }
        #expect(totals == totals.sorted() && Set(totals).count == totals.count, "\(totals)")
        #expect(levels.count > 3, "the level moves: \(levels)")
        // Input registers are raw analog values (0…27648), coils and inputs a pump station's.
        let raw = Self.registers(Self.reply(&machine, [0x04, 0x00, 0x00, 0x00, 0x10]))
        #expect(raw.count == 16 && raw.allSatisfy { $0 <= 27_648 } && raw[0] > 0)
        let coils = Self.reply(&machine, [0x01, 0x00, 0x00, 0x00, 0x20])
        #expect(coils[0] == 0x01 && coils[1] == 4 && coils[2] & 0x01 == 1, "pump 1 commanded: \(coils)")
        let inputs = Self.reply(&machine, [0x02, 0x00, 0x00, 0x00, 0x20])
        #expect(inputs[1] == 4 && inputs[2] & 0x01 == 1, "pump 1 running: \(inputs)")
    }

    @Test func writesAreRememberedAndRecordedWithTheirValues() {
        let process = Conpot.process()
        var machine = ModbusStateMachine(process: process)
        let written = machine.received(Self.request([0x06, 0x00, 0x16, 0x03, 0xE7]))
        #expect(Conpot.sent(written).first.map { Array($0.suffix(5)) } == [0x06, 0x00, 0x16, 0x03, 0xE7])
        let fields = Conpot.fields(written, .commandInput)
        #expect(fields["command"] == "write_single_register" && fields["address"] == "22" && fields["values"] == "999")
        let multiple = machine.received(Self.request([0x10, 0x00, 0x28, 0x00, 0x02, 0x04, 0x12, 0x34, 0xAB, 0xCD]))
        #expect(Conpot.fields(multiple, .commandInput)["values"] == "4660,43981")
        #expect(Self.registers(Self.reply(&machine, [0x03, 0x00, 0x16, 0x00, 0x01])) == [999])
        #expect(Self.registers(Self.reply(&machine, [0x03, 0x00, 0x28, 0x00, 0x02])) == [0x1234, 0xABCD])
        // Coil 1 (pump 2) off and coil 2 (pump 3) on: the feedback inputs follow.
        _ = Self.reply(&machine, [0x05, 0x00, 0x01, 0x00, 0x00])
        _ = Self.reply(&machine, [0x0F, 0x00, 0x02, 0x00, 0x01, 0x01, 0x01])
        let inputs = Self.reply(&machine, [0x02, 0x00, 0x00, 0x00, 0x03])
        #expect(inputs == [0x02, 0x01, 0b101])
        // Mask write and read/write multiple.
        _ = Self.reply(&machine, [0x16, 0x00, 0x16, 0x00, 0xF0, 0x00, 0x05])
        #expect(Self.registers(Self.reply(&machine, [0x03, 0x00, 0x16, 0x00, 0x01])) == [(999 & 0xF0) | (5 & ~0xF0)])
        let both = Self.reply(&machine, [0x17, 0x00, 0x30, 0x00, 0x01, 0x00, 0x30, 0x00, 0x01, 0x02, 0x00, 0x07])
        #expect(both == [0x17, 0x02, 0x00, 0x07])
        // The drive's control word stops pump 1; the meter is read-only.
        _ = Self.reply(&machine, [0x06, 0x00, 0x63, 0x04, 0x7E], unit: 2)
        #expect(Self.reply(&machine, [0x02, 0x00, 0x00, 0x00, 0x01]) == [0x02, 0x01, 0x00])
        #expect(Self.reply(&machine, [0x06, 0x00, 0x01, 0x00, 0x01], unit: 3) == [0x86, 0x02])
        #expect(Self.reply(&machine, [0x06, 0x00, 0x10, 0x00, 0x01], unit: 2) == [0x86, 0x02])
    }

    @Test func exceptionsAreTheStandardOnes() {
        var machine = ModbusStateMachine(process: Conpot.process())
        #expect(Self.reply(&machine, [0x03, 0x00, 0x5F, 0x00, 0x0A]) == [0x83, 0x02])
        #expect(Self.reply(&machine, [0x03, 0x00, 0x00, 0x00, 0x00]) == [0x83, 0x03])
        #expect(Self.reply(&machine, [0x03, 0x00, 0x00, 0x00, 0x7E]) == [0x83, 0x03])
        #expect(Self.reply(&machine, [0x01, 0x00, 0x00, 0x07, 0xD1]) == [0x81, 0x03])
        #expect(Self.reply(&machine, [0x01, 0x00, 0x1F, 0x00, 0x02]) == [0x81, 0x02])
        #expect(Self.reply(&machine, [0x05, 0x00, 0x00, 0x12, 0x34]) == [0x85, 0x03])
        #expect(Self.reply(&machine, [0x0F, 0x00, 0x00, 0x00, 0x09, 0x01, 0xFF]) == [0x8F, 0x03])
        #expect(Self.reply(&machine, [0x10, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x01]) == [0x90, 0x03])
        #expect(Self.reply(&machine, [0x08, 0x00, 0x00, 0x12, 0x34]) == [0x88, 0x01])
        #expect(Self.reply(&machine, [0x01, 0x00, 0x00, 0x00, 0x01], unit: 2) == [0x81, 0x01])
        // The meter's float registers exist at 1…70; a read that runs past them does not.
        #expect(Self.registers(Self.reply(&machine, [0x03, 0x00, 0x01, 0x00, 0x02], unit: 3)).count == 2)
        #expect(Self.reply(&machine, [0x04, 0x00, 0x45, 0x00, 0x04], unit: 3) == [0x84, 0x02])
        let volts = Self.registers(Self.reply(&machine, [0x04, 0x00, 0x01, 0x00, 0x02], unit: 3))
        let value = Float(bitPattern: UInt32(volts[0]) << 16 | UInt32(volts[1]))
        #expect((225...237).contains(value), "\(value) V")
    }

    @Test func aCPUInStopAnswersNothingButTheRequestIsRecorded() {
        let process = Conpot.process()
        var machine = ModbusStateMachine(process: process)
        process.setRunning(false)
        let actions = machine.received(Self.request([0x03, 0x00, 0x00, 0x00, 0x01]))
        #expect(Conpot.sent(actions).isEmpty)
        #expect(Conpot.fields(actions, .commandInput)["cpu_state"] == "STOP")
        process.setRunning(true)
        #expect(Self.reply(&machine, [0x03, 0x00, 0x00, 0x00, 0x01]).first == 0x03)
    }

    @Test func hostilePDUsGetExceptionsNeverACrash() {
        var machine = ModbusStateMachine(process: Conpot.process())
        // Every function code, truncated to every length below its size.
        for function in UInt8(0)...UInt8(255) {
            for length in 0..<12 {
                let pdu = [function] + [UInt8](repeating: 0xFF, count: length)
                let actions = machine.received(Self.request(pdu, unit: UInt8(length % 4)))
                #expect(!Conpot.closes(actions))
            }
        }
        var generator = SeededGenerator(seed: 502)
        for _ in 0..<3_000 {
            let pdu = Conpot.randomBytes(Int.random(in: 1...253, using: &generator), &generator)
            let unit = UInt8.random(in: 0...255, using: &generator)
            _ = machine.received(Self.request(pdu, unit: unit))
        }
        // Protocol id other than 0: dropped, recorded, the connection stays.
        let other = machine.received(.modbus(ModbusFrame(transaction: 1, protocolID: 7, unit: 1, pdu: [0x03])))
        #expect(Conpot.sent(other).isEmpty && !Conpot.closes(other))
        #expect(Conpot.events(other) == [.clientMalformed])
    }

    @Test func theDecoderFramesMBAPAndRejectsLengthsOutOfRange() throws {
        let two = Conpot.bytes("000100000006010300000002") + Conpot.bytes("0002000000020111")
        try SplitVerifier.verify(
            two,
            produces: [
                Self.request([0x03, 0x00, 0x00, 0x00, 0x02], unit: 1, transaction: 1),
                Self.request([0x11], unit: 1, transaction: 2),
            ],
            decoder: { ConpotFrameDecoder(mode: .modbus) }
        )
        for bad in ["000000000000", "000000000001ff", "0000000000ff01", "00000000ffff01"] {
            let output = Conpot.decode(Conpot.bytes(bad) + [UInt8](repeating: 0, count: 300), mode: .modbus)
            guard case .invalid = output.first else {
                Issue.record("\(bad): \(output)")
                continue
            }
            #expect(output.count == 1)
        }
        // Garbage on a port of no known protocol is read as Modbus.
        #expect(
            Conpot.decode(Conpot.bytes("000100000002ff11"), mode: .sniff) == [
                Self.request([0x11], unit: 0xFF, transaction: 1)
            ]
        )
    }
}
