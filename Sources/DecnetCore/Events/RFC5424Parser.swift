import Foundation

/// Reads the RFC 5424 lines `RFC5424Formatter` writes back into events, for the ingester: every line is
/// validated (header, timestamp, our structured data with its bound parameters) and a line that fails says why.
/// Other SD-ELEMENTs are skipped; the MSG part is not needed (it is a summary of the fields).
public enum RFC5424Parser {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { self.reason }
    }

    /// Longest line accepted (a line is one event; uploads and recordings are artifacts, not log content).
    public static let maximumLength = 1 << 20

    public static func event(from line: some StringProtocol) throws -> HoneypotEvent {
        if let event = try line.utf8.withContiguousStorageIfAvailable({ try Self.event(bytes: $0) }) {
            return event
        }
        return try Array(line.utf8).withUnsafeBufferPointer { try Self.event(bytes: $0) }
    }

    /// The same, from the log's bytes (the ingester's path: no string of the whole line is made).
    public static func event(from bytes: ArraySlice<UInt8>) throws -> HoneypotEvent {
        try bytes.withUnsafeBufferPointer { try Self.event(bytes: $0) }
    }

    static func event(bytes: UnsafeBufferPointer<UInt8>) throws -> HoneypotEvent {
        guard bytes.count <= Self.maximumLength else { throw Failure(reason: "line of \(bytes.count) bytes") }
        var reader = Reader(bytes: bytes)
        // <PRI>VERSION
        guard reader.take(0x3C) else { throw Failure(reason: "no <PRI>") }
        guard let priority = reader.number(maximumDigits: 3), priority <= 191, reader.take(0x3E) else {
            throw Failure(reason: "bad PRI")
        }
        guard reader.take(0x31), reader.take(0x20) else { throw Failure(reason: "not syslog version 1") }
        guard let stamp = reader.tokenRange(), let time = Self.time(bytes: UnsafeBufferPointer(rebasing: bytes[stamp]))
        else { throw Failure(reason: "bad TIMESTAMP") }
        guard let hostname = reader.token(), reader.tokenRange() != nil, reader.tokenRange() != nil,
            let messageID = reader.token()
        else { throw Failure(reason: "truncated header") }
        var bound = BoundParameters()
        var fields: [EventField] = []
        var found = false
        if reader.peek == 0x2D {  // "-": no structured data
            reader.skip()
        } else {
            while reader.peek == 0x5B {
                let ours = reader.elementID() == RFC5424Formatter.structuredDataID
                found = found || ours
                try reader.parameters { name, value in
                    guard ours, !bound.take(name, value) else { return }
                    fields.append(EventField(name, value))
                }
            }
        }
        guard found else { throw Failure(reason: "no [\(RFC5424Formatter.structuredDataID)] element") }
        guard let uuid = bound.uuid.flatMap({ UUID(canonicalText: $0.utf8) }) else {
            throw Failure(reason: "missing or bad uuid")
        }
        guard let decky = bound.decky, let service = bound.service, let session = bound.session,
            let sourceIP = bound.sourceIP, let sourcePort = bound.sourcePort.flatMap(Int.init),
            let destinationIP = bound.destinationIP, let destinationPort = bound.destinationPort.flatMap(Int.init)
        else { throw Failure(reason: "missing bound parameter (decky, service, session, src_ip/port, dst_ip/port)") }
        return HoneypotEvent(
            uuid: uuid,
            time: time,
            id: EventID(rawValue: messageID),
            decky: decky,
            hostname: hostname == "-" ? "" : hostname,
            service: ServiceKind(rawValue: service),
            session: session,
            source: Endpoint(ip: sourceIP, port: sourcePort),
            destination: Endpoint(ip: destinationIP, port: destinationPort),
            fields: fields,
            late: bound.late == "true"
        )
    }

    /// The parameters every event binds, each its first value; the rest are the event's own fields, in order.
    private struct BoundParameters {
        var uuid, decky, service, session, sourceIP, sourcePort, destinationIP, destinationPort, late: String?

        /// Keeps the value when the name is a bound one (and not seen yet); false for an event field.
        mutating func take(_ name: String, _ value: String) -> Bool {
            func keep(_ slot: inout String?) -> Bool {
                if slot == nil { slot = value }
                return true
            }
            switch name {
            case "uuid": return keep(&self.uuid)
            case "decky": return keep(&self.decky)
            case "service": return keep(&self.service)
            case "session": return keep(&self.session)
            case "src_ip": return keep(&self.sourceIP)
            case "src_port": return keep(&self.sourcePort)
            case "dst_ip": return keep(&self.destinationIP)
            case "dst_port": return keep(&self.destinationPort)
            case "late": return keep(&self.late)
            default: return false
            }
        }
    }

    /// `2026-11-21T17:57:07.608993Z` (the formatter's shape: UTC, up to nine fraction digits).
    public static func time(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { Self.time(bytes: $0) }
    }

    static func time(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count >= 20, bytes.last == 0x5A else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 0x30)
            }
            return value
        }
        guard let year = digits(0..<4), bytes[4] == 0x2D, let month = digits(5..<7), bytes[7] == 0x2D,
            let day = digits(8..<10), bytes[10] == 0x54, let hour = digits(11..<13), bytes[13] == 0x3A,
            let minute = digits(14..<16), bytes[16] == 0x3A, let second = digits(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if bytes[19] == 0x2E {
            let count = bytes.count - 21
            guard (1...9).contains(count), let value = digits(20..<20 + count) else { return nil }
            fraction = Double(value) / Self.powersOfTen[count]
        } else if bytes.count != 20 {
            return nil
        }
        // Days since 1970-01-01 of the proleptic Gregorian date (a day past the month's end runs on into the
        // next month, as timegm does).
        let shifted = month <= 2 ? year - 1 : year
        let era = shifted / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static let powersOfTen: [Double] = (0...9).map { pow(10, Double($0)) }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var peek: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        mutating func skip() { self.index += 1 }

        mutating func take(_ byte: UInt8) -> Bool {
            guard self.peek == byte else { return false }
            self.index += 1
            return true
        }

        mutating func number(maximumDigits: Int) -> Int? {
            var value = 0
            var count = 0
            while let byte = self.peek, (0x30...0x39).contains(byte), count < maximumDigits {
                value = value * 10 + Int(byte - 0x30)
                count += 1
                self.index += 1
            }
            return count > 0 ? value : nil
        }

        /// A header field up to the next space (which is consumed).
        mutating func tokenRange() -> Range<Int>? {
            let start = self.index
            while let byte = self.peek, byte != 0x20 { self.index += 1 }
            guard self.index > start, self.take(0x20) else { return nil }
            return start..<self.index - 1
        }

        mutating func token() -> String? {
            self.tokenRange().map { self.string($0) }
        }

        func string(_ range: Range<Int>) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: self.bytes[range]), as: UTF8.self)
        }

        /// The SD-ID of `[ID …`.
        mutating func elementID() -> String {
            _ = self.take(0x5B)
            let start = self.index
            while let byte = self.peek, byte != 0x20, byte != 0x5D { self.index += 1 }
            return self.string(start..<self.index)
        }

        /// The element's ` name="value"` pairs up to its `]`, values unescaped.
        mutating func parameters(_ each: (String, String) -> Void) throws {
            while true {
                if self.take(0x5D) { break }
                guard self.take(0x20) else { throw Failure(reason: "bad structured data") }
                let nameStart = self.index
                while let byte = self.peek, byte != 0x3D, byte != 0x20, byte != 0x5D { self.index += 1 }
                let nameRange = nameStart..<self.index
                guard !nameRange.isEmpty, self.take(0x3D), self.take(0x22) else {
                    throw Failure(reason: "bad structured data parameter")
                }
                let valueStart = self.index
                var escaped = false
                while true {
                    guard let byte = self.peek else { throw Failure(reason: "unterminated parameter value") }
                    self.index += 1
                    if byte == 0x22 { break }
                    if byte == 0x5C, let next = self.peek, next == 0x22 || next == 0x5C || next == 0x5D {
                        escaped = true
                        self.index += 1
                    }
                }
                let valueRange = valueStart..<self.index - 1
                each(self.string(nameRange), escaped ? self.unescaped(valueRange) : self.string(valueRange))
            }
            _ = self.take(0x20)
        }

        /// A value with `\"`, `\\` and `\]` turned back into the character.
        func unescaped(_ range: Range<Int>) -> String {
            var value: [UInt8] = []
            value.reserveCapacity(range.count)
            var index = range.lowerBound
            while index < range.upperBound {
                let byte = self.bytes[index]
                if byte == 0x5C, index + 1 < range.upperBound {
                    let next = self.bytes[index + 1]
                    if next == 0x22 || next == 0x5C || next == 0x5D {
                        value.append(next)
                        index += 2
                        continue
                    }
                }
                value.append(byte)
                index += 1
            }
            return String(decoding: value, as: UTF8.self)
        }
    }
}
