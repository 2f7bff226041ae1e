import SwiftASN1

/// An SNMP object identifier as its arcs, ordered as agents order them (arc by arc, a prefix first).
struct OID: Hashable, Comparable, Sendable, CustomStringConvertible {
    var arcs: [UInt32]

    init(_ arcs: [UInt32]) { self.arcs = arcs }

    init?(_ text: String) {
        let parts = text.split(separator: ".").compactMap { UInt32($0) }
        guard parts.count >= 2, parts.count == text.split(separator: ".").count else { return nil }
        self.arcs = parts
    }

    static func < (lhs: OID, rhs: OID) -> Bool { lhs.arcs.lexicographicallyPrecedes(rhs.arcs) }

    var description: String { self.arcs.map(String.init).joined(separator: ".") }

    func appending(_ more: UInt32...) -> OID { OID(self.arcs + more) }

    func hasPrefix(_ prefix: OID) -> Bool { self.arcs.starts(with: prefix.arcs) }

    /// The BER content octets (X.690 §8.19).
    var encoded: [UInt8] {
        guard self.arcs.count >= 2 else { return [0] }
        // The first two arcs share one subidentifier, which can exceed 32 bits (2.4294967295 is 4294967375).
        var out = Self.base128(UInt64(self.arcs[0]) * 40 + UInt64(self.arcs[1]))
        for arc in self.arcs.dropFirst(2) { out += Self.base128(UInt64(arc)) }
        return out
    }

    static func base128(_ value: UInt64) -> [UInt8] {
        var out = [UInt8(value & 0x7F)]
        var rest = value >> 7
        while rest > 0 {
            out.insert(UInt8(rest & 0x7F) | 0x80, at: 0)
            rest >>= 7
        }
        return out
    }

    /// Decodes content octets; nil for an arc over 32 bits, a truncated one, or more than 128 arcs.
    init?(encoded bytes: [UInt8]) {
        guard !bytes.isEmpty else { return nil }
        var arcs: [UInt32] = []
        var value: UInt64 = 0
        var first = true
        for (index, byte) in bytes.enumerated() {
            value = value << 7 | UInt64(byte & 0x7F)
            guard value <= UInt64(UInt32.max) + 80 else { return nil }
            if byte & 0x80 == 0 {
                if first {
                    let head = UInt32(min(value / 40, 2))
                    arcs += [head, UInt32(value - UInt64(head) * 40)]
                    first = false
                } else {
                    guard value <= UInt64(UInt32.max) else { return nil }
                    arcs.append(UInt32(value))
                }
                value = 0
            } else if index == bytes.count - 1 {
                return nil
            }
            if arcs.count > 128 { return nil }
        }
        self.arcs = arcs
    }
}

/// A variable's value as SNMP encodes it (RFC 2578 types and RFC 3416's exceptions).
enum SNMPValue: Equatable, Sendable {
    case integer(Int)
    case octets([UInt8])
    case oid(OID)
    case null
    case ipAddress([UInt8])
    case counter32(UInt32)
    case gauge32(UInt32)
    case timeTicks(UInt32)
    case counter64(UInt64)
    case noSuchObject, noSuchInstance, endOfMibView
    /// A type the agent does not interpret (in a SET it only records).
    case other(tag: UInt8, [UInt8])

    static func text(_ string: String) -> SNMPValue { .octets(Array(string.utf8)) }

    var encoded: [UInt8] {
        switch self {
        case .integer(let value): return BERWriter.integer(value)
        case .octets(let bytes): return BERWriter.octets(bytes)
        case .oid(let oid): return BERWriter.element(0x06, oid.encoded)
        case .null: return [0x05, 0x00]
        case .ipAddress(let bytes): return BERWriter.element(0x40, bytes)
        case .counter32(let value): return Self.unsigned(0x41, UInt64(value))
        case .gauge32(let value): return Self.unsigned(0x42, UInt64(value))
        case .timeTicks(let value): return Self.unsigned(0x43, UInt64(value))
        case .counter64(let value): return Self.unsigned(0x46, value)
        case .noSuchObject: return [0x80, 0x00]
        case .noSuchInstance: return [0x81, 0x00]
        case .endOfMibView: return [0x82, 0x00]
        case .other(let tag, let bytes): return BERWriter.element(tag, bytes)
        }
    }

    /// An unsigned application type: minimal two's-complement content, a leading zero when the top bit is set.
    static func unsigned(_ tag: UInt8, _ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = value
        repeat {
            bytes.insert(UInt8(rest & 0xFF), at: 0)
            rest >>= 8
        } while rest > 0
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return BERWriter.element(tag, bytes)
    }

    /// What a value reads as in an event.
    var text: String {
        switch self {
        case .integer(let value): return String(value)
        case .octets(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .oid(let oid): return oid.description
        case .ipAddress(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .counter32(let value), .gauge32(let value), .timeTicks(let value): return String(value)
        case .counter64(let value): return String(value)
        case .null: return "NULL"
        default: return "?"
        }
    }
}

/// An SNMP message as the agent reads it: v1/v2c with their community, or v3's header and USM parameters.
struct SNMPMessage: Equatable {
    enum PDUType: UInt8 {
        case get = 0xA0, getNext = 0xA1, response = 0xA2, set = 0xA3, trap = 0xA4, getBulk = 0xA5, inform = 0xA6,
            trap2 = 0xA7, report = 0xA8
    }

    struct PDU: Equatable {
        var type: PDUType
        var requestID: Int
        /// error-status, or non-repeaters for GetBulk.
        var first: Int
        /// error-index, or max-repetitions for GetBulk.
        var second: Int
        var bindings: [(oid: OID, value: SNMPValue)]

        static func == (lhs: PDU, rhs: PDU) -> Bool {
            lhs.type == rhs.type && lhs.requestID == rhs.requestID && lhs.first == rhs.first
                && lhs.second == rhs.second
                && lhs.bindings.elementsEqual(rhs.bindings) { $0.oid == $1.oid && $0.value == $1.value }
        }
    }

    /// v3's header and user-based security parameters (RFC 3412 §6, RFC 3414 §2.4).
    struct V3: Equatable {
        var messageID: Int
        var maximumSize: Int
        var flags: UInt8
        var engineID: [UInt8]
        var engineBoots: Int
        var engineTime: Int
        var userName: [UInt8]
        var authentication: [UInt8]
        var privacy: [UInt8]
        /// The scoped PDU's context, when it is in the clear.
        var contextEngineID: [UInt8]
    }

    /// 0 (v1), 1 (v2c) or 3.
    var version: Int
    var community: [UInt8]
    var pdu: PDU?
    var v3: V3?

    static let maximumBindings = 64

    /// Reads a message; nil when it is not one (an agent drops it silently).
    init?(_ bytes: [UInt8]) {
        guard let root = try? BER.parse(bytes), root.identifier == .sequence else { return nil }
        let parts = Self.children(root)
        guard parts.count >= 3, let version = Self.integer(parts[0]) else { return nil }
        self.version = version
        if version == 3 {
            let header = Self.children(parts[1])
            guard parts.count == 4, header.count == 4, let id = Self.integer(header[0]),
                let size = Self.integer(header[1]), let flags = Self.octets(header[2])?.first,
                Self.integer(header[3]) == 3, let security = Self.octets(parts[2]),
                let usm = try? BER.parse(security)
            else { return nil }
            let fields = Self.children(usm)
            guard fields.count == 6, let engineID = Self.octets(fields[0]), let boots = Self.integer(fields[1]),
                let time = Self.integer(fields[2]), let user = Self.octets(fields[3]),
                let authentication = Self.octets(fields[4]), let privacy = Self.octets(fields[5])
            else { return nil }
            var context: [UInt8] = []
            if parts[3].identifier == .sequence {
                let scoped = Self.children(parts[3])
                guard scoped.count == 3 else { return nil }
                context = Self.octets(scoped[0]) ?? []
                self.pdu = Self.pdu(scoped[2])
            }
            self.community = []
            self.v3 = V3(
                messageID: id,
                maximumSize: size,
                flags: flags,
                engineID: engineID,
                engineBoots: boots,
                engineTime: time,
                userName: user,
                authentication: authentication,
                privacy: privacy,
                contextEngineID: context
            )
            return
        }
        guard version == 0 || version == 1, parts.count == 3, let community = Self.octets(parts[1]),
            let pdu = Self.pdu(parts[2])
        else { return nil }
        self.community = community
        self.pdu = pdu
    }

    static func pdu(_ node: ASN1Node) -> PDU? {
        guard node.identifier.tagClass == .contextSpecific,
            let type = PDUType(rawValue: 0xA0 | UInt8(truncatingIfNeeded: node.identifier.tagNumber))
        else { return nil }
        let fields = self.children(node)
        guard fields.count == 4, let id = self.integer(fields[0]), let first = self.integer(fields[1]),
            let second = self.integer(fields[2])
        else { return nil }
        var bindings: [(OID, SNMPValue)] = []
        for binding in self.children(fields[3]).prefix(self.maximumBindings) {
            let pair = self.children(binding)
            guard pair.count == 2, pair[0].identifier == .objectIdentifier,
                let raw = self.octets(pair[0]), let oid = OID(encoded: raw)
            else { return nil }
            bindings.append((oid, self.value(pair[1])))
        }
        return PDU(type: type, requestID: id, first: first, second: second, bindings: bindings)
    }

    static func value(_ node: ASN1Node) -> SNMPValue {
        let tag =
            UInt8(truncatingIfNeeded: node.identifier.tagNumber)
            | (node.identifier.tagClass == .application
                ? 0x40 : node.identifier.tagClass == .contextSpecific ? 0x80 : 0)
        guard let bytes = self.octets(node) else { return .other(tag: tag, []) }
        switch tag {
        case 0x02: return self.integer(node).map { .integer($0) } ?? .other(tag: tag, bytes)
        case 0x04: return .octets(bytes)
        case 0x05: return .null
        case 0x06: return OID(encoded: bytes).map { .oid($0) } ?? .other(tag: tag, bytes)
        case 0x40: return .ipAddress(bytes)
        case 0x41, 0x42, 0x43, 0x46:
            guard bytes.count <= 9 else { return .other(tag: tag, bytes) }
            let value = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            switch tag {
            case 0x41: return .counter32(UInt32(truncatingIfNeeded: value))
            case 0x42: return .gauge32(UInt32(truncatingIfNeeded: value))
            case 0x43: return .timeTicks(UInt32(truncatingIfNeeded: value))
            default: return .counter64(value)
            }
        case 0x80: return .noSuchObject
        case 0x81: return .noSuchInstance
        case 0x82: return .endOfMibView
        default: return .other(tag: tag, bytes)
        }
    }

    static func children(_ node: ASN1Node) -> [ASN1Node] {
        guard case .constructed(let nodes) = node.content else { return [] }
        return Array(nodes)
    }

    static func octets(_ node: ASN1Node) -> [UInt8]? {
        guard case .primitive(let bytes) = node.content else { return nil }
        return Array(bytes)
    }

    /// A BER INTEGER of up to eight content bytes, two's complement.
    static func integer(_ node: ASN1Node) -> Int? {
        guard node.identifier == .integer, let bytes = self.octets(node), !bytes.isEmpty, bytes.count <= 8 else {
            return nil
        }
        var value = Int(Int8(bitPattern: bytes[0]))
        for byte in bytes.dropFirst() { value = value << 8 | Int(byte) }
        return value
    }
}

extension SNMPMessage {
    /// A v1/v2c response: the same version, community and request id.
    static func response(
        version: Int,
        community: [UInt8],
        requestID: Int,
        error: Int = 0,
        index: Int = 0,
        bindings: [(OID, SNMPValue)]
    ) -> [UInt8] {
        BERWriter.constructed(
            0x30,
            [
                BERWriter.integer(version), BERWriter.octets(community),
                self.encodePDU(0xA2, requestID: requestID, error: error, index: index, bindings: bindings),
            ],
            ad: false
        )
    }

    static func encodePDU(
        _ tag: UInt8,
        requestID: Int,
        error: Int,
        index: Int,
        bindings: [(OID, SNMPValue)]
    )
        -> [UInt8]
    {
        let list = bindings.map {
            BERWriter.constructed(0x30, [BERWriter.element(0x06, $0.0.encoded), $0.1.encoded], ad: false)
        }
        return BERWriter.constructed(
            tag,
            [
                BERWriter.integer(requestID), BERWriter.integer(error), BERWriter.integer(index),
                BERWriter.constructed(0x30, list, ad: false),
            ],
            ad: false
        )
    }
}
