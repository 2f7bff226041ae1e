import DecnetCore
import Synchronization

/// The memory areas of an S7 ANY pointer (the `area` byte of a variable specification).
enum S7Area {
    static let peripheral: UInt8 = 0x80, inputs: UInt8 = 0x81, outputs: UInt8 = 0x82, flags: UInt8 = 0x83
    static let dataBlock: UInt8 = 0x84, instanceBlock: UInt8 = 0x85, local: UInt8 = 0x86
    static let counters: UInt8 = 0x1C, timers: UInt8 = 0x1D

    /// "DB1.DBB0", "MB10", "IB0", "QB4", "PIB256", "C0", "T0": how STEP 7 writes a byte address of the area.
    static func name(_ area: UInt8, block: Int, byte: Int) -> String {
        switch area {
        case peripheral: "PIB\(byte)"
        case inputs: "IB\(byte)"
        case outputs: "QB\(byte)"
        case flags: "MB\(byte)"
        case dataBlock: "DB\(block).DBB\(byte)"
        case instanceBlock: "DI\(block).DBB\(byte)"
        case local: "LB\(byte)"
        case counters: "C\(byte)"
        case timers: "T\(byte)"
        default: "area 0x\(String(area, radix: 16)):\(byte)"
        }
    }
}

extension S7Area {
    /// "DB1.DBX0.3", "M10.3", "I0.0", "Q4.1": a bit address as STEP 7 writes it.
    static func bitName(_ area: UInt8, block: Int, byte: Int, bit: Int) -> String {
        switch area {
        case peripheral: "PI\(byte).\(bit)"
        case inputs: "I\(byte).\(bit)"
        case outputs: "Q\(byte).\(bit)"
        case flags: "M\(byte).\(bit)"
        case dataBlock: "DB\(block).DBX\(byte).\(bit)"
        case instanceBlock: "DI\(block).DBX\(byte).\(bit)"
        case local: "L\(byte).\(bit)"
        default: self.name(area, block: block, byte: byte) + ".\(bit)"
        }
    }
}

/// Return codes of a read or write item (S7 data item, "return code").
enum S7Return {
    static let success: UInt8 = 0xFF, accessDenied: UInt8 = 0x03, addressOutOfRange: UInt8 = 0x05
    static let typeNotSupported: UInt8 = 0x06, typeInconsistent: UInt8 = 0x07, objectMissing: UInt8 = 0x0A
}

/// The CPU's memory as S7 read and write jobs see it, over the same plant as Modbus: DB1 is unit 1's holding
/// registers, IB0…IB3 its discrete inputs, QB0…QB3 its coils, PIW256… its input registers.
extension PLCProcess {
    /// Data blocks that exist, with their lengths in bytes.
    static let dataBlocks: [Int: Int] = [1: 2 * holdingCount, 2: 64, 10: 256]
    /// Size of the process images and the flag area of the CPU.
    static let areaSize = 2048

    /// The bytes of an area (or data block); nil when it does not exist.
    private func areaBytes(_ area: UInt8, block: Int) -> [UInt8]? {
        let (live, frozen, state) = self.snapshots()
        switch area {
        case S7Area.inputs, S7Area.peripheral:
            var bytes = [UInt8](repeating: 0, count: Self.areaSize)
            for (index, bit) in self.discreteInputs(live).enumerated() where bit {
                bytes[index / 8] |= 1 << UInt8(index % 8)
            }
            for (index, word) in self.inputRegisters(live).enumerated() {
                bytes[256 + 2 * index] = UInt8(word >> 8)
                bytes[257 + 2 * index] = UInt8(word & 0xFF)
            }
            return bytes
        case S7Area.outputs:
            var bytes = state.outputs
            for index in 0..<4 { bytes[index] = 0 }
            for (index, bit) in self.coils(frozen, state).enumerated() where bit {
                bytes[index / 8] |= 1 << UInt8(index % 8)
            }
            return bytes
        case S7Area.flags: return state.flags
        case S7Area.counters: return state.counters
        case S7Area.timers: return state.timers
        case S7Area.dataBlock:
            if block == 1 {
                return self.holdingRegisters(frozen, state).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
            }
            return state.blocks[block]
        default: return nil
        }
    }

    /// `length` bytes of an area from byte `start`, or the item return code a CPU gives instead.
    func s7Read(area: UInt8, block: Int, start: Int, length: Int) -> Result<[UInt8], S7ReadFailure> {
        guard let bytes = self.areaBytes(area, block: block) else {
            return .failure(S7ReadFailure(S7Return.objectMissing))
        }
        guard start >= 0, length >= 0, start + length <= bytes.count else {
            return .failure(S7ReadFailure(S7Return.addressOutOfRange))
        }
        if area == S7Area.peripheral, !(start + length <= 4 || (start >= 256 && start + length <= 288)) {
            return .failure(S7ReadFailure(S7Return.objectMissing))
        }
        return .success(Array(bytes[start..<(start + length)]))
    }

    /// Writes bytes into an area; the item return code.
    func s7Write(area: UInt8, block: Int, start: Int, bytes: [UInt8]) -> UInt8 {
        guard let current = self.areaBytes(area, block: block) else { return S7Return.objectMissing }
        guard start >= 0, start + bytes.count <= current.count else { return S7Return.addressOutOfRange }
        let end = start + bytes.count
        switch area {
        case S7Area.inputs:
            // The process image of the inputs is overwritten at the next cycle: accepted, and gone.
            return S7Return.success
        case S7Area.peripheral, S7Area.outputs:
            if area == S7Area.peripheral && end > 4 { return S7Return.objectMissing }
            self.state.withLock { state in
                for (offset, byte) in bytes.enumerated() {
                    let address = start + offset
                    if address < 4 {
                        for bit in 0..<8 { state.coils[address * 8 + bit] = byte & (1 << UInt8(bit)) != 0 }
                    } else {
                        state.outputs[address] = byte
                    }
                }
            }
        case S7Area.dataBlock where block == 1:
            var patched = current
            patched.replaceSubrange(start..<end, with: bytes)
            self.state.withLock { state in
                for word in (start / 2)..<((end + 1) / 2) {
                    state.holding[word] = UInt16(patched[2 * word]) << 8 | UInt16(patched[2 * word + 1])
                }
            }
        default:
            self.state.withLock { state in
                switch area {
                case S7Area.flags: state.flags.replaceSubrange(start..<end, with: bytes)
                case S7Area.counters: state.counters.replaceSubrange(start..<end, with: bytes)
                case S7Area.timers: state.timers.replaceSubrange(start..<end, with: bytes)
                default: state.blocks[block]?.replaceSubrange(start..<end, with: bytes)
                }
            }
        }
        return S7Return.success
    }
}

/// Why an S7 read item failed: its return code.
struct S7ReadFailure: Error, Equatable {
    let code: UInt8
    init(_ code: UInt8) { self.code = code }
}
