import DecnetCore
import DecnetServiceKit

/// A Modbus/TCP server as the CPU's Modbus server program and serial gateway answer (Modbus Application Protocol
/// v1.1b3, Messaging on TCP/IP Implementation Guide v1.0b), without I/O: reads and writes of unit 1's tables
/// and of the gateway's devices, Report Server ID, Read Device Identification, the standard exceptions, and
/// exception 0x0B for a unit id nothing answers. Every request is recorded with its unit, range and values. A
/// CPU in STOP runs no user program, so its Modbus server answers nothing until it is started again.
struct ModbusStateMachine {
    /// The identity the CPU's server gives (Read Device Identification objects 0…6, Report Server ID).
    struct Identity: Sendable, Equatable {
        var vendor: String
        var productCode: String
        var revision: String
        var vendorURL: String
        var productName: String
        var modelName: String
        var applicationName: String

        init(_ persona: PLCPersona) {
            self.vendor = "Siemens"
            self.productCode = persona.model.orderNumber
            self.revision = persona.firmwareText
            self.vendorURL = "https://www.siemens.com/simatic"
            self.productName = "SIMATIC \(persona.model.family)"
            self.modelName = persona.model.typeName
            self.applicationName = persona.systemName
        }

        var objects: [String] {
            [vendor, productCode, revision, vendorURL, productName, modelName, applicationName]
        }
    }

    let process: PLCProcess
    let identity: Identity
    private var closed = false

    init(process: PLCProcess) {
        self.process = process
        self.identity = Identity(process.persona)
    }

    mutating func received(_ inbound: ConpotInbound) -> [ProtocolAction] {
        guard !self.closed else { return [] }
        switch inbound {
        case .modbus(let frame):
            guard frame.protocolID == 0 else {
                // Not Modbus (§3.1.3: protocol identifier 0): the frame is dropped, the connection stays.
                return [
                    .emit(
                        .clientMalformed,
                        EventFields.malformed("MBAP protocol id \(frame.protocolID)", preview: frame.pdu)
                    )
                ]
            }
            return self.request(frame)
        case .invalid(let problem, let preview):
            self.closed = true
            return [.emit(.clientMalformed, EventFields.malformed(problem, preview: preview)), .close]
        case .tpkt(let bytes):
            self.closed = true
            return [.emit(.clientMalformed, EventFields.malformed("not Modbus", preview: bytes)), .close]
        case .http(let request):
            self.closed = true
            return [
                .emit(.clientMalformed, EventFields.malformed("not Modbus", preview: Array(request.method.utf8))),
                .close,
            ]
        case .badHTTP(_, let preview):
            self.closed = true
            return [.emit(.clientMalformed, EventFields.malformed("not Modbus", preview: preview)), .close]
        }
    }

    static func name(_ function: UInt8) -> String {
        switch function {
        case 0x01: "read_coils"
        case 0x02: "read_discrete_inputs"
        case 0x03: "read_holding_registers"
        case 0x04: "read_input_registers"
        case 0x05: "write_single_coil"
        case 0x06: "write_single_register"
        case 0x0F: "write_multiple_coils"
        case 0x10: "write_multiple_registers"
        case 0x11: "report_server_id"
        case 0x16: "mask_write_register"
        case 0x17: "read_write_multiple_registers"
        case 0x2B: "read_device_identification"
        default: "function_0x" + String(function, radix: 16)
        }
    }

    private func request(_ frame: ModbusFrame) -> [ProtocolAction] {
        let function = frame.pdu.first ?? 0
        var fields = EventFields()
        fields.add("command", Self.name(function))
        fields.add("unit", String(frame.unit))
        fields.add("function", String(function))
        let pdu = frame.pdu
        let answer: Result<[UInt8], ModbusException>
        if !self.process.running {
            fields.add("args", "unit=\(frame.unit)")
            fields.add("cpu_state", "STOP")
            return [.emit(.commandInput, fields)]
        }
        answer = self.respond(function: function, pdu: pdu, unit: frame.unit, fields: &fields)
        let reply: [UInt8]
        switch answer {
        case .success(let body): reply = [function] + body
        case .failure(let exception):
            fields.add("exception", String(exception.rawValue))
            reply = [function | 0x80, exception.rawValue]
        }
        let length = UInt16(reply.count + 1)
        let mbap: [UInt8] = [
            UInt8(frame.transaction >> 8), UInt8(frame.transaction & 0xFF), 0, 0, UInt8(length >> 8),
            UInt8(length & 0xFF), frame.unit,
        ]
        return [.emit(.commandInput, fields), .send(mbap + reply)]
    }

    /// The response PDU after the function code, or the exception.
    private func respond(
        function: UInt8,
        pdu: [UInt8],
        unit: UInt8,
        fields: inout EventFields
    ) -> Result<[UInt8], ModbusException> {
        func word(_ at: Int) -> Int { Int(pdu[at]) << 8 | Int(pdu[at + 1]) }
        func range(_ address: Int, _ count: Int) {
            fields.add("address", String(address))
            fields.add("count", String(count))
            fields.add("args", "unit=\(unit) address=\(address) count=\(count)")
        }
        if function != 0x11 && function != 0x2B && Self.name(function).hasPrefix("function_") {
            fields.add("args", "unit=\(unit)")
            return .failure(PLCProcess.device(unit) == nil ? .gatewayTargetFailed : .illegalFunction)
        }
        guard PLCProcess.device(unit) != nil else {
            fields.add("args", "unit=\(unit)")
            return .failure(.gatewayTargetFailed)
        }
        switch function {
        case 0x01, 0x02:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let (start, count) = (word(1), word(3))
            range(start, count)
            guard (1...2_000).contains(count) else { return .failure(.illegalDataValue) }
            let table: ModbusTable = function == 0x01 ? .coils : .discreteInputs
            return self.process.readBits(unit: unit, table: table, start: start, count: count).map(Self.packed)
        case 0x03, 0x04:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            let (start, count) = (word(1), word(3))
            range(start, count)
            guard (1...125).contains(count) else { return .failure(.illegalDataValue) }
            let table: ModbusTable = function == 0x03 ? .holdingRegisters : .inputRegisters
            return self.process.readRegisters(unit: unit, table: table, start: start, count: count).map(Self.words)
        case 0x05:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            range(word(1), 1)
            fields.add("values", word(3) == 0xFF00 ? "1" : word(3) == 0 ? "0" : "0x" + String(word(3), radix: 16))
            guard word(3) == 0xFF00 || word(3) == 0 else { return .failure(.illegalDataValue) }
            if let failure = self.process.writeCoils(unit: unit, start: word(1), values: [word(3) == 0xFF00]) {
                return .failure(failure)
            }
            return .success(Array(pdu[1...]))
        case 0x06:
            guard pdu.count == 5 else { return .failure(.illegalDataValue) }
            range(word(1), 1)
            fields.add("values", String(word(3)))
            if let failure = self.process.writeRegisters(unit: unit, start: word(1), values: [UInt16(word(3))]) {
                return .failure(failure)
            }
            return .success(Array(pdu[1...]))
        case 0x0F:
            guard pdu.count >= 6 else { return .failure(.illegalDataValue) }
            let (start, count) = (word(1), word(3))
            range(start, count)
            let bytes = Int(pdu[5])
            guard (1...1_968).contains(count), bytes == (count + 7) / 8, pdu.count == 6 + bytes else {
                return .failure(.illegalDataValue)
            }
            let values = (0..<count).map { pdu[6 + $0 / 8] & (1 << UInt8($0 % 8)) != 0 }
            fields.add("values", values.prefix(256).map { $0 ? "1" : "0" }.joined(separator: ","))
            if let failure = self.process.writeCoils(unit: unit, start: start, values: values) {
                return .failure(failure)
            }
            return .success(Array(pdu[1..<5]))
        case 0x10:
            guard pdu.count >= 6 else { return .failure(.illegalDataValue) }
            let (start, count) = (word(1), word(3))
            range(start, count)
            let bytes = Int(pdu[5])
            guard (1...123).contains(count), bytes == 2 * count, pdu.count == 6 + bytes else {
                return .failure(.illegalDataValue)
            }
            let values = (0..<count).map { UInt16(word(6 + 2 * $0)) }
            fields.add("values", values.map(String.init).joined(separator: ","))
            if let failure = self.process.writeRegisters(unit: unit, start: start, values: values) {
                return .failure(failure)
            }
            return .success(Array(pdu[1..<5]))
        case 0x16:
            guard pdu.count == 7 else { return .failure(.illegalDataValue) }
            range(word(1), 1)
            fields.add("values", "and=\(word(3)) or=\(word(5))")
            switch self.process.readRegisters(unit: unit, table: .holdingRegisters, start: word(1), count: 1) {
            case .failure(let failure): return .failure(failure)
            case .success(let current):
                let value = (Int(current[0]) & word(3)) | (word(5) & ~word(3) & 0xFFFF)
                if let failure = self.process.writeRegisters(unit: unit, start: word(1), values: [UInt16(value)]) {
                    return .failure(failure)
                }
                return .success(Array(pdu[1...]))
            }
        case 0x17:
            guard pdu.count >= 10 else { return .failure(.illegalDataValue) }
            let (readStart, readCount, writeStart, writeCount) = (word(1), word(3), word(5), word(7))
            range(readStart, readCount)
            fields.add("write_address", String(writeStart))
            let bytes = Int(pdu[9])
            guard (1...125).contains(readCount), (1...121).contains(writeCount), bytes == 2 * writeCount,
                pdu.count == 10 + bytes
            else { return .failure(.illegalDataValue) }
            let values = (0..<writeCount).map { UInt16(word(10 + 2 * $0)) }
            fields.add("values", values.map(String.init).joined(separator: ","))
            if let failure = self.process.writeRegisters(unit: unit, start: writeStart, values: values) {
                return .failure(failure)
            }
            return self.process.readRegisters(unit: unit, table: .holdingRegisters, start: readStart, count: readCount)
                .map(Self.words)
        case 0x11:
            fields.add("args", "unit=\(unit)")
            guard PLCProcess.device(unit) == 1 else { return .failure(.illegalFunction) }
            let text = Array(
                "\(identity.vendor) \(identity.productName) \(identity.modelName) \(identity.revision)".utf8
            )
            // Server id 0xC0 (the CPU's module type code), run indicator ON, then the product text.
            let data: [UInt8] = [0xC0, 0xFF] + text.prefix(240)
            return .success([UInt8(data.count)] + data)
        default:
            return self.deviceIdentification(pdu, unit: unit, fields: &fields)
        }
    }

    /// Read Device Identification (MEI type 0x0E, §6.21): basic and regular objects, stream and individual access.
    private func deviceIdentification(
        _ pdu: [UInt8],
        unit: UInt8,
        fields: inout EventFields
    ) -> Result<[UInt8], ModbusException> {
        fields.add("args", "unit=\(unit)")
        guard pdu.count >= 2, pdu[1] == 0x0E else { return .failure(.illegalFunction) }
        guard PLCProcess.device(unit) == 1 else { return .failure(.illegalFunction) }
        guard pdu.count == 4, (1...4).contains(pdu[2]) else { return .failure(.illegalDataValue) }
        let code = pdu[2], requested = Int(pdu[3])
        fields.add("read_code", String(code))
        fields.add("object", String(requested))
        let objects = self.identity.objects
        let ids: [Int]
        switch code {
        case 4:
            guard requested < objects.count else { return .failure(.illegalDataAddress) }
            ids = [requested]
        default:
            let last = code == 1 ? 2 : objects.count - 1
            ids = Array((requested <= last ? requested : 0)...last)
        }
        var body: [UInt8] = [0x0E, code, 0x82, 0x00, 0x00, UInt8(ids.count)]
        for id in ids {
            let value = Array(objects[id].utf8.prefix(200))
            body += [UInt8(id), UInt8(value.count)] + value
        }
        return .success(body)
    }

    /// Bits packed eight to a byte, the first in the lowest bit, after their byte count.
    static func packed(_ bits: [Bool]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (index, bit) in bits.enumerated() where bit { bytes[index / 8] |= 1 << UInt8(index % 8) }
        return [UInt8(bytes.count)] + bytes
    }

    /// Registers big-endian after their byte count.
    static func words(_ values: [UInt16]) -> [UInt8] {
        [UInt8(2 * values.count)] + values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
