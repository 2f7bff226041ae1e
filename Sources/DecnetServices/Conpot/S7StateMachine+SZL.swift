import Foundation

/// The system status lists (SZL) the CPU answers, laid out as an S7-300/400 CPU lays them out: the header (SZL
/// id, index, record length, record count) and fixed-size records. Scanners read these at fixed offsets (nmap's
/// s7-info takes the module at byte 44 of the 0x0011 answer, the version bytes at 123, the 0x001C strings at
/// 44/78/112/146/180), so the records are exactly the real ones' size and order.
extension S7StateMachine {
    /// SZL ids the CPU lists in SZL 0x0000 (those it has partial lists for).
    static let partialLists: [UInt16] = [
        0x0000, 0x0011, 0x0012, 0x0013, 0x0014, 0x0015, 0x0016, 0x0017, 0x0018, 0x0019, 0x001C, 0x0021, 0x0022,
        0x0023, 0x0024, 0x0025, 0x0037, 0x0074, 0x0091, 0x0092, 0x0094, 0x0095, 0x00A0, 0x00B1, 0x00B2, 0x00B3,
        0x00B4, 0x0111, 0x0112, 0x0113, 0x0114, 0x0115, 0x0116, 0x0117, 0x0118, 0x0119, 0x011C, 0x0121, 0x0122,
        0x0123, 0x0124, 0x0131, 0x0132, 0x0137, 0x0174, 0x0222, 0x0223, 0x0232, 0x0292, 0x0294, 0x0424, 0x0524,
        0x0591, 0x0692, 0x0694, 0x0A91, 0x0C91, 0x0D91, 0x0E91, 0x0F00, 0x0F11, 0x0F12, 0x0F13, 0x0F14, 0x0F1C,
    ]

    /// The content of an SZL answer (from the SZL id on), or nil for an SZL the CPU does not have.
    func szl(_ id: UInt16, _ index: UInt16) -> [UInt8]? {
        func list(_ length: Int, _ records: [[UInt8]]) -> [UInt8] {
            S7PDU.word(Int(id)) + S7PDU.word(Int(index)) + S7PDU.word(length) + S7PDU.word(records.count)
                + records.flatMap { $0 }
        }
        /// All the records (SZL 0x00xx), or the one whose first word is the index (0x01xx; nil when none is).
        func listOrRecord(_ length: Int, _ records: [[UInt8]]) -> [UInt8]? {
            guard id >> 8 == 0x01 else { return list(length, records) }
            guard let record = records.first(where: { Int($0[0]) << 8 | Int($0[1]) == Int(index) }) else {
                return nil
            }
            return list(length, [record])
        }
        switch id {
        case 0x0000:
            return list(2, Self.partialLists.map { S7PDU.word(Int($0)) })
        case 0x0011, 0x0111:
            return listOrRecord(28, self.identification())
        case 0x0F11:
            return list(28, [])
        case 0x001C, 0x011C:
            return listOrRecord(34, self.components())
        case 0x0F1C:
            return list(34, [])
        case 0x0424:
            return list(20, [self.modeTransition()])
        case 0x0132, 0x0232:
            guard index == 0x0004 else { return Self.partialLists.contains(id) ? list(40, []) : nil }
            let persona = self.persona
            let level: UInt16 = persona.protected ? 2 : 1
            let effective: UInt16 = persona.protected && !self.legitimate ? 2 : 1
            let record =
                [0x00, 0x04] + S7PDU.word(1) + S7PDU.word(Int(level)) + S7PDU.word(Int(effective))
                + S7PDU.word(self.process.running ? 1 : 3) + S7PDU.word(0)
            return list(40, [record + [UInt8](repeating: 0, count: 40 - record.count)])
        case 0x0131:
            guard index == 0x0001 else { return list(40, []) }
            let model = self.persona.model
            let record =
                [0x00, 0x01] + S7PDU.word(model.maximumPDU) + S7PDU.word(model.maximumConnections)
                + [0x00, 0x02, 0xDC, 0x6C] + [0x00, 0x00, 0x00, 0x00]
            return list(40, [record + [UInt8](repeating: 0, count: 40 - record.count)])
        default:
            // A partial list the CPU has but whose records are not modelled answers with none.
            return Self.partialLists.contains(id) ? list(2, []) : nil
        }
    }

    /// SZL 0x0011: module, basic hardware, basic firmware and boot loader records (index, MLFB, BGTyp, Ausbg,
    /// Ausbe).
    func identification() -> [[UInt8]] {
        let persona = self.persona
        let order = persona.paddedOrderNumber
        let blank = [UInt8](repeating: 0x20, count: 20)
        let firmware = persona.firmware
        func record(_ index: Int, _ name: [UInt8], _ ausbg: [UInt8], _ ausbe: [UInt8]) -> [UInt8] {
            S7PDU.word(index) + name + [0x00, 0xC0] + ausbg + ausbe
        }
        return [
            record(0x0001, order, [0x00, 0x00], [0x00, persona.model.hardware]),
            record(0x0006, order, [0x00, 0x00], [0x00, persona.model.hardware]),
            record(0x0007, blank, [0x56, firmware[0]], [firmware[1], firmware[2]]),
            record(0x0081, PLCPersona.padded("Boot Loader", 20, with: 0x20), [0x41, 0x22], [0x09, 0x09]),
        ]
    }

    /// SZL 0x001C: the component identification records, 34 bytes each, strings NUL-padded.
    func components() -> [[UInt8]] {
        let persona = self.persona
        func record(_ index: Int, _ bytes: [UInt8]) -> [UInt8] { S7PDU.word(index) + bytes }
        func text(_ value: String, _ length: Int) -> [UInt8] {
            PLCPersona.padded(value, length) + [UInt8](repeating: 0, count: 32 - length)
        }
        return [
            record(1, text(persona.systemName, 24)),
            record(2, text(persona.moduleName, 24)),
            record(3, text(persona.plant, 32)),
            record(4, text("Original Siemens Equipment", 26)),
            record(5, text(persona.serial, 24)),
            record(7, text(persona.model.typeName, 32)),
            record(8, text(persona.memoryCard, 32)),
            record(9, [0x00, 0x2A, 0xF6, 0x00, 0x00, 0x01] + [UInt8](repeating: 0, count: 26)),
            record(0x0A, [UInt8](repeating: 0, count: 32)),
            record(0x0B, [UInt8](repeating: 0, count: 32)),
        ]
    }

    /// SZL 0x0424: the current mode transition (event, requested and previous mode, start-up info, time).
    func modeTransition() -> [UInt8] {
        let running = self.process.running
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: self.wallClock())
        func bcd(_ value: Int?) -> UInt8 {
            let value = (value ?? 0) % 100
            return UInt8(value / 10) << 4 | UInt8(value % 10)
        }
        return [0x51, 0x44, 0xFF, running ? 0x08 : 0x04, 0x00, 0x00, 0x0C, 0x10]
            + [0x00, 0x00, 0x00, 0x00]
            + [bcd(parts.year), bcd(parts.month), bcd(parts.day), bcd(parts.hour), bcd(parts.minute)]
            + [bcd(parts.second), 0x00, 0x00]
    }
}
