import Foundation

/// A BSON value (bsonspec.org 1.1) as the mongodb emulator reads attackers' documents and writes its own. Every
/// type a client may send is read; the emulator writes a subset.
indirect enum BSONValue: Equatable, Sendable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSONValue])
    case binary(subtype: UInt8, [UInt8])
    case undefined
    case objectID([UInt8])
    case bool(Bool)
    /// Milliseconds since the Unix epoch.
    case datetime(Int64)
    case null
    case regex(pattern: String, options: String)
    case dbPointer(String, [UInt8])
    case javascript(String)
    case symbol(String)
    case javascriptWithScope(String, BSONDocument)
    case int32(Int32)
    case timestamp(UInt64)
    case int64(Int64)
    case decimal128([UInt8])
    case minKey
    case maxKey

    /// A number as an integer, whatever BSON number type carries it (commands say `1`, `1.0` or `NumberLong(1)`).
    var integer: Int? {
        switch self {
        case .int32(let value): Int(value)
        case .int64(let value): Int(value)
        case .double(let value) where value.isFinite && abs(value) < 1e15: Int(value)
        default: nil
        }
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var document: BSONDocument? {
        if case .document(let value) = self { return value }
        return nil
    }

    /// Truthiness as the server reads flags (`true`, `1`, `1.0`).
    var isTrue: Bool {
        switch self {
        case .bool(let value): value
        case .null, .undefined: false
        default: (self.integer ?? 0) != 0
        }
    }
}

/// A BSON document: its elements in order (command documents are ordered: the first key names the command).
struct BSONDocument: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    var elements: [(key: String, value: BSONValue)]

    init(_ elements: [(key: String, value: BSONValue)] = []) { self.elements = elements }

    init(dictionaryLiteral elements: (String, BSONValue)...) {
        self.elements = elements.map { (key: $0.0, value: $0.1) }
    }

    subscript(key: String) -> BSONValue? {
        get { self.elements.first { $0.key == key }?.value }
        set {
            if let index = self.elements.firstIndex(where: { $0.key == key }) {
                if let newValue { self.elements[index].value = newValue } else { self.elements.remove(at: index) }
            } else if let newValue {
                self.elements.append((key, newValue))
            }
        }
    }

    var keys: [String] { self.elements.map(\.key) }

    static func == (lhs: BSONDocument, rhs: BSONDocument) -> Bool {
        lhs.elements.elementsEqual(rhs.elements) { $0.key == $1.key && $0.value == $1.value }
    }
}

// MARK: - Reading

/// Reads BSON from attacker bytes with every length checked against what is there, nesting bounded, and no
/// allocation larger than the input.
struct BSONReader {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case truncated
        case badLength(Int)
        case unknownType(UInt8)
        case tooDeep
        case notTerminated

        var description: String {
            switch self {
            case .truncated: "BSON truncated"
            case .badLength(let length): "BSON length \(length) does not fit"
            case .unknownType(let type): "BSON element type 0x\(String(type, radix: 16))"
            case .tooDeep: "BSON nested too deeply"
            case .notTerminated: "BSON document not terminated"
            }
        }
    }

    /// Deeper than mongod's own limit (100) is never legitimate.
    static let maximumDepth = 100

    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { self.bytes.count - self.offset }

    mutating func int32() throws(Failure) -> Int32 {
        guard self.remaining >= 4 else { throw .truncated }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(self.bytes[self.offset + index]) << (8 * index) }
        self.offset += 4
        return Int32(bitPattern: value)
    }

    mutating func int64() throws(Failure) -> Int64 {
        guard self.remaining >= 8 else { throw .truncated }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(self.bytes[self.offset + index]) << (8 * index) }
        self.offset += 8
        return Int64(bitPattern: value)
    }

    mutating func raw(_ count: Int) throws(Failure) -> [UInt8] {
        guard count >= 0, self.remaining >= count else { throw .truncated }
        defer { self.offset += count }
        return Array(self.bytes[self.offset..<self.offset + count])
    }

    mutating func cString() throws(Failure) -> String {
        guard let end = self.bytes[self.offset...].firstIndex(of: 0) else { throw .notTerminated }
        defer { self.offset = end + 1 }
        return String(decoding: self.bytes[self.offset..<end], as: UTF8.self)
    }

    /// A length-prefixed, NUL-terminated BSON string.
    mutating func string() throws(Failure) -> String {
        let length = Int(try self.int32())
        guard length >= 1, length <= self.remaining else { throw .badLength(length) }
        let body = try self.raw(length)
        guard body.last == 0 else { throw .notTerminated }
        return String(decoding: body.dropLast(), as: UTF8.self)
    }

    mutating func document(depth: Int = 0) throws(Failure) -> BSONDocument {
        guard depth < Self.maximumDepth else { throw .tooDeep }
        let start = self.offset
        let length = Int(try self.int32())
        guard length >= 5, length <= self.remaining + 4 else { throw .badLength(length) }
        let end = start + length
        var elements: [(key: String, value: BSONValue)] = []
        while self.offset < end - 1 {
            let type = self.bytes[self.offset]
            self.offset += 1
            let key = try self.cString()
            guard self.offset <= end - 1 else { throw .badLength(length) }
            elements.append((key, try self.value(type, depth: depth)))
            guard self.offset <= end - 1 else { throw .badLength(length) }
        }
        guard self.offset == end - 1, self.bytes[self.offset] == 0 else { throw .notTerminated }
        self.offset = end
        return BSONDocument(elements)
    }

    private mutating func value(_ type: UInt8, depth: Int) throws(Failure) -> BSONValue {
        switch type {
        case 0x01: return .double(Double(bitPattern: UInt64(bitPattern: try self.int64())))
        case 0x02: return .string(try self.string())
        case 0x03: return .document(try self.document(depth: depth + 1))
        case 0x04: return .array(try self.document(depth: depth + 1).elements.map(\.value))
        case 0x05:
            let length = Int(try self.int32())
            guard length >= 0, length < self.remaining else { throw .badLength(length) }
            let subtype = try self.raw(1)[0]
            return .binary(subtype: subtype, try self.raw(length))
        case 0x06: return .undefined
        case 0x07: return .objectID(try self.raw(12))
        case 0x08: return .bool(try self.raw(1)[0] != 0)
        case 0x09: return .datetime(try self.int64())
        case 0x0A: return .null
        case 0x0B: return .regex(pattern: try self.cString(), options: try self.cString())
        case 0x0C: return .dbPointer(try self.string(), try self.raw(12))
        case 0x0D: return .javascript(try self.string())
        case 0x0E: return .symbol(try self.string())
        case 0x0F:
            let start = self.offset
            let length = Int(try self.int32())
            guard length >= 14, length <= self.remaining + 4 else { throw .badLength(length) }
            let code = try self.string()
            let scope = try self.document(depth: depth + 1)
            guard self.offset == start + length else { throw .badLength(length) }
            return .javascriptWithScope(code, scope)
        case 0x10: return .int32(try self.int32())
        case 0x11: return .timestamp(UInt64(bitPattern: try self.int64()))
        case 0x12: return .int64(try self.int64())
        case 0x13: return .decimal128(try self.raw(16))
        case 0xFF: return .minKey
        case 0x7F: return .maxKey
        default: throw .unknownType(type)
        }
    }
}

extension BSONDocument {
    /// The document these bytes hold (exactly: nothing may follow it).
    init(bson bytes: [UInt8]) throws(BSONReader.Failure) {
        var reader = BSONReader(bytes)
        self = try reader.document()
        guard reader.remaining == 0 else { throw .badLength(bytes.count) }
    }

    // MARK: - Writing

    var bson: [UInt8] {
        var out: [UInt8] = [0, 0, 0, 0]
        for (key, value) in self.elements { Self.write(key, value, into: &out) }
        out.append(0)
        let length = UInt32(out.count)
        for index in 0..<4 { out[index] = UInt8(truncatingIfNeeded: length >> (8 * index)) }
        return out
    }

    private static func write(_ key: String, _ value: BSONValue, into out: inout [UInt8]) {
        func name(_ type: UInt8) {
            out.append(type)
            out.append(contentsOf: key.utf8.filter { $0 != 0 })
            out.append(0)
        }
        func le<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        func string(_ text: String) {
            let utf8 = Array(text.utf8)
            le(Int32(utf8.count + 1))
            out.append(contentsOf: utf8)
            out.append(0)
        }
        switch value {
        case .double(let number):
            name(0x01)
            le(number.bitPattern)
        case .string(let text):
            name(0x02)
            string(text)
        case .document(let document):
            name(0x03)
            out.append(contentsOf: document.bson)
        case .array(let values):
            name(0x04)
            out.append(contentsOf: BSONDocument(values.enumerated().map { (String($0.offset), $0.element) }).bson)
        case .binary(let subtype, let bytes):
            name(0x05)
            le(Int32(bytes.count))
            out.append(subtype)
            out += bytes
        case .undefined: name(0x06)
        case .objectID(let bytes):
            name(0x07)
            out += bytes.prefix(12) + [UInt8](repeating: 0, count: 12 - min(12, bytes.count))
        case .bool(let flag):
            name(0x08)
            out.append(flag ? 1 : 0)
        case .datetime(let millis):
            name(0x09)
            le(millis)
        case .null: name(0x0A)
        case .regex(let pattern, let options):
            name(0x0B)
            out += Array(pattern.utf8.filter { $0 != 0 }) + [0] + Array(options.utf8.filter { $0 != 0 }) + [0]
        case .dbPointer(let namespace, let id):
            name(0x0C)
            string(namespace)
            out += id
        case .javascript(let code):
            name(0x0D)
            string(code)
        case .symbol(let text):
            name(0x0E)
            string(text)
        case .javascriptWithScope(let code, let scope):
            name(0x0F)
            let utf8 = Array(code.utf8)
            let scopeBytes = scope.bson
            le(Int32(4 + 4 + utf8.count + 1 + scopeBytes.count))
            string(code)
            out += scopeBytes
        case .int32(let number):
            name(0x10)
            le(number)
        case .timestamp(let stamp):
            name(0x11)
            le(stamp)
        case .int64(let number):
            name(0x12)
            le(number)
        case .decimal128(let bytes):
            name(0x13)
            out += bytes
        case .minKey: name(0xFF)
        case .maxKey: name(0x7F)
        }
    }
}

// MARK: - Relaxed Extended JSON for events

extension BSONValue {
    /// Relaxed Extended JSON (as mongosh prints it), for event fields: bounded in depth and length.
    func json(depth: Int = 0) -> String {
        guard depth < 8 else { return "…" }
        switch self {
        case .double(let value): return value == value.rounded() && abs(value) < 1e15 ? "\(Int(value)).0" : "\(value)"
        case .string(let text), .symbol(let text): return Self.quoted(text)
        case .document(let document): return document.json(depth: depth + 1)
        case .array(let values):
            return "[" + values.prefix(32).map { $0.json(depth: depth + 1) }.joined(separator: ", ")
                + (values.count > 32 ? ", …]" : "]")
        case .binary(let subtype, let bytes):
            return "{\"$binary\": {\"base64\": \"\(Data(bytes.prefix(96)).base64EncodedString())\", \"subType\": \""
                + String(format: "%02x", subtype) + "\"}}"
        case .undefined: return "{\"$undefined\": true}"
        case .objectID(let bytes): return "{\"$oid\": \"\(bytes.map { String(format: "%02x", $0) }.joined())\"}"
        case .bool(let flag): return flag ? "true" : "false"
        case .datetime(let millis): return "{\"$date\": {\"$numberLong\": \"\(millis)\"}}"
        case .null: return "null"
        case .regex(let pattern, let options):
            return
                "{\"$regularExpression\": {\"pattern\": \(Self.quoted(pattern)), \"options\": \(Self.quoted(options))}}"
        case .dbPointer(let namespace, _): return "{\"$dbPointer\": \(Self.quoted(namespace))}"
        case .javascript(let code), .javascriptWithScope(let code, _): return "{\"$code\": \(Self.quoted(code))}"
        case .int32(let value): return "\(value)"
        case .timestamp(let stamp): return "{\"$timestamp\": {\"t\": \(stamp >> 32), \"i\": \(stamp & 0xFFFF_FFFF)}}"
        case .int64(let value): return "\(value)"
        case .decimal128: return "{\"$numberDecimal\": \"?\"}"
        case .minKey: return "{\"$minKey\": 1}"
        case .maxKey: return "{\"$maxKey\": 1}"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars.prefix(4096) {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension BSONDocument {
    func json(depth: Int = 0) -> String {
        guard depth < 8 else { return "{…}" }
        let shown = self.elements.prefix(64).map { BSONValue.quoted($0.key) + ": " + $0.value.json(depth: depth) }
        return "{" + shown.joined(separator: ", ") + (self.elements.count > 64 ? ", …}" : "}")
    }
}
