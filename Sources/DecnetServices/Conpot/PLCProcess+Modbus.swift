import DecnetCore
import Foundation
import Synchronization

/// Modbus exception codes (Modbus Application Protocol v1.1b3 §7).
enum ModbusException: UInt8, Error, Sendable {
    case illegalFunction = 0x01
    case illegalDataAddress = 0x02
    case illegalDataValue = 0x03
    case gatewayTargetFailed = 0x0B
}

/// Unit 1's tables, the gateway's devices behind units 2 and 3, and the Modbus accesses to them.
extension PLCProcess {
    /// The device a unit id reaches: 1 (and 0 or 255, "this device") the CPU, 2 the drive, 3 the meter; nil for
    /// a unit nothing answers on the gateway.
    static func device(_ unit: UInt8) -> UInt8? {
        switch unit {
        case 0, 1, 255: 1
        case 2, 3: unit
        default: nil
        }
    }

    /// Registers of pump 1's SINAMICS G120 (its Modbus RTU map: 40100 STW1, 40101 HSW, 40110 ZSW1, 40111 HIW,
    /// 40340… actual values), 0-based.
    func driveRegisters(_ s: Snapshot, _ state: State) -> [Int: UInt16] {
        let on = s.running[0], speed = s.speeds[0]
        func word(_ value: Double) -> UInt16 { UInt16(clamping: Int(value.rounded())) }
        var map: [Int: UInt16] = [
            99: on ? 0x047F : 0x047E, 100: word(speed / 100 * 16_384), 109: on ? 0xEF37 : 0xEB31,
            110: word(speed / 100 * 16_384), 339: word(speed / 100 * 2_950), 340: word(speed / 100 * 500),
            341: word(speed / 100 * 400), 342: word(562 + 3 * self.noise(s.total / 7, 60)),
            343: word(s.currents[0] * 100), 344: word(on ? speed * 1.6 : 0), 345: word(on ? speed * 28 : 0),
            346: word(41 + 6 * s.demand),
        ]
        for (address, value) in state.devices[2] ?? [:] { map[address] = value }
        return map
    }

    /// Measurements of the station's SENTRON PAC3200 (float32 pairs at offsets 1…69, energy as a double at 801).
    func meterRegisters(_ s: Snapshot) -> [Int: UInt16] {
        let load = 14 + 0.6 * s.currents.reduce(0, +)
        var values: [Double] = []
        let volts = (0..<3).map { 231 + 1.5 * self.noise(s.total / 13, 61 + UInt64($0)) }
        values += volts
        values += (0..<3).map { volts[$0] * 1.732 + 0.6 * self.noise(s.total / 17, 64 + UInt64($0)) }
        let amps = (0..<3).map { load + 0.8 * self.noise(s.total / 5, 67 + UInt64($0)) }
        values += amps
        let apparent = (0..<3).map { volts[$0] * amps[$0] }
        let factor = 0.87 + 0.02 * self.noise(s.total / 29, 70)
        values += apparent + apparent.map { $0 * factor } + apparent.map { $0 * sqrt(1 - factor * factor) }
        values += [factor, factor, factor] + volts.map { _ in 1.8 + 0.3 * self.noise(s.total / 31, 71) }
        values += amps.map { _ in 6.5 + 1.2 * self.noise(s.total / 37, 72) }
        values += [50 + 0.03 * self.noise(s.total / 3, 73), volts.reduce(0, +) / 3, volts.reduce(0, +) / 3 * 1.732]
        values += [amps.reduce(0, +) / 3, apparent.reduce(0, +), apparent.reduce(0, +) * factor]
        values += [apparent.reduce(0, +) * sqrt(1 - factor * factor), factor]
        var map: [Int: UInt16] = [:]
        for (index, value) in values.enumerated() {
            let bits = Float(value).bitPattern
            map[1 + 2 * index] = UInt16(bits >> 16)
            map[2 + 2 * index] = UInt16(bits & 0xFFFF)
        }
        let energy = (Double(180_000_000 + Int(self.persona.digest[19]) * 1_000_000) + s.total * 380).bitPattern
        for word in 0..<4 { map[801 + word] = UInt16(truncatingIfNeeded: energy >> (48 - 16 * UInt64(word))) }
        return map
    }

    /// Reads `count` bits of `table` from `start`.
    func readBits(unit: UInt8, table: ModbusTable, start: Int, count: Int) -> Result<[Bool], ModbusException> {
        guard let device = Self.device(unit) else { return .failure(.gatewayTargetFailed) }
        guard device == 1 else { return .failure(.illegalFunction) }
        let (live, block, state) = self.snapshots()
        let bits = table == .coils ? self.coils(block, state) : self.discreteInputs(live)
        guard start >= 0, start + count <= bits.count else { return .failure(.illegalDataAddress) }
        return .success(Array(bits[start..<(start + count)]))
    }

    /// Reads `count` registers of `table` from `start`; every one must exist.
    func readRegisters(unit: UInt8, table: ModbusTable, start: Int, count: Int) -> Result<[UInt16], ModbusException> {
        guard let device = Self.device(unit) else { return .failure(.gatewayTargetFailed) }
        let (live, block, state) = self.snapshots()
        let map: [Int: UInt16]
        switch device {
        case 1:
            let words = table == .holdingRegisters ? self.holdingRegisters(block, state) : self.inputRegisters(live)
            guard start >= 0, start + count <= words.count else { return .failure(.illegalDataAddress) }
            return .success(Array(words[start..<(start + count)]))
        case 2: map = self.driveRegisters(live, state)
        default: map = self.meterRegisters(live)
        }
        let values = (start..<(start + count)).compactMap { map[$0] }
        return values.count == count ? .success(values) : .failure(.illegalDataAddress)
    }

    /// Writes coils of unit 1.
    func writeCoils(unit: UInt8, start: Int, values: [Bool]) -> ModbusException? {
        guard let device = Self.device(unit) else { return .gatewayTargetFailed }
        guard device == 1 else { return .illegalFunction }
        guard start >= 0, start + values.count <= Self.coilCount else { return .illegalDataAddress }
        self.state.withLock { state in
            for (offset, value) in values.enumerated() { state.coils[start + offset] = value }
        }
        return nil
    }

    /// Writes holding registers: all of DB1 on unit 1, the control and setpoint words of the drive; the meter's
    /// measurements are read-only.
    func writeRegisters(unit: UInt8, start: Int, values: [UInt16]) -> ModbusException? {
        guard let device = Self.device(unit) else { return .gatewayTargetFailed }
        let addresses = start..<(start + values.count)
        switch device {
        case 1:
            guard start >= 0, addresses.upperBound <= Self.holdingCount else { return .illegalDataAddress }
            self.state.withLock { state in
                for (offset, value) in values.enumerated() { state.holding[start + offset] = value }
            }
        case 2:
            guard addresses.allSatisfy({ $0 == 99 || $0 == 100 }) else { return .illegalDataAddress }
            self.state.withLock { state in
                for (offset, value) in values.enumerated() { state.devices[2, default: [:]][start + offset] = value }
            }
        default:
            return .illegalDataAddress
        }
        return nil
    }
}
