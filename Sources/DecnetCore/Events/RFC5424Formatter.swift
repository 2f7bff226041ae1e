import Foundation

/// Renders events as RFC 5424 syslog lines, the format the seed's services emit and its ingester reads:
///
///     <134>1 2026-11-21T13:05:24.123456Z web-01 ssh - login.failed [decnet@32473 uuid="…" decky="decky-01" …] msg
///
/// Structured data carries every field; PARAM-VALUE escapes `"`, `\` and `]` (RFC 5424 §6.3.3). The SD-ID uses
/// 32473, the private enterprise number RFC 5612 reserves for documentation, until the project has its own.
public enum RFC5424Formatter {
    public static let structuredDataID = "decnet@32473"
    /// Facility local0.
    static let facility = 16

    /// Syslog severity per event: a canary trigger is an alert (nobody opens a planted document by accident),
    /// refusals and malformed input are warnings, logins notices, the rest info.
    public static func severity(of id: EventID) -> Int {
        switch id {
        case .canaryTriggered: 1
        case .clientMalformed, .connectionRefused, .poisonerDetected: 4
        case .loginSuccess, .loginFailed, .fileUpload: 5
        default: 6
        }
    }

    /// One line, without a trailing newline.
    public static func line(for event: HoneypotEvent) -> String {
        var out: [UInt8] = []
        self.write(event, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the event's line (no newline) to `out`, byte by byte: the engine renders every event it raises
    /// and the store re-renders lines it did not keep (`SQLiteEventStore`).
    public static func write(_ event: HoneypotEvent, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 320 + event.fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count })
        out.append(0x3C)
        out.append(contentsOf: String(self.facility * 8 + self.severity(of: event.id)).utf8)
        out.append(contentsOf: ">1 ".utf8)
        out.append(contentsOf: self.timestamp(event.time).utf8)
        out.append(0x20)
        self.appendHeader(event.hostname, limit: 255, to: &out)
        out.append(0x20)
        self.appendHeader(event.service.rawValue, limit: 48, to: &out)
        out.append(contentsOf: " - ".utf8)
        self.appendHeader(event.id.rawValue, limit: 32, to: &out)
        out.append(contentsOf: " [".utf8)
        out.append(contentsOf: self.structuredDataID.utf8)
        func parameter(_ name: String, _ value: String) {
            out.append(0x20)
            self.appendParameterName(name, to: &out)
            out.append(contentsOf: "=\"".utf8)
            self.appendEscaped(value, to: &out)
            out.append(0x22)
        }
        parameter("uuid", event.uuid.lowercasedText)
        parameter("decky", event.decky)
        parameter("service", event.service.rawValue)
        parameter("session", event.session)
        parameter("src_ip", event.source.ip)
        parameter("src_port", String(event.source.port))
        parameter("dst_ip", event.destination.ip)
        parameter("dst_port", String(event.destination.port))
        if event.late { parameter("late", "true") }
        for field in event.fields { parameter(field.name, field.value) }
        out.append(contentsOf: "] ".utf8)
        self.appendMessage(for: event, to: &out)
    }

    /// A short human summary for the MSG part: `login.failed from 10.0.0.1 user=root command=id`.
    static func message(for event: HoneypotEvent) -> String {
        var out: [UInt8] = []
        self.appendMessage(for: event, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendMessage(for event: HoneypotEvent, to out: inout [UInt8]) {
        // Field values are printable already; only a control character of our own could break the line.
        self.appendWithoutControls(event.id.rawValue, to: &out)
        out.append(contentsOf: " from ".utf8)
        self.appendWithoutControls(event.source.ip, to: &out)
        if let user = event[field: "username"] {
            out.append(contentsOf: " user=".utf8)
            self.appendWithoutControls(user, to: &out)
        }
        if let command = event[field: "command"] {
            out.append(contentsOf: " command=".utf8)
            self.appendWithoutControls(command, to: &out)
        }
    }

    /// The text with each control character (C0, DEL, C1) as a space.
    private static func appendWithoutControls(_ text: String, to out: inout [UInt8]) {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            out.append(contentsOf: text.utf8)
            return
        }
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out.append(0x20)
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
    }

    /// RFC 3339 with microseconds, always UTC (`2026-11-21T13:05:24.123456Z`): fixed width, so text order is
    /// time order. Written digit by digit; the ingester formats one per stored row.
    public static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = floor(seconds)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros > 999_999 {
            whole += 1
            micros -= 1_000_000
        }
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(unsafeUninitializedCapacity: 27) { out in
            var index = 0
            func put(_ value: Int, width: Int) {
                var value = value
                for position in stride(from: index + width - 1, through: index, by: -1) {
                    out[position] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                    value /= 10
                }
                index += width
            }
            func put(_ byte: UInt8) {
                out[index] = byte
                index += 1
            }
            put(Int(parts.tm_year) + 1900, width: 4)
            put(0x2D)
            put(Int(parts.tm_mon) + 1, width: 2)
            put(0x2D)
            put(Int(parts.tm_mday), width: 2)
            put(0x54)
            put(Int(parts.tm_hour), width: 2)
            put(0x3A)
            put(Int(parts.tm_min), width: 2)
            put(0x3A)
            put(Int(parts.tm_sec), width: 2)
            put(0x2E)
            put(micros, width: 6)
            put(0x5A)
            return index
        }
    }

    /// A header field: printable US-ASCII without spaces, at most `limit` characters, `-` when empty.
    static func header(_ text: String, limit: Int) -> String {
        var out: [UInt8] = []
        self.appendHeader(text, limit: limit, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendHeader(_ text: String, limit: Int, to out: inout [UInt8]) {
        let whole = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.isEmpty, bytes.count <= limit, bytes.allSatisfy({ $0 > 32 && $0 < 127 }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        guard whole != true else { return }
        var count = 0
        for byte in text.utf8 where byte > 32 && byte < 127 && count < limit {
            out.append(byte)
            count += 1
        }
        if count == 0 { out.append(0x2D) }
    }

    /// PARAM-NAME: printable US-ASCII except `=`, space, `]` and `"`, at most 32 characters.
    static func parameterName(_ name: String) -> String {
        var out: [UInt8] = []
        self.appendParameterName(name, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendParameterName(_ name: String, to out: inout [UInt8]) {
        // Every name the engine uses is already a valid one: appended whole, not byte by byte.
        let whole = name.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.count <= 32,
                bytes.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 0x3D && $0 != 0x5D && $0 != 0x22 })
            else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        guard whole != true else { return }
        var count = 0
        for byte in name.utf8 where byte > 32 && byte < 127 && byte != 0x3D && byte != 0x5D && byte != 0x22 {
            guard count < 32 else { break }
            out.append(byte)
            count += 1
        }
    }

    /// PARAM-VALUE escaping: `"`, `\` and `]` get a backslash.
    public static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        self.appendEscaped(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes by byte: the three are ASCII and never part of a longer UTF-8 sequence, so a quote is escaped
    /// even when a combining mark follows it (as one Character it compared unequal to `"` and went out bare,
    /// which ended the value early for every reader).
    private static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        let plain = value.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 == 0x5D }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        guard plain != true else { return }
        for byte in value.utf8 {
            if byte == 0x22 || byte == 0x5C || byte == 0x5D { out.append(0x5C) }
            out.append(byte)
        }
    }
}
