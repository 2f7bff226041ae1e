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

    /// Syslog severity per event: refusals and malformed input are warnings, logins notices, the rest info.
    public static func severity(of id: EventID) -> Int {
        switch id {
        case .clientMalformed, .connectionRefused: 4
        case .loginSuccess, .loginFailed, .fileUpload: 5
        default: 6
        }
    }

    /// One line, without a trailing newline.
    public static func line(for event: HoneypotEvent) -> String {
        let priority = self.facility * 8 + self.severity(of: event.id)
        var parameters: [(String, String)] = [
            ("uuid", event.uuid.uuidString.lowercased()),
            ("decky", event.decky),
            ("service", event.service.rawValue),
            ("session", event.session),
            ("src_ip", event.source.ip),
            ("src_port", String(event.source.port)),
            ("dst_ip", event.destination.ip),
            ("dst_port", String(event.destination.port)),
        ]
        if event.late { parameters.append(("late", "true")) }
        parameters += event.fields.map { ($0.name, $0.value) }
        let data = parameters.map { "\(self.parameterName($0.0))=\"\(self.escape($0.1))\"" }.joined(separator: " ")
        return [
            "<\(priority)>1",
            self.timestamp(event.time),
            self.header(event.hostname, limit: 255),
            self.header(event.service.rawValue, limit: 48),
            "-",
            self.header(event.id.rawValue, limit: 32),
            "[\(self.structuredDataID) \(data)]",
        ].joined(separator: " ") + " " + self.message(for: event)
    }

    /// A short human summary for the MSG part.
    static func message(for event: HoneypotEvent) -> String {
        var parts = ["\(event.id.rawValue) from \(event.source.ip)"]
        if let user = event[field: "username"] { parts.append("user=\(user)") }
        if let command = event[field: "command"] { parts.append("command=\(command)") }
        // Field values are printable already; only a control character of our own could break the line.
        return String(
            String.UnicodeScalarView(
                parts.joined(separator: " ").unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }
            )
        )
    }

    /// RFC 3339 with microseconds, always UTC.
    public static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let whole = floor(seconds)
        let micros = min(999_999, Int(((seconds - whole) * 1_000_000).rounded()))
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let microText = String(micros)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - microText.count) + microText + "Z"
    }

    /// A header field: printable US-ASCII without spaces, at most `limit` characters, `-` when empty.
    static func header(_ text: String, limit: Int) -> String {
        let cleaned = String(
            String.UnicodeScalarView(text.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }).prefix(limit)
        )
        return cleaned.isEmpty ? "-" : cleaned
    }

    /// PARAM-NAME: printable US-ASCII except `=`, space, `]` and `"`, at most 32 characters.
    static func parameterName(_ name: String) -> String {
        let allowed = name.unicodeScalars.filter {
            $0.value > 32 && $0.value < 127 && !"= ]\"".unicodeScalars.contains($0)
        }
        return String(String.UnicodeScalarView(allowed).prefix(32))
    }

    /// PARAM-VALUE escaping: `"`, `\` and `]` get a backslash.
    public static func escape(_ value: String) -> String {
        var output = ""
        output.reserveCapacity(value.utf8.count)
        for character in value {
            if character == "\"" || character == "\\" || character == "]" { output.append("\\") }
            output.append(character)
        }
        return output
    }
}
