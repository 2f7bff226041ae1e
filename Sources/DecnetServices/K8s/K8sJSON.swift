/// A JSON value whose objects keep their keys in order, written as Go's `encoding/json` writes the API server's
/// structs: fields in declaration order, compact, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u00XX`, and
/// `MarshalIndent`'s two-space layout for the few documents the server pretty-prints (`/version`).
indirect enum K8sJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([K8sJSON])
    case object([(String, K8sJSON)])

    static func == (lhs: K8sJSON, rhs: K8sJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.elementsEqual(b) { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// An empty object (`{}`), as Go writes an empty struct such as `metadata`.
    static let empty = K8sJSON.object([])

    /// The value under `key` of an object.
    subscript(key: String) -> K8sJSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// A copy with `key` set (replaced in place, or appended).
    func setting(_ key: String, _ value: K8sJSON) -> K8sJSON {
        guard case .object(var pairs) = self else { return self }
        if let index = pairs.firstIndex(where: { $0.0 == key }) {
            pairs[index].1 = value
        } else {
            pairs.append((key, value))
        }
        return .object(pairs)
    }

    /// Compact text with a trailing newline, as `json.Encoder.Encode` ends every document.
    var encoded: [UInt8] {
        var out: [UInt8] = []
        self.write(to: &out, indent: nil, depth: 0)
        out.append(0x0A)
        return out
    }

    /// `json.MarshalIndent(value, "", "  ")`: no trailing newline.
    var indented: [UInt8] {
        var out: [UInt8] = []
        self.write(to: &out, indent: "  ", depth: 0)
        return out
    }

    private func write(to out: inout [UInt8], indent: String?, depth: Int) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .int(let value): out += Array(String(value).utf8)
        case .double(let value):
            out += Array((value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)).utf8)
        case .string(let value): Self.append(string: value, to: &out)
        case .array(let values):
            guard !values.isEmpty else { return out += [0x5B, 0x5D] }
            out.append(0x5B)
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(0x2C) }
                Self.newline(&out, indent, depth + 1)
                value.write(to: &out, indent: indent, depth: depth + 1)
            }
            Self.newline(&out, indent, depth)
            out.append(0x5D)
        case .object(let pairs):
            guard !pairs.isEmpty else { return out += [0x7B, 0x7D] }
            out.append(0x7B)
            for (index, (key, value)) in pairs.enumerated() {
                if index > 0 { out.append(0x2C) }
                Self.newline(&out, indent, depth + 1)
                Self.append(string: key, to: &out)
                out.append(0x3A)
                if indent != nil { out.append(0x20) }
                value.write(to: &out, indent: indent, depth: depth + 1)
            }
            Self.newline(&out, indent, depth)
            out.append(0x7D)
        }
    }

    private static func newline(_ out: inout [UInt8], _ indent: String?, _ depth: Int) {
        guard let indent else { return }
        out.append(0x0A)
        for _ in 0..<depth { out += Array(indent.utf8) }
    }

    /// A string literal as Go escapes it (HTML-safe).
    static func append(string: String, to out: inout [UInt8]) {
        out.append(0x22)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for scalar in string.unicodeScalars {
            switch scalar.value {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20, 0x3C, 0x3E, 0x26:
                let byte = UInt8(scalar.value)
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            case 0x2028: out += Array("\\u2028".utf8)
            case 0x2029: out += Array("\\u2029".utf8)
            default: out += Array(String(scalar).utf8)
            }
        }
        out.append(0x22)
    }

    /// Parses `bytes` as JSON, objects keeping the client's key order; nil for anything that is not one JSON
    /// value (bad bodies are the caller's 400). Nesting is bounded, so hostile input cannot exhaust the stack.
    static func parse(_ bytes: [UInt8]) -> K8sJSON? {
        var parser = K8sJSONParser(bytes: bytes)
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.index == bytes.count ? value : nil
    }
}

/// A small strict JSON reader (RFC 8259) for request bodies.
private struct K8sJSONParser {
    static let maximumDepth = 64
    let bytes: [UInt8]
    var index = 0

    mutating func skipSpace() {
        while self.index < self.bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.index]) {
            self.index += 1
        }
    }

    mutating func literal(_ text: String, _ value: K8sJSON) -> K8sJSON? {
        let expected = Array(text.utf8)
        guard self.index + expected.count <= self.bytes.count,
            Array(self.bytes[self.index..<self.index + expected.count]) == expected
        else { return nil }
        self.index += expected.count
        return value
    }

    mutating func value(depth: Int) -> K8sJSON? {
        guard depth < Self.maximumDepth else { return nil }
        self.skipSpace()
        guard self.index < self.bytes.count else { return nil }
        switch self.bytes[self.index] {
        case 0x7B:
            self.index += 1
            var pairs: [(String, K8sJSON)] = []
            self.skipSpace()
            if self.index < self.bytes.count, self.bytes[self.index] == 0x7D {
                self.index += 1
                return .object(pairs)
            }
            while true {
                self.skipSpace()
                guard let key = self.string() else { return nil }
                self.skipSpace()
                guard self.index < self.bytes.count, self.bytes[self.index] == 0x3A else { return nil }
                self.index += 1
                guard let value = self.value(depth: depth + 1) else { return nil }
                if let existing = pairs.firstIndex(where: { $0.0 == key }) {
                    pairs[existing].1 = value
                } else {
                    pairs.append((key, value))
                }
                self.skipSpace()
                guard self.index < self.bytes.count else { return nil }
                if self.bytes[self.index] == 0x2C {
                    self.index += 1
                    continue
                }
                guard self.bytes[self.index] == 0x7D else { return nil }
                self.index += 1
                return .object(pairs)
            }
        case 0x5B:
            self.index += 1
            var values: [K8sJSON] = []
            self.skipSpace()
            if self.index < self.bytes.count, self.bytes[self.index] == 0x5D {
                self.index += 1
                return .array(values)
            }
            while true {
                guard let value = self.value(depth: depth + 1) else { return nil }
                values.append(value)
                self.skipSpace()
                guard self.index < self.bytes.count else { return nil }
                if self.bytes[self.index] == 0x2C {
                    self.index += 1
                    continue
                }
                guard self.bytes[self.index] == 0x5D else { return nil }
                self.index += 1
                return .array(values)
            }
        case 0x22: return self.string().map { .string($0) }
        case 0x74: return self.literal("true", .bool(true))
        case 0x66: return self.literal("false", .bool(false))
        case 0x6E: return self.literal("null", .null)
        default: return self.number()
        }
    }

    mutating func number() -> K8sJSON? {
        let start = self.index
        while self.index < self.bytes.count, Array("+-0123456789.eE".utf8).contains(self.bytes[self.index]) {
            self.index += 1
        }
        guard self.index > start, self.index - start < 64 else { return nil }
        let text = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        if let integer = Int(text) { return .int(integer) }
        guard let double = Double(text), double.isFinite else { return nil }
        return .double(double)
    }

    mutating func string() -> String? {
        guard self.index < self.bytes.count, self.bytes[self.index] == 0x22 else { return nil }
        self.index += 1
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
                    if (0xD800..<0xDC00).contains(scalar), self.index + 1 < self.bytes.count,
                        self.bytes[self.index] == 0x5C, self.bytes[self.index + 1] == 0x75
                    {
                        self.index += 2
                        guard let low = self.hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out += Array(String(Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8)
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

extension K8sJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension K8sJSON {
    /// A list of strings.
    static func strings(_ values: [String]) -> K8sJSON { .array(values.map { .string($0) }) }

    /// A string-to-string map (labels, annotations, secret data) in sorted order, as Go writes maps.
    static func map(_ values: [String: String]) -> K8sJSON {
        .object(values.keys.sorted().map { ($0, .string(values[$0]!)) })
    }
}
