import Foundation

/// Builds an event's fields from what the attacker sent, so that text stays readable in a log line and nothing
/// is lost: printable text is kept as is, anything else is escaped (`\x00`, `\n`), and whenever escaping
/// happened (always, for secrets) the exact bytes are added as `<name>_b64`.
public struct EventFields: Sendable, Equatable {
    public private(set) var fields: [EventField] = []

    public init() {}

    /// A field of our own (a number, a known word): stored as given.
    public mutating func add(_ name: String, _ value: String) {
        self.fields.append(EventField(name, value))
    }

    /// Attacker-supplied bytes.
    public mutating func add(_ name: String, attackerBytes bytes: some Collection<UInt8>, secret: Bool = false) {
        let (text, lossless) = Self.printable(bytes)
        self.fields.append(EventField(name, text))
        if secret || !lossless {
            self.fields.append(EventField(name + "_b64", Data(bytes).base64EncodedString()))
        }
    }

    /// Attacker-supplied text (already decoded by a protocol that carries text).
    /// The fields of a `client.malformed` event: what was wrong, and the first 64 bytes of what was sent.
    public static func malformed(_ error: String, preview bytes: some Collection<UInt8>) -> EventFields {
        var fields = EventFields()
        fields.add("error", error)
        fields.add("preview", attackerBytes: bytes.prefix(64))
        return fields
    }

    public mutating func add(_ name: String, attackerText text: String, secret: Bool = false) {
        self.add(name, attackerBytes: Array(text.utf8), secret: secret)
    }

    /// Printable rendering: valid UTF-8 without control characters passes through; otherwise `\n`, `\r`, `\t`,
    /// `\\` and `\xNN` escapes. `lossless` is true when nothing needed escaping.
    public static func printable(_ bytes: some Collection<UInt8>) -> (text: String, lossless: Bool) {
        // Printable ASCII without a backslash, most of what attackers send, needs no scalar's properties read.
        let array = Array(bytes)
        if array.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }) {
            return (String(decoding: array, as: UTF8.self), true)
        }
        if let text = String(validating: array, as: UTF8.self),
            !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\\" })
        {
            return (text, true)
        }
        var output = ""
        var position = 0
        while position < array.count {
            let byte = array[position]
            switch byte {
            case 0x0A: output += "\\n"
            case 0x0D: output += "\\r"
            case 0x09: output += "\\t"
            case 0x5C: output += "\\\\"
            case 0x20..<0x7F: output.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x80...:
                // A whole valid UTF-8 sequence of a non-control scalar passes through; a stray byte is escaped.
                if let (scalar, length) = Self.decodeScalar(array, at: position),
                    scalar.properties.generalCategory != .control
                {
                    output.unicodeScalars.append(scalar)
                    position += length
                    continue
                }
                output += Self.hexEscape(byte)
            default: output += Self.hexEscape(byte)
            }
            position += 1
        }
        return (output, false)
    }

    static func hexEscape(_ byte: UInt8) -> String {
        "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }

    static func decodeScalar(_ bytes: [UInt8], at position: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[position]
        let length: Int
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return nil
        }
        guard position + length <= bytes.count,
            let text = String(validating: bytes[position..<(position + length)], as: UTF8.self),
            let scalar = text.unicodeScalars.first, text.unicodeScalars.count == 1
        else { return nil }
        return (scalar, length)
    }
}

extension EventFields {
    /// The fields every login event starts with: `username`, `password` (always with `password_b64`), `method`.
    public static func login(
        username: some Collection<UInt8>,
        password: some Collection<UInt8>,
        method: String
    ) -> EventFields {
        var fields = EventFields()
        fields.add("username", attackerBytes: username)
        fields.add("password", attackerBytes: password, secret: true)
        fields.add("method", method)
        return fields
    }
}
