import Foundation

/// Reads the RFC 5424 lines `RFC5424Formatter` writes back into events, for the ingester: every line is
/// validated (header, timestamp, our structured data with its bound parameters) and a line that fails says why.
/// Other SD-ELEMENTs are skipped; the MSG part is not needed (it is a summary of the fields).
public enum RFC5424Parser {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { self.reason }
    }

    /// The parameters every event binds; the rest are the event's own fields, in order.
    static let bound: Set<String> = [
        "uuid", "decky", "service", "session", "src_ip", "src_port", "dst_ip", "dst_port", "late",
    ]

    /// Longest line accepted (a line is one event; uploads and recordings are artifacts, not log content).
    public static let maximumLength = 1 << 20

    public static func event(from line: some StringProtocol) throws -> HoneypotEvent {
        let bytes = Array(line.utf8)
        guard bytes.count <= Self.maximumLength else { throw Failure(reason: "line of \(bytes.count) bytes") }
        var reader = Reader(bytes: bytes)
        // <PRI>VERSION
        guard reader.take(0x3C) else { throw Failure(reason: "no <PRI>") }
        guard let priority = reader.number(maximumDigits: 3), priority <= 191, reader.take(0x3E) else {
            throw Failure(reason: "bad PRI")
        }
        guard reader.take(0x31), reader.take(0x20) else { throw Failure(reason: "not syslog version 1") }
        guard let stamp = reader.token(), let time = Self.time(stamp) else { throw Failure(reason: "bad TIMESTAMP") }
        guard let hostname = reader.token(), let application = reader.token(), reader.token() != nil,
            let messageID = reader.token()
        else { throw Failure(reason: "truncated header") }
        var parameters: [(String, String)] = []
        var found = false
        if reader.peek == 0x2D {  // "-": no structured data
            reader.skip()
        } else {
            while reader.peek == 0x5B {
                let (id, elementParameters) = try reader.element()
                if id == RFC5424Formatter.structuredDataID {
                    parameters += elementParameters
                    found = true
                }
            }
        }
        guard found else { throw Failure(reason: "no [\(RFC5424Formatter.structuredDataID)] element") }
        var values: [String: String] = [:]
        for (name, value) in parameters where Self.bound.contains(name) { values[name] = values[name] ?? value }
        guard let uuidText = values["uuid"], let uuid = UUID(uuidString: uuidText) else {
            throw Failure(reason: "missing or bad uuid")
        }
        guard let decky = values["decky"], let service = values["service"], let session = values["session"],
            let sourceIP = values["src_ip"], let sourcePort = values["src_port"].flatMap(Int.init),
            let destinationIP = values["dst_ip"], let destinationPort = values["dst_port"].flatMap(Int.init)
        else { throw Failure(reason: "missing bound parameter (decky, service, session, src_ip/port, dst_ip/port)") }
        _ = application
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
            fields: parameters.filter { !Self.bound.contains($0.0) }.map { EventField($0.0, $0.1) },
            late: values["late"] == "true"
        )
    }

    /// `2026-11-21T17:57:07.608993Z` (the formatter's shape: UTC, up to nine fraction digits).
    public static func time(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
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
            fraction = Double(value) / pow(10, Double(count))
        } else if bytes.count != 20 {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private struct Reader {
        let bytes: [UInt8]
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
        mutating func token() -> String? {
            let start = self.index
            while let byte = self.peek, byte != 0x20 { self.index += 1 }
            guard self.index > start, self.take(0x20) else { return nil }
            return String(decoding: self.bytes[start..<self.index - 1], as: UTF8.self)
        }

        /// `[ID name="value" …]`, values unescaped.
        mutating func element() throws -> (String, [(String, String)]) {
            _ = self.take(0x5B)
            let start = self.index
            while let byte = self.peek, byte != 0x20, byte != 0x5D { self.index += 1 }
            let id = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
            var parameters: [(String, String)] = []
            while true {
                if self.take(0x5D) { break }
                guard self.take(0x20) else { throw Failure(reason: "bad structured data") }
                let nameStart = self.index
                while let byte = self.peek, byte != 0x3D, byte != 0x20, byte != 0x5D { self.index += 1 }
                let name = String(decoding: self.bytes[nameStart..<self.index], as: UTF8.self)
                guard !name.isEmpty, self.take(0x3D), self.take(0x22) else {
                    throw Failure(reason: "bad structured data parameter")
                }
                var value: [UInt8] = []
                while true {
                    guard let byte = self.peek else { throw Failure(reason: "unterminated parameter value") }
                    self.index += 1
                    if byte == 0x22 { break }
                    if byte == 0x5C, let next = self.peek, next == 0x22 || next == 0x5C || next == 0x5D {
                        value.append(next)
                        self.index += 1
                    } else {
                        value.append(byte)
                    }
                }
                parameters.append((name, String(decoding: value, as: UTF8.self)))
            }
            _ = self.take(0x20)
            return (id, parameters)
        }
    }
}
