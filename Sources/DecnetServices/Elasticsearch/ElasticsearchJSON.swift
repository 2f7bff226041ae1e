import Foundation

/// JSON with its keys in order, written as Elasticsearch writes it: compact, or pretty in Jackson's style
/// (`"key" : value`, two spaces a level), which nmap's Elasticsearch signature reads from the root document.
indirect enum ESJSON: Equatable, Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([ESJSON])
    case object([(String, ESJSON)])

    static func == (lhs: ESJSON, rhs: ESJSON) -> Bool { lhs.compact == rhs.compact }

    var compact: String {
        switch self {
        case .string(let text): return Self.quote(text)
        case .int(let value): return String(value)
        case .double(let value): return Self.number(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.compact).joined(separator: ",") + "]"
        case .object(let pairs):
            return "{" + pairs.map { Self.quote($0.0) + ":" + $0.1.compact }.joined(separator: ",") + "}"
        }
    }

    /// Jackson's default pretty printer: objects one member a line, arrays of scalars on one line.
    func pretty(_ indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent + 2), end = String(repeating: " ", count: indent)
        switch self {
        case .object(let pairs):
            guard !pairs.isEmpty else { return "{ }" }
            return "{\n"
                + pairs.map { pad + Self.quote($0.0) + " : " + $0.1.pretty(indent + 2) }.joined(separator: ",\n") + "\n"
                + end + "}"
        case .array(let items):
            guard !items.isEmpty else { return "[ ]" }
            if items.allSatisfy({ if case .object = $0 { false } else if case .array = $0 { false } else { true } }) {
                return "[ " + items.map(\.compact).joined(separator: ", ") + " ]"
            }
            return "[\n" + items.map { pad + $0.pretty(indent + 2) }.joined(separator: ",\n") + "\n" + end + "]"
        default:
            return self.compact
        }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(format: "%.1f", value) : String(value)
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A value read from Foundation's JSON parser (stored documents keep their keys sorted).
    init(_ any: Any) {
        switch any {
        case let text as String: self = .string(text)
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" {
                self = .bool(number.boolValue)
            } else if number.doubleValue == Double(number.intValue) {
                self = .int(number.intValue)
            } else {
                self = .double(number.doubleValue)
            }
        case let items as [Any]: self = .array(items.map(ESJSON.init))
        case let object as [String: Any]: self = .object(object.keys.sorted().map { ($0, ESJSON(object[$0]!)) })
        default: self = .null
        }
    }
}
