import DecnetServiceKit
import NIOCore
import SwiftASN1

/// One LDAPMessage (RFC 4511 §4.1.1) as the decoder frames it: the whole BER SEQUENCE.
public enum LDAPInbound: Equatable, Sendable {
    case message([UInt8])
    /// Framing no client sends (not a SEQUENCE, a length beyond the limit); the server closes.
    case invalid(String, [UInt8])
}

/// Frames BER SEQUENCEs, with short, long and indefinite-free lengths of up to four bytes (nmap and AD write
/// `0x84` lengths).
struct LDAPMessageDecoder: DropsIncompleteMessageAtEOF {
    typealias InboundOut = LDAPInbound

    static let maximumMessage = 1 << 18

    private var failed = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if self.failed {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let head = buffer.getBytes(at: buffer.readerIndex, length: min(6, buffer.readableBytes)), head.count >= 2
        else { return .needMoreData }
        let problem: String?
        var length = 0
        if head[0] != 0x30 {
            problem = "not a BER SEQUENCE (0x\(String(head[0], radix: 16)))"
        } else if head[1] < 0x80 {
            length = 2 + Int(head[1])
            problem = nil
        } else if (0x81...0x84).contains(head[1]) {
            let count = Int(head[1] & 0x7F)
            guard head.count >= 2 + count else { return .needMoreData }
            length = 2 + count + head[2..<(2 + count)].reduce(0) { $0 << 8 | Int($1) }
            problem = length > Self.maximumMessage ? "LDAP message of \(length) bytes" : nil
        } else {
            problem = "BER length form 0x\(String(head[1], radix: 16))"
        }
        if let problem {
            self.failed = true
            let preview = buffer.discardReadable()
            context.fireChannelRead(Self.wrapInboundOut(.invalid(problem, preview)))
            return .needMoreData
        }
        guard buffer.readableBytes >= length else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(.message(buffer.readBytes(length: length)!)))
        return .continue
    }
}

/// A BER writer in Active Directory's style: constructed elements with four-byte (`0x84`) lengths, primitives with
/// the shortest length. SwiftASN1 writes DER only, and nmap's AD signatures need AD's long lengths.
enum BERWriter {
    static func element(_ tag: UInt8, _ content: [UInt8], longLength: Bool = false) -> [UInt8] {
        var out = [tag]
        if longLength {
            out += [
                0x84, UInt8(truncatingIfNeeded: content.count >> 24), UInt8(truncatingIfNeeded: content.count >> 16),
                UInt8(truncatingIfNeeded: content.count >> 8), UInt8(truncatingIfNeeded: content.count),
            ]
        } else if content.count < 0x80 {
            out.append(UInt8(content.count))
        } else if content.count < 0x100 {
            out += [0x81, UInt8(content.count)]
        } else {
            out += [0x82, UInt8(truncatingIfNeeded: content.count >> 8), UInt8(truncatingIfNeeded: content.count)]
        }
        return out + content
    }

    static func constructed(_ tag: UInt8, _ parts: [[UInt8]], ad: Bool) -> [UInt8] {
        self.element(tag, parts.flatMap { $0 }, longLength: ad)
    }

    static func integer(_ value: Int, tag: UInt8 = 0x02) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = value
        repeat {
            bytes.insert(UInt8(truncatingIfNeeded: rest), at: 0)
            rest >>= 8
        } while rest != 0 && rest != -1
        if value >= 0, bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        if value < 0, bytes[0] & 0x80 == 0 { bytes.insert(0xFF, at: 0) }
        return self.element(tag, bytes)
    }

    static func string(_ text: String, tag: UInt8 = 0x04) -> [UInt8] { self.element(tag, Array(text.utf8)) }
    static func octets(_ bytes: [UInt8], tag: UInt8 = 0x04) -> [UInt8] { self.element(tag, bytes) }
}

/// LDAP's protocol operations as the emulator reads them (RFC 4511 §4.2–4.14, and AD's Sicily binds).
enum LDAPRequest: Equatable {
    enum Authentication: Equatable {
        case simple([UInt8])
        case sasl(mechanism: String, credentials: [UInt8]?)
        case sicilyDiscovery
        case sicilyNegotiate([UInt8])
        case sicilyResponse([UInt8])
        case other(UInt)
    }

    /// A SearchRequest: what the emulator needs to answer it from the directory.
    struct Search: Equatable {
        var base: String
        var scope: Int
        var sizeLimit: Int
        var typesOnly: Bool
        /// RFC 4515's string form, for the event.
        var filter: String
        var tree: LDAPFilter
        var attributes: [String]
        /// The simple paged results control (1.2.840.113556.1.4.319): page size and cookie.
        var paged: (size: Int, cookie: [UInt8])?

        static func == (lhs: Search, rhs: Search) -> Bool {
            lhs.base == rhs.base && lhs.scope == rhs.scope && lhs.sizeLimit == rhs.sizeLimit
                && lhs.typesOnly == rhs.typesOnly && lhs.filter == rhs.filter && lhs.tree == rhs.tree
                && lhs.attributes == rhs.attributes && lhs.paged?.size == rhs.paged?.size
                && lhs.paged?.cookie == rhs.paged?.cookie
        }
    }

    case bind(version: Int, name: String, authentication: Authentication)
    case search(Search)
    case unbind
    case abandon
    case extended(name: String)
    case other(tag: UInt)
}

enum LDAP {
    /// Reads an LDAPMessage: its message id and operation; nil when it is not one.
    static func parse(_ bytes: [UInt8]) -> (id: Int, request: LDAPRequest)? {
        guard let root = try? BER.parse(bytes), root.identifier == .sequence else { return nil }
        let parts = SPNEGO.children(root)
        guard parts.count >= 2, let id = try? Int(derEncoded: parts[0]) else {
            return nil
        }
        let operation = parts[1]
        guard operation.identifier.tagClass == .application else { return nil }
        switch operation.identifier.tagNumber {
        case 0:
            let fields = SPNEGO.children(operation)
            guard fields.count >= 3 else { return nil }
            let version = (try? Int(derEncoded: fields[0])) ?? 0
            let name = Self.text(fields[1]) ?? ""
            let credential = fields[2]
            let authentication: LDAPRequest.Authentication
            switch (credential.identifier.tagClass, credential.identifier.tagNumber) {
            case (.contextSpecific, 0): authentication = .simple(Self.bytes(credential) ?? [])
            case (.contextSpecific, 3):
                let sasl = SPNEGO.children(credential)
                authentication = .sasl(
                    mechanism: sasl.first.flatMap(Self.text) ?? "",
                    credentials: sasl.count > 1 ? Self.bytes(sasl[1]) : nil
                )
            case (.contextSpecific, 9): authentication = .sicilyDiscovery
            case (.contextSpecific, 10): authentication = .sicilyNegotiate(Self.bytes(credential) ?? [])
            case (.contextSpecific, 11): authentication = .sicilyResponse(Self.bytes(credential) ?? [])
            default: authentication = .other(credential.identifier.tagNumber)
            }
            return (id, .bind(version: version, name: name, authentication: authentication))
        case 2:
            return (id, .unbind)
        case 3:
            let fields = SPNEGO.children(operation)
            guard fields.count >= 8 else { return nil }
            let scope = (try? Int(derEncoded: fields[1], withIdentifier: .enumerated)) ?? 0
            let attributes = SPNEGO.children(fields[7]).compactMap(Self.text)
            var paged: (Int, [UInt8])?
            if parts.count > 2, parts[2].identifier == .contextSpecific(0) {
                for control in SPNEGO.children(parts[2]) {
                    let pieces = SPNEGO.children(control)
                    guard pieces.first.flatMap(Self.text) == "1.2.840.113556.1.4.319",
                        let value = pieces.last.flatMap(Self.bytes), let inner = try? BER.parse(value)
                    else { continue }
                    let items = SPNEGO.children(inner)
                    guard items.count == 2, let size = try? Int(derEncoded: items[0]) else { continue }
                    paged = (size, Self.bytes(items[1]) ?? [])
                }
            }
            return (
                id,
                .search(
                    LDAPRequest.Search(
                        base: Self.text(fields[0]) ?? "",
                        scope: scope,
                        sizeLimit: (try? Int(derEncoded: fields[3])) ?? 0,
                        typesOnly: Self.bytes(fields[5]) == [0xFF] || Self.bytes(fields[5]) == [0x01],
                        filter: Self.filter(fields[6]),
                        tree: Self.filterTree(fields[6]),
                        attributes: attributes,
                        paged: paged
                    )
                )
            )
        case 16:
            return (id, .abandon)
        case 23:
            let name = SPNEGO.children(operation).first.flatMap(Self.text) ?? ""
            return (id, .extended(name: name))
        default:
            return (id, .other(tag: operation.identifier.tagNumber))
        }
    }

    static func bytes(_ node: ASN1Node) -> [UInt8]? {
        if case .primitive(let bytes) = node.content { return Array(bytes) }
        return nil
    }

    static func text(_ node: ASN1Node) -> String? { self.bytes(node).map { String(decoding: $0, as: UTF8.self) } }

    /// A filter in RFC 4515's string form, for the event (enough of it to read what was asked).
    static func filter(_ node: ASN1Node, depth: Int = 0) -> String {
        guard depth < 16 else { return "…" }
        let children = SPNEGO.children(node)
        switch (node.identifier.tagClass, node.identifier.tagNumber) {
        case (.contextSpecific, 0): return "(&" + children.map { self.filter($0, depth: depth + 1) }.joined() + ")"
        case (.contextSpecific, 1): return "(|" + children.map { self.filter($0, depth: depth + 1) }.joined() + ")"
        case (.contextSpecific, 2): return "(!" + children.map { self.filter($0, depth: depth + 1) }.joined() + ")"
        case (.contextSpecific, 3), (.contextSpecific, 5), (.contextSpecific, 6), (.contextSpecific, 8):
            let operators: [UInt: String] = [3: "=", 5: ">=", 6: "<=", 8: "~="]
            let parts = children.compactMap(self.text)
            return "(" + (parts.first ?? "") + (operators[node.identifier.tagNumber] ?? "=")
                + (parts.dropFirst().first ?? "") + ")"
        case (.contextSpecific, 4):
            let parts = children
            let type = parts.first.flatMap(self.text) ?? ""
            let pieces = parts.count > 1 ? SPNEGO.children(parts[1]).compactMap(self.text) : []
            return "(" + type + "=*" + pieces.joined(separator: "*") + "*)"
        case (.contextSpecific, 7): return "(" + (self.text(node) ?? "") + "=*)"
        case (.contextSpecific, 9):
            var rule = "", type = "", value = ""
            for child in children {
                switch child.identifier.tagNumber {
                case 1: rule = self.text(child) ?? ""
                case 2: type = self.text(child) ?? ""
                case 3: value = self.text(child) ?? ""
                default: break
                }
            }
            return "(" + type + (rule.isEmpty ? "" : ":" + rule) + ":=" + value + ")"
        default: return "(?)"
        }
    }

    /// A filter as a tree the directory evaluates; choices it does not know are Undefined (they match nothing).
    static func filterTree(_ node: ASN1Node, depth: Int = 0) -> LDAPFilter {
        guard depth < 32, node.identifier.tagClass == .contextSpecific else { return .undefined }
        let children = SPNEGO.children(node)
        func pair() -> (String, [UInt8])? {
            guard children.count == 2, let name = self.text(children[0]), let value = self.bytes(children[1]) else {
                return nil
            }
            return (name, value)
        }
        switch node.identifier.tagNumber {
        case 0: return .and(children.map { self.filterTree($0, depth: depth + 1) })
        case 1: return .or(children.map { self.filterTree($0, depth: depth + 1) })
        case 2: return children.first.map { .not(self.filterTree($0, depth: depth + 1)) } ?? .undefined
        case 3: return pair().map { .equal($0.0, $0.1) } ?? .undefined
        case 5: return pair().map { .greaterOrEqual($0.0, $0.1) } ?? .undefined
        case 6: return pair().map { .lessOrEqual($0.0, $0.1) } ?? .undefined
        case 8: return pair().map { .approximate($0.0, $0.1) } ?? .undefined
        case 7: return self.text(node).map { .present($0) } ?? .undefined
        case 4:
            guard children.count == 2, let name = self.text(children[0]) else { return .undefined }
            var initial: [UInt8]?, final: [UInt8]?, any: [[UInt8]] = []
            for piece in SPNEGO.children(children[1]) {
                guard let bytes = self.bytes(piece) else { continue }
                switch piece.identifier.tagNumber {
                case 0: initial = bytes
                case 2: final = bytes
                default: any.append(bytes)
                }
            }
            return .substrings(name, initial: initial, any: any, final: final)
        case 9:
            var rule = "", type = "", value: [UInt8] = []
            for child in children {
                switch child.identifier.tagNumber {
                case 1: rule = self.text(child) ?? ""
                case 2: type = self.text(child) ?? ""
                case 3: value = self.bytes(child) ?? []
                default: break
                }
            }
            return type.isEmpty ? .undefined : .extensible(type, rule: rule, value)
        default: return .undefined
        }
    }
}
