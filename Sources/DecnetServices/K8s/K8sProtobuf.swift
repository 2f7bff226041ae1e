/// Just enough of Kubernetes' protobuf encoding to record what a typed client sent: the `k8s\0` envelope, the
/// runtime.Unknown's type (apiVersion, kind) and the printable strings inside (names, images, commands).
enum K8sProtobuf {
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    static func isEnvelope(_ body: [UInt8]) -> Bool { body.starts(with: Self.magic) }

    /// Printable strings in nesting order (bounded: 64 strings, 16 levels).
    static func strings(_ body: [UInt8]) -> [String] {
        var found: [String] = []
        Self.walk(Array(body.dropFirst(Self.magic.count)), depth: 0, into: &found)
        return found
    }

    /// A stand-in JSON object: the envelope's apiVersion and kind, and the first string that can be a name.
    static func object(_ body: [UInt8], kind: String) -> K8sJSON? {
        let strings = Self.strings(body)
        guard !strings.isEmpty else { return nil }
        let name = strings.dropFirst(2).first { text in
            !text.isEmpty && text.count <= 253
                && text.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }
        }
        return .object([
            ("kind", .string(kind)), ("apiVersion", .string(strings.first ?? "v1")),
            ("metadata", .object([("name", .string(name ?? ""))])),
        ])
    }

    /// Walks a message: length-delimited fields are tried as nested messages, else kept as text when printable.
    /// Returns false when `bytes` is not a well-formed message.
    @discardableResult
    static func walk(_ bytes: [UInt8], depth: Int, into found: inout [String]) -> Bool {
        guard depth < 16 else { return false }
        var index = 0
        var pending: [String] = []
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count, shift < 64 {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while index < bytes.count {
            guard let key = varint(), key >> 3 != 0 else { return false }
            switch key & 7 {
            case 0: guard varint() != nil else { return false }
            case 1: index += 8
            case 5: index += 4
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - index) else { return false }
                let field = Array(bytes[index..<index + Int(length)])
                index += Int(length)
                var nested: [String] = []
                if let text = String(validating: field, as: UTF8.self),
                    text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
                {
                    pending.append(text)
                } else if Self.walk(field, depth: depth + 1, into: &nested) {
                    pending += nested
                }
            default: return false
            }
            guard index <= bytes.count else { return false }
        }
        found += pending.prefix(64 - found.count)
        return true
    }
}
