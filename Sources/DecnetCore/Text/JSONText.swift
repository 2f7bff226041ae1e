import Foundation

/// JSON text written directly, for what is written per event (the store's JSON columns, the bus's payloads):
/// JSONEncoder, through Codable's reflection, was a large share of the ingester's time. Keys are sorted, so equal
/// values are equal text; the text is what JSONEncoder gives with sorted keys and unescaped slashes.
public enum JSONText {
    /// A string-to-string object (sorted keys).
    public static func object(_ object: [String: String]) -> String {
        self.sortedObject(object) { value, out in self.append(string: value, to: &out) }
    }

    /// An object of string lists (sorted keys).
    public static func object(_ object: [String: [String]]) -> String {
        self.sortedObject(object) { values, out in self.append(array: values, to: &out) }
    }

    /// A list of strings (the attacker rows hold three per profile).
    public static func array(_ values: [String]) -> String {
        var out: [UInt8] = []
        self.append(array: values, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func sortedObject<Value>(
        _ object: [String: Value],
        _ appendValue: (Value, inout [UInt8]) -> Void
    ) -> String {
        var out: [UInt8] = [0x7B]
        for key in object.keys.sorted() {
            if out.count > 1 { out.append(0x2C) }
            self.append(string: key, to: &out)
            out.append(0x3A)
            appendValue(object[key]!, &out)
        }
        out.append(0x7D)
        return String(decoding: out, as: UTF8.self)
    }

    /// An event's fields as one object in the event's order (what the store's `fields` column holds); a
    /// repeated name keeps its first value, as `HoneypotEvent.fieldValues` does.
    public static func object(_ fields: [EventField]) -> String {
        var out: [UInt8] = []
        self.append(fields: fields, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func append(fields: [EventField], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + fields.reduce(2) { $0 + $1.name.utf8.count + $1.value.utf8.count + 6 })
        out.append(0x7B)
        var seen = Set<String>()
        var first = true
        for (index, field) in fields.enumerated() {
            // Few fields: look back; many: remember.
            if fields.count <= 16 {
                guard !fields[..<index].contains(where: { $0.name == field.name }) else { continue }
            } else {
                guard seen.insert(field.name).inserted else { continue }
            }
            if !first { out.append(0x2C) }
            first = false
            self.append(string: field.name, to: &out)
            out.append(0x3A)
            self.append(string: field.value, to: &out)
        }
        out.append(0x7D)
    }

    static func append(array values: [String], to out: inout [UInt8]) {
        out.append(0x5B)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(0x2C) }
            self.append(string: value, to: &out)
        }
        out.append(0x5D)
    }

    /// A JSON string literal (RFC 8259 §7: quote, backslash and control characters escaped; `\b`, `\f`,
    /// `\n`, `\r`, `\t` by name, the rest as `\u00XX`).
    public static func append(string: String, to out: inout [UInt8]) {
        out.append(0x22)
        // Most values need no escape: copied whole.
        let plain = string.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain != true {
            for byte in string.utf8 {
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                case 0x08: out.append(contentsOf: [0x5C, 0x62])
                case 0x0C: out.append(contentsOf: [0x5C, 0x66])
                case 0..<0x20:
                    let digits: [UInt8] = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
                default: out.append(byte)
                }
            }
        }
        out.append(0x22)
    }

    /// Reads an object of strings back in its order, as `object(_: [EventField])` writes it; nil for any other
    /// JSON (a value that is not a string, bad escapes, text after the end).
    public static func fields(_ text: String) -> [EventField]? {
        var reader = FlatObjectReader(bytes: Array(text.utf8))
        return reader.read()
    }

    private struct FlatObjectReader {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while self.index < self.bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.index]) {
                self.index += 1
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            self.skipSpace()
            guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
            self.index += 1
            return true
        }

        mutating func read() -> [EventField]? {
            guard self.take(0x7B) else { return nil }
            var fields: [EventField] = []
            if !self.take(0x7D) {
                repeat {
                    guard let name = self.string(), self.take(0x3A), let value = self.string() else { return nil }
                    fields.append(EventField(name, value))
                } while self.take(0x2C)
                guard self.take(0x7D) else { return nil }
            }
            self.skipSpace()
            return self.index == self.bytes.count ? fields : nil
        }

        mutating func string() -> String? {
            guard self.take(0x22) else { return nil }
            var out: [UInt8] = []
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                self.index += 1
                switch byte {
                case 0x22: return String(decoding: out, as: UTF8.self)
                case 0x5C:
                    guard self.index < self.bytes.count else { return nil }
                    let escape = self.bytes[self.index]
                    self.index += 1
                    switch escape {
                    case 0x22, 0x5C, 0x2F: out.append(escape)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x6E: out.append(0x0A)
                    case 0x72: out.append(0x0D)
                    case 0x74: out.append(0x09)
                    case 0x75:
                        guard var scalar = self.hex4() else { return nil }
                        if (0xD800..<0xDC00).contains(scalar) {
                            // A surrogate pair: the low half must follow.
                            guard self.index + 1 < self.bytes.count, self.bytes[self.index] == 0x5C,
                                self.bytes[self.index + 1] == 0x75
                            else { return nil }
                            self.index += 2
                            guard let low = self.hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { return nil }
                        out.append(contentsOf: String(unicode).utf8)
                    default: return nil
                    }
                case 0..<0x20: return nil
                default: out.append(byte)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard self.index + 4 <= self.bytes.count else { return nil }
            var value: UInt32 = 0
            for byte in self.bytes[self.index..<self.index + 4] {
                guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { return nil }
                value = value << 4 | UInt32(digit)
            }
            self.index += 4
            return value
        }
    }
}
