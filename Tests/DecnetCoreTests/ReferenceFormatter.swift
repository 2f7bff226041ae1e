import DecnetCore
import Foundation

/// The formatter as it was written first, with String operations throughout: the byte-level formatter must
/// write the same line for every event (`RFC5424FormatterTests`), except where this one was wrong (a quote
/// joined by a combining mark into one Character escaped no backslash).
enum ReferenceFormatter {
    /// One line, without a trailing newline.
    static func line(for event: HoneypotEvent) -> String {
        let priority = 16 * 8 + RFC5424Formatter.severity(of: event.id)
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
            RFC5424Formatter.timestamp(event.time),
            self.header(event.hostname, limit: 255),
            self.header(event.service.rawValue, limit: 48),
            "-",
            self.header(event.id.rawValue, limit: 32),
            "[\(RFC5424Formatter.structuredDataID) \(data)]",
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
    static func escape(_ value: String) -> String {
        var output = ""
        output.reserveCapacity(value.utf8.count)
        for character in value {
            if character == "\"" || character == "\\" || character == "]" { output.append("\\") }
            output.append(character)
        }
        return output
    }
}
