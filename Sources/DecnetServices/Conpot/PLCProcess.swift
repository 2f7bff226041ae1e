import DecnetCore
import Foundation
import Synchronization

/// The Modbus data tables (Modbus Application Protocol v1.1b3 §4.3).
enum ModbusTable: String, Sendable {
    case coils, discreteInputs, holdingRegisters, inputRegisters
}

/// The plant a conpot decky controls, shared by its ports: a water utility's booster station whose tank level,
/// pressures, flow and pump speeds drift with demand over the day, whose totaliser, run hours and start counters
/// only grow, and which remembers every write (Modbus or S7) until the decky restarts. Unit 1 is the CPU itself
/// (coils = Q0.0…, discrete inputs = I0.0…, holding registers = DB1, input registers = the analog inputs at
/// PIW256…); unit 2 is pump 1's SINAMICS G120 drive and unit 3 a SENTRON PAC3200 meter, both on the CPU's
/// serial Modbus gateway. A CPU in STOP stops its pumps and freezes DB1.
final class PLCProcess: Sendable {
    /// Sizes of unit 1's tables.
    static let coilCount = 32, discreteCount = 32, holdingCount = 100, inputCount = 16

    struct State {
        /// RUN (true) or STOP.
        var running = true
        /// Plant time of the last RUN/STOP transition.
        var transition: Double
        /// Written unit-1 holding registers (DB1 words).
        var holding: [Int: UInt16] = [:]
        /// Written coils (Q bits).
        var coils: [Int: Bool] = [:]
        /// Written registers of the gateway's devices, by unit.
        var devices: [UInt8: [Int: UInt16]] = [:]
        /// S7 memory that is only memory: flags, outputs past the coils, counters, timers, DB2, DB10.
        var flags = [UInt8](repeating: 0, count: 2048)
        var outputs = [UInt8](repeating: 0, count: 2048)
        var counters = [UInt8](repeating: 0, count: 512)
        var timers = [UInt8](repeating: 0, count: 512)
        var blocks: [Int: [UInt8]] = [2: [UInt8](repeating: 0, count: 64), 10: [UInt8](repeating: 0, count: 256)]
    }

    /// The process values at one instant.
    struct Snapshot {
        var level = 0.0, suction = 0.0, discharge = 0.0, flow = 0.0, temperature = 0.0, chlorine = 0.0
        var turbidity = 0.0, demand = 0.0
        var commands = [Bool](repeating: false, count: 8)
        var running = [false, false, false]
        var speeds = [0.0, 0.0, 0.0]
        var currents = [0.0, 0.0, 0.0]
        var total = 0.0
        var hours = [0.0, 0.0, 0.0]
        var starts = [0, 0]
        var cycle = 10
        var heartbeat = 0
    }

    let persona: PLCPersona
    /// Plant time in seconds (monotonic; starts weeks into the station's life).
    let clock: @Sendable () -> Double
    let state: Mutex<State>
    private let phases: [Double]
    private let seed: UInt64

    init(persona: PLCPersona, clock: @escaping @Sendable () -> Double) {
        self.persona = persona
        self.clock = clock
        let digest = persona.digest
        self.phases = digest[16..<24].map { Double($0) / 256 * 2 * Double.pi }
        self.seed = digest[24..<32].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        self.state = Mutex(State(transition: clock() - 3_600 * Double(200 + Int(digest[7]))))
    }

    // MARK: Shared per decky

    private struct Weak {
        weak var process: PLCProcess?
    }

    private static let registry = Mutex<[String: Weak]>([:])

    /// The process of a decky: every port of it (each its own service instance) sees the same plant.
    static func shared(key: String, make: () -> PLCProcess) -> PLCProcess {
        self.registry.withLock { registry in
            registry = registry.filter { $0.value.process != nil }
            if let process = registry[key]?.process { return process }
            let process = make()
            registry[key] = Weak(process: process)
            return process
        }
    }

    // MARK: CPU state

    var running: Bool { self.state.withLock { $0.running } }

    /// Puts the CPU in RUN or STOP; returns the mode it was in.
    @discardableResult
    func setRunning(_ running: Bool) -> Bool {
        let now = self.clock()
        return self.state.withLock { state in
            let was = state.running
            if was != running {
                state.running = running
                state.transition = now
            }
            return was
        }
    }

    // MARK: Simulation

    /// Smooth pseudo-random noise in -1…1, one curve per channel.
    func noise(_ x: Double, _ channel: UInt64) -> Double {
        guard x.isFinite, abs(x) < 1e15 else { return 0 }
        let base = x.rounded(.down)
        let fraction = x - base
        let a = self.unit(Int64(base), channel), b = self.unit(Int64(base) + 1, channel)
        return a + (b - a) * fraction * fraction * (3 - 2 * fraction)
    }

    private func unit(_ index: Int64, _ channel: UInt64) -> Double {
        var z = self.seed &+ UInt64(bitPattern: index) &* 0x9E37_79B9_7F4A_7C15 &+ channel &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53) * 2 - 1
    }

    /// The plant at plant time `t`, pumps running only if `pumping` (the CPU is in RUN).
    func snapshot(at t: Double, state: State, pumping: Bool) -> Snapshot {
        let tau = 2 * Double.pi, p = self.phases, d = self.persona.digest
        var s = Snapshot()
        s.demand = min(
            1,
            max(
                0.05,
                0.55 + 0.22 * sin(tau * t / 86_400 + p[0]) + 0.1 * sin(tau * t / 5_400 + p[1]) + 0.05
                    * self.noise(t / 240, 1)
            )
        )
        let defaults = [true, s.demand > 0.62, false, true, true, true, false, true]
        s.commands = (0..<8).map { state.coils[$0] ?? defaults[$0] }
        let drive = state.devices[2] ?? [:]
        for pump in 0..<3 {
            var on = pumping && s.commands[pump] && s.commands[4]
            if pump == 0, let control = drive[99] { on = on && control & 0x0001 != 0 }
            s.running[pump] = on
            var speed = min(100, max(30, 52 + 40 * s.demand + 1.5 * self.noise(t / 60, 10 + UInt64(pump))))
            if pump == 0, let setpoint = drive[100] { speed = min(100, Double(setpoint) / 16_384 * 100) }
            s.speeds[pump] = on ? speed : 0
            s.currents[pump] = on ? 18 + 0.22 * speed + 0.4 * self.noise(t / 20, 20 + UInt64(pump)) : 0
        }
        let flowing = s.running.contains(true)
        s.flow = max(0, s.speeds.reduce(0) { $0 + 95 * $1 / 100 } + (flowing ? 2 * self.noise(t / 30, 30) : 0))
        let top = (s.speeds.max() ?? 0) / 100
        s.suction = 1.25 + 0.08 * sin(tau * t / 7_200 + p[2]) - 0.0008 * s.flow + 0.02 * self.noise(t / 50, 32)
        s.discharge = s.suction + (flowing ? 3.6 * top * top : 0) + 0.03 * self.noise(t / 45, 31)
        s.level = min(94, max(6, 55 + 18 * sin(tau * t / 10_800 + p[3]) + 4 * self.noise(t / 900, 33)))
        s.temperature = 11.8 + 1.5 * sin(tau * t / 31_536_000 + p[4]) + 0.25 * self.noise(t / 1_800, 34)
        s.chlorine = 0.48 + 0.06 * sin(tau * t / 3_600 + p[5]) + 0.015 * self.noise(t / 120, 35)
        s.turbidity = 0.14 + 0.04 * abs(self.noise(t / 600, 36))
        s.total = Double(1_000_000 + Int(d[8]) * 12_000) + t * 118 / 3_600
        s.hours = [
            Double(9_000 + Int(d[14]) * 40) + t / 3_600 * 0.97, Double(4_000 + Int(d[15]) * 30) + t / 3_600 * 0.38,
            Double(600 + Int(d[16])) + t / 3_600 * 0.02,
        ]
        s.starts = [120 + Int(d[17]) + Int(t / 86_400), 2_000 + Int(d[18]) * 4 + Int((t + p[1] / tau * 5_400) / 5_400)]
        s.cycle = 9 + Int(2.5 + 2.5 * self.noise(t / 3, 37))
        s.heartbeat = Int(t.truncatingRemainder(dividingBy: 32_768))
        return s
    }

    /// The live plant and the snapshot DB1 shows (frozen at the last STOP).
    func snapshots() -> (live: Snapshot, block: Snapshot, state: State) {
        let now = self.clock()
        let state = self.state.withLock { $0 }
        let live = self.snapshot(at: now, state: state, pumping: state.running)
        let block = state.running ? live : self.snapshot(at: state.transition, state: state, pumping: true)
        return (live, block, state)
    }

    // MARK: Unit 1 tables

    /// DB1 as unit 1's holding registers: process values, totals, setpoints, status (written ones as written).
    func holdingRegisters(_ s: Snapshot, _ state: State) -> [UInt16] {
        func scaled(_ value: Double, _ factor: Double) -> UInt16 {
            UInt16(truncatingIfNeeded: Int((value * factor).rounded()))
        }
        func pair(_ value: Double) -> [UInt16] {
            let whole = UInt32(clamping: Int(value))
            return [UInt16(whole >> 16), UInt16(whole & 0xFFFF)]
        }
        var alarms: UInt16 = 0
        if s.level < 10 { alarms |= 0x0001 }
        if s.level > 90 { alarms |= 0x0002 }
        if s.running.contains(true) && s.discharge < 1 { alarms |= 0x0004 }
        var words: [UInt16] = [
            scaled(s.level, 10), scaled(s.suction, 100), scaled(s.discharge, 100), scaled(s.flow, 10),
            scaled(s.speeds[0], 10), scaled(s.speeds[1], 10), scaled(s.speeds[2], 10), scaled(s.temperature, 10),
            scaled(s.chlorine, 100), scaled(s.turbidity, 100),
        ]
        words += pair(s.total) + pair(s.hours[0]) + pair(s.hours[1]) + pair(s.hours[2])
        words += [UInt16(clamping: s.starts[0]), UInt16(clamping: s.starts[1]), 850, 250, 380, 1_000, 1, alarms]
        words += [UInt16(truncatingIfNeeded: s.cycle), UInt16(truncatingIfNeeded: s.heartbeat)]
        words += [UInt16](repeating: 0, count: Self.holdingCount - words.count)
        for (address, value) in state.holding where address < words.count { words[address] = value }
        return words
    }

    /// The analog inputs (PIW256…) as S7 analog modules give them: 0…27648 over each sensor's range.
    func inputRegisters(_ s: Snapshot) -> [UInt16] {
        func raw(_ value: Double, _ range: Double) -> UInt16 {
            UInt16(clamping: Int((max(0, value) / range * 27_648).rounded()))
        }
        let words = [
            raw(s.level, 100), raw(s.suction, 10), raw(s.discharge, 10), raw(s.flow, 500), raw(s.temperature, 50),
            raw(s.chlorine, 2), raw(s.turbidity, 4), raw(s.currents[0], 100), raw(s.currents[1], 100),
            raw(s.currents[2], 100),
        ]
        return words + [UInt16](repeating: 0, count: Self.inputCount - words.count)
    }

    /// Q0.0…Q3.7: pump run commands, valves, dosing, horn, auto mode.
    func coils(_ s: Snapshot, _ state: State) -> [Bool] {
        (0..<Self.coilCount).map { $0 < 8 ? s.commands[$0] : state.coils[$0] ?? false }
    }

    /// I0.0…I3.7: pump feedback and faults, valve limit switches, level switches, door, mains, remote, e-stop.
    func discreteInputs(_ s: Snapshot) -> [Bool] {
        let bits =
            s.running + [false, false, false, s.commands[3], s.commands[4], s.level > 92, s.level < 8]
            + [true, true, true, true]
        return bits + [Bool](repeating: false, count: Self.discreteCount - bits.count)
    }
}
