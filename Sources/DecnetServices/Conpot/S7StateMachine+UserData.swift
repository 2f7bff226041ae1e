import DecnetCore
import DecnetServiceKit
import Foundation

/// User-data functions (ROSCTR 7): Read SZL (group 4) with the CPU's identification lists, split into data
/// units when the negotiated PDU is too small, the session password (group 5), the clock (group 7) and the
/// block list (group 3).
extension S7StateMachine {
    mutating func userData(_ pdu: S7PDU) -> [ProtocolAction] {
        let parameter = pdu.parameter
        guard parameter.count >= 8, parameter[0] == 0x00, parameter[1] == 0x01, parameter[2] == 0x12,
            Int(parameter[3]) + 4 == parameter.count
        else { return self.violation("user-data parameter", parameter) }
        let method = parameter[4], group = parameter[5] & 0x0F, subfunction = parameter[6]
        // Responses (type 8) and push messages are not requests: nothing answers them.
        guard parameter[5] >> 4 == 4 else { return [] }
        var payload: [UInt8] = []
        if pdu.data.count >= 4 {
            let length = Int(pdu.data[2]) << 8 | Int(pdu.data[3])
            payload = Array(pdu.data.dropFirst(4).prefix(length))
        }
        var fields = EventFields()
        if method == 0x12, group == 4, subfunction == 0x01, var pending = self.pending,
            pending.sequence == parameter[7]
        {
            let unit = pending.units.removeFirst()
            self.pending = pending.units.isEmpty ? nil : pending
            let more = !pending.units.isEmpty
            return [
                self.reply(
                    S7PDU.userData(
                        pdu.reference,
                        group: 4,
                        subfunction: 1,
                        sequence: pending.sequence,
                        more: more,
                        data: S7PDU.octets(unit)
                    )
                )
            ]
        }
        switch (group, subfunction) {
        case (4, 0x01):
            guard payload.count >= 4 else { return self.refuse(pdu, group, subfunction, 0xD405, fields) }
            let id = UInt16(payload[0]) << 8 | UInt16(payload[1]), index = UInt16(payload[2]) << 8 | UInt16(payload[3])
            fields.add("command", "read_szl")
            fields.add("args", "id=0x\(Self.hex(S7PDU.word(Int(id)))) index=0x\(Self.hex(S7PDU.word(Int(index))))")
            guard let content = self.szl(id, index) else { return self.refuse(pdu, group, subfunction, 0xD401, fields) }
            return [.emit(.commandInput, fields)] + self.answer(pdu.reference, group: 4, subfunction: 1, content)
        case (5, 0x01):
            return self.sessionPassword(pdu, payload)
        case (5, 0x02):
            self.legitimate = false
            fields.add("command", "clear_session_password")
            return [
                .emit(.commandInput, fields),
                self.reply(S7PDU.userData(pdu.reference, group: 5, subfunction: 2, data: S7PDU.noData)),
            ]
        case (7, 0x01), (7, 0x03):
            fields.add("command", "read_clock")
            return [.emit(.commandInput, fields)]
                + self.answer(pdu.reference, group: 7, subfunction: subfunction, self.clock())
        case (7, 0x02), (7, 0x04):
            fields.add("command", "set_clock")
            fields.add("args", Self.hex(payload))
            guard !self.persona.protected || self.legitimate else {
                return self.refuse(pdu, group, subfunction, 0xD241, fields)
            }
            return [
                .emit(.commandInput, fields),
                self.reply(S7PDU.userData(pdu.reference, group: 7, subfunction: subfunction, data: S7PDU.noData)),
            ]
        case (3, 0x01):
            fields.add("command", "list_blocks")
            return [.emit(.commandInput, fields)]
                + self.answer(pdu.reference, group: 3, subfunction: 1, self.blockCounts())
        default:
            fields.add("command", "userdata")
            fields.add("args", "group=\(group) subfunction=\(subfunction) data=\(Self.hex(Array(payload.prefix(32))))")
            return self.refuse(pdu, group, subfunction, 0xD405, fields)
        }
    }

    private func refuse(
        _ pdu: S7PDU,
        _ group: UInt8,
        _ subfunction: UInt8,
        _ error: UInt16,
        _ fields: EventFields
    ) -> [ProtocolAction] {
        var fields = fields
        fields.add("error", "0x" + String(error, radix: 16))
        let reply = S7PDU.userData(
            pdu.reference,
            group: group,
            subfunction: subfunction,
            error: error,
            data: S7PDU.noData
        )
        return [.emit(.commandInput, fields), self.reply(reply)]
    }

    /// The answer's data in as many data units as the PDU needs; the first now, the rest on follow-ups.
    private mutating func answer(
        _ reference: UInt16,
        group: UInt8,
        subfunction: UInt8,
        _ content: [UInt8]
    )
        -> [ProtocolAction]
    {
        let capacity = max(16, self.pdu - 26)
        guard content.count > capacity else {
            return [
                self.reply(
                    S7PDU.userData(reference, group: group, subfunction: subfunction, data: S7PDU.octets(content))
                )
            ]
        }
        self.sequence = self.sequence == 0xFF ? 1 : self.sequence + 1
        var units: [[UInt8]] = []
        var at = 0
        while at < content.count {
            units.append(Array(content[at..<min(content.count, at + capacity)]))
            at += capacity
        }
        let first = units.removeFirst()
        self.pending = Pending(sequence: self.sequence, group: group, subfunction: subfunction, units: units)
        let reply = S7PDU.userData(
            reference,
            group: group,
            subfunction: subfunction,
            sequence: self.sequence,
            more: true,
            data: S7PDU.octets(first)
        )
        return [self.reply(reply)]
    }

    /// SetSessionPassword: the password recovered to plaintext and recorded as a login; legitimised only by the
    /// persona's password.
    private mutating func sessionPassword(_ pdu: S7PDU, _ payload: [UInt8]) -> [ProtocolAction] {
        guard payload.count == 8 else {
            var fields = EventFields()
            fields.add("command", "set_session_password")
            fields.add("args", Self.hex(payload))
            return self.refuse(pdu, 5, 1, 0xD601, fields)
        }
        let plain = S7PDU.decodePassword(payload)
        var fields = EventFields.login(username: [UInt8](), password: plain, method: "s7-session-password")
        fields.add("encoded", Self.hex(payload))
        let error: UInt16
        if let password = self.persona.password {
            error = Array(password.utf8) == plain ? 0x0000 : 0xD602
        } else {
            error = self.persona.protected ? 0xD602 : 0xD605
        }
        if error == 0 { self.legitimate = true }
        fields.add("result", error == 0 ? "accepted" : "0x" + String(error, radix: 16))
        let reply = S7PDU.userData(pdu.reference, group: 5, subfunction: 1, error: error, data: S7PDU.noData)
        return [.emit(error == 0 ? .loginSuccess : .loginFailed, fields), self.reply(reply)]
    }

    /// The CPU clock as a read-clock answer: reserved byte, century, then BCD date and time with milliseconds
    /// and the weekday.
    func clock() -> [UInt8] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let date = self.wallClock()
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second, .nanosecond, .weekday],
            from: date
        )
        func bcd(_ value: Int?) -> UInt8 {
            let value = (value ?? 0) % 100
            return UInt8(value / 10) << 4 | UInt8(value % 10)
        }
        let milliseconds = (parts.nanosecond ?? 0) / 1_000_000
        return [0x00, 0x20, bcd(parts.year), bcd(parts.month), bcd(parts.day), bcd(parts.hour), bcd(parts.minute)]
            + [bcd(parts.second), bcd(milliseconds / 10), UInt8(milliseconds % 10) << 4 | UInt8(parts.weekday ?? 1)]
    }

    /// Block counts (OB, FB, FC, DB, SDB, SFC, SFB) of the CPU's program.
    func blockCounts() -> [UInt8] {
        let digest = self.persona.digest
        let counts: [(UInt8, Int)] = [
            (0x38, 6), (0x45, 9 + Int(digest[20] % 12)), (0x43, 24 + Int(digest[21] % 30)),
            (0x41, PLCProcess.dataBlocks.count), (0x42, 9), (0x44, 81), (0x46, 27),
        ]
        return counts.flatMap { [0x30, $0.0] + S7PDU.word($0.1) }
    }
}
