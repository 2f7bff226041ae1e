import DecnetCore
import DecnetServiceKit

/// Read Var (0x04) and Write Var (0x05): items addressed by S7 ANY pointers, each answered with its data or its
/// return code, in the layout STEP 7 and snap7 expect (fill bytes after odd items, lengths in bits for bit,
/// byte and integer transport sizes).
extension S7StateMachine {
    /// One variable of a read or write job.
    struct Item: Equatable {
        var area: UInt8
        var block: Int
        var byte: Int
        var bit: Int
        var type: UInt8
        var count: Int

        var isBit: Bool { self.type == 0x01 }
        /// Bytes the item covers.
        var length: Int { self.isBit ? 1 : self.count * (S7StateMachine.size(self.type) ?? 1) }

        /// "DB1.DBB0[4]", "M10.3": the item as STEP 7 writes an address.
        var text: String {
            if self.isBit { return S7Area.bitName(self.area, block: self.block, byte: self.byte, bit: self.bit) }
            return S7Area.name(self.area, block: self.block, byte: self.byte) + "[\(self.length)]"
        }
    }

    /// Bytes per element of a transport size in an ANY pointer; nil for one the CPU does not serve.
    static func size(_ type: UInt8) -> Int? {
        switch type {
        case 0x01, 0x02, 0x03: 1
        case 0x04, 0x05, 0x1C, 0x1D: 2
        case 0x06, 0x07, 0x08: 4
        default: nil
        }
    }

    /// The items of a job's parameter (2 bytes, then 12 per item); nil when the parameter is not that shape. An
    /// item that is not an S7 ANY pointer is nil in the list.
    static func items(_ parameter: [UInt8]) -> [Item?]? {
        guard parameter.count >= 2 else { return nil }
        let count = Int(parameter[1])
        guard count >= 1, parameter.count == 2 + 12 * count else { return nil }
        return (0..<count).map { index in
            let spec = Array(parameter[(2 + 12 * index)..<(14 + 12 * index)])
            guard spec[0] == 0x12, spec[1] == 0x0A, spec[2] == 0x10, Self.size(spec[3]) != nil else { return nil }
            let address = Int(spec[9]) << 16 | Int(spec[10]) << 8 | Int(spec[11])
            let area = spec[8]
            let counted = area == S7Area.counters || area == S7Area.timers
            return Item(
                area: area,
                block: Int(spec[6]) << 8 | Int(spec[7]),
                byte: counted ? 2 * address : address >> 3,
                bit: counted ? 0 : address & 7,
                type: spec[3],
                count: Int(spec[4]) << 8 | Int(spec[5])
            )
        }
    }

    /// The data transport size a response item carries for an ANY pointer's transport size.
    static func transport(_ type: UInt8) -> UInt8 {
        switch type {
        case 0x01: 0x03
        case 0x05, 0x07: 0x05
        case 0x08: 0x07
        case 0x1C, 0x1D: 0x09
        default: 0x04
        }
    }

    /// Whether a data item's length field counts bits (bit, byte/word and integer sizes) rather than bytes.
    static func countsBits(_ transport: UInt8) -> Bool { transport == 0x04 || transport == 0x05 }

    /// Why an item cannot be served, before touching memory.
    func check(_ item: Item) -> UInt8? {
        if item.isBit { return item.count == 1 ? nil : S7Return.typeInconsistent }
        if item.bit != 0 { return S7Return.addressOutOfRange }
        return item.count >= 1 ? nil : S7Return.typeInconsistent
    }

    /// A Read or Write Var job refused whole with 0x8500 (its parameter does not parse, or the answer would not
    /// fit the negotiated PDU): the record, then the ack with no items.
    func refused(_ pdu: S7PDU, function: UInt8, _ fields: EventFields) -> [ProtocolAction] {
        var fields = fields
        fields.add("error", "0x8500")
        return [
            .emit(.commandInput, fields),
            self.reply(S7PDU.ackData(pdu.reference, parameter: [function, 0x00], error: 0x8500)),
        ]
    }

    mutating func read(_ pdu: S7PDU) -> [ProtocolAction] {
        var fields = EventFields()
        fields.add("command", "read_var")
        guard let items = Self.items(pdu.parameter) else {
            fields.add("args", Self.parameterText(pdu))
            return self.refused(pdu, function: 0x04, fields)
        }
        var data: [UInt8] = []
        var described: [String] = []
        for (index, item) in items.enumerated() {
            guard let item else {
                described.append("?")
                data += [S7Return.typeNotSupported, 0x00, 0x00, 0x00]
                continue
            }
            described.append(item.text)
            if let code = self.check(item) {
                data += [code, 0x00, 0x00, 0x00]
                continue
            }
            switch self.process.s7Read(area: item.area, block: item.block, start: item.byte, length: item.length) {
            case .failure(let failure):
                data += [failure.code, 0x00, 0x00, 0x00]
            case .success(var bytes):
                if item.isBit { bytes = [(bytes[0] >> UInt8(item.bit)) & 1] }
                let transport = Self.transport(item.type)
                let length = item.isBit ? 1 : Self.countsBits(transport) ? 8 * bytes.count : bytes.count
                data += [S7Return.success, transport] + S7PDU.word(length) + bytes
                if bytes.count % 2 == 1 && index < items.count - 1 { data.append(0x00) }
            }
        }
        fields.add("args", described.joined(separator: ", "))
        fields.add("items", String(items.count))
        guard 14 + data.count <= self.pdu else { return self.refused(pdu, function: 0x04, fields) }
        let reply = S7PDU.ackData(pdu.reference, parameter: [0x04, UInt8(items.count)], data: data)
        return [.emit(.commandInput, fields), self.reply(reply)]
    }

    mutating func write(_ pdu: S7PDU) -> [ProtocolAction] {
        var fields = EventFields()
        fields.add("command", "write_var")
        guard let items = Self.items(pdu.parameter) else {
            fields.add("args", Self.parameterText(pdu))
            return self.refused(pdu, function: 0x05, fields)
        }
        var codes: [UInt8] = []
        var described: [String] = []
        var values: [String] = []
        var at = 0
        let data = pdu.data
        for (index, item) in items.enumerated() {
            // The data item: reserved byte, transport size, length, the bytes, a fill byte after an odd one.
            guard at + 4 <= data.count else {
                codes.append(S7Return.typeInconsistent)
                continue
            }
            let transport = data[at + 1], length = Int(data[at + 2]) << 8 | Int(data[at + 3])
            let count = Self.countsBits(transport) ? (length + 7) / 8 : length
            guard at + 4 + count <= data.count else {
                at = data.count
                codes.append(S7Return.typeInconsistent)
                continue
            }
            let bytes = Array(data[(at + 4)..<(at + 4 + count)])
            at += 4 + count + (count % 2 == 1 && index < items.count - 1 ? 1 : 0)
            guard let item else {
                described.append("?")
                codes.append(S7Return.typeNotSupported)
                continue
            }
            described.append(item.text)
            values.append(Self.hex(Array(bytes.prefix(64))))
            if let code = self.check(item) {
                codes.append(code)
                continue
            }
            guard bytes.count == item.length else {
                codes.append(S7Return.typeInconsistent)
                continue
            }
            if item.isBit {
                switch self.process.s7Read(area: item.area, block: item.block, start: item.byte, length: 1) {
                case .failure(let failure): codes.append(failure.code)
                case .success(let current):
                    let mask = UInt8(1) << UInt8(item.bit)
                    let byte = bytes[0] & 1 == 1 ? current[0] | mask : current[0] & ~mask
                    codes.append(
                        self.process.s7Write(area: item.area, block: item.block, start: item.byte, bytes: [byte])
                    )
                }
            } else {
                codes.append(self.process.s7Write(area: item.area, block: item.block, start: item.byte, bytes: bytes))
            }
        }
        fields.add("args", described.joined(separator: ", "))
        fields.add("values", values.joined(separator: ";"))
        fields.add("items", String(items.count))
        let reply = S7PDU.ackData(pdu.reference, parameter: [0x05, UInt8(items.count)], data: codes)
        return [.emit(.commandInput, fields), self.reply(reply)]
    }
}
