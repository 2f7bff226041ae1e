/// A JSON document written as Go's `encoding/json` writes it, for services imitating a Go server (dockerd …).
///
/// An object keeps its members in the order given: Go writes a struct's fields in declaration order and a map's
/// keys sorted (`sortedObject`), never in the order of a Swift dictionary, which changes from one process to the
/// next. Output is compact; strings are escaped as Go escapes them by default: `"` and `\`, `\n` `\r` `\t`, other
/// control characters as `\u00XX` (Go before 1.22 writes `\b` and `\f` so too), and `<`, `>`, `&`, U+2028 and
/// U+2029 as `\u003c` … (its HTML-safe default).
public indirect enum GoJSON: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    case object([(String, GoJSON)])
    case array([GoJSON])
    case string(String)
    case int(Int)
    case bool(Bool)
    case null

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: GoJSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, GoJSON)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .null }

    /// A Go map: its keys sorted.
    public static func sortedObject(_ members: [String: GoJSON]) -> GoJSON {
        .object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// A list of strings; `nil` is Go's nil slice, written `null`.
    public static func strings(_ values: [String]?) -> GoJSON {
        values.map { .array($0.map(GoJSON.string)) } ?? .null
    }

    /// The compact text, without the newline `json.Encoder` adds.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        self.write(into: &out)
        return out
    }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text):
            Self.writeString(text, into: &out)
        case .int(let number):
            out += Array(String(number).utf8)
        case .bool(let value):
            out += Array((value ? "true" : "false").utf8)
        case .null:
            out += Array("null".utf8)
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x00..<0x20, 0x3C, 0x3E, 0x26, 0x2028, 0x2029:
                let value = scalar.value
                out += Array("\\u".utf8)
                out += [
                    hex[Int(value >> 12 & 0xF)], hex[Int(value >> 8 & 0xF)], hex[Int(value >> 4 & 0xF)],
                    hex[Int(value & 0xF)],
                ]
            default:
                out += Array(String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
