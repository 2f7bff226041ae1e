/// One header of a SIP message: its name folded to the full lower-case form (compact `v` is `via`, RFC 3261
/// §7.3.3) and its value as sent, without the whitespace around it.
struct SIPHeader: Equatable, Sendable {
    var name: String
    var value: String
}

/// A SIP request as a server reads it (RFC 3261 §7.1): start line, headers, body.
struct SIPRequest: Equatable, Sendable {
    var method: String
    var uri: String
    /// The version as sent (`SIP/2.0`).
    var version: String
    var headers: [SIPHeader]
    var body: [UInt8]
    /// What makes the request one a server answers `400 Bad Request` (a header line without a colon, a bad
    /// Content-Length); nil for a well-formed one.
    var defect: String?

    /// Every value of a header (full lower-case name), in order.
    func values(_ name: String) -> [String] { self.headers.filter { $0.name == name }.map(\.value) }

    /// The first value of a header (full lower-case name).
    func first(_ name: String) -> String? { self.headers.first { $0.name == name }?.value }
}

/// What a datagram or a framed stream message turned out to be.
enum SIPParsed: Equatable, Sendable {
    case request(SIPRequest)
    /// A response (`SIP/2.0 200 OK`): a server that sent no request drops it.
    case response(status: String)
    /// Only CR and LF: a NAT keepalive (RFC 5626 §3.5.1), which needs no answer.
    case keepalive
    /// Not SIP at all, or past a limit: no answer can be built.
    case malformed(String)
}

/// SIP's text syntax (RFC 3261 §7 and §25), bounded: what a server reads of a message before it answers.
enum SIPParser {
    /// Largest header section read (chan_sip reads 4 KB per line and drops far longer messages).
    static let maximumHeaderBytes = 16 << 10
    /// Most header lines kept (chan_sip's SIP_MAX_HEADERS is 64); the rest are ignored.
    static let maximumHeaders = 128
    /// Largest body kept (an SDP offer is a few hundred bytes).
    static let maximumBody = 32 << 10

    /// RFC 3261 §7.3.3 and the later RFCs' compact forms, as chan_sip's alias table lists them.
    static let compactForms: [String: String] = [
        "c": "content-type", "e": "content-encoding", "f": "from", "i": "call-id", "m": "contact",
        "l": "content-length", "s": "subject", "t": "to", "k": "supported", "r": "refer-to", "b": "referred-by",
        "u": "allow-events", "o": "event", "v": "via", "a": "accept-contact", "j": "reject-contact",
        "d": "request-disposition", "x": "session-expires", "y": "identity", "n": "identity-info",
    ]

    /// Where the header section ends: the index of the blank line's first byte and the body's first byte.
    /// Accepts CRLF and bare LF line ends (RFC 3261 §7.5 asks servers to be lenient).
    static func headerEnd(_ bytes: some Collection<UInt8>) -> (end: Int, body: Int)? {
        let array = Array(bytes.prefix(self.maximumHeaderBytes + 4))
        var index = 0
        while index < array.count {
            if array[index] == 0x0A {
                // The header section ends before the last line's CR, if it has one.
                let end = index > 0 && array[index - 1] == 0x0D ? index - 1 : index
                if index + 1 < array.count && array[index + 1] == 0x0A { return (end, index + 2) }
                if index + 2 < array.count && array[index + 1] == 0x0D && array[index + 2] == 0x0A {
                    return (end, index + 3)
                }
            }
            index += 1
        }
        return nil
    }

    /// The Content-Length a header section declares: nil when there is none, `.invalid` when it is not a
    /// decimal number of at most nine digits (repeated headers must agree).
    static func contentLength(in headers: [SIPHeader]) -> ContentLength {
        let values = headers.filter { $0.name == "content-length" }.map(\.value)
        guard let first = values.first else { return .absent }
        guard values.allSatisfy({ $0 == first }), !first.isEmpty, first.count <= 9,
            first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(first)
        else { return .invalid(first) }
        return .length(length)
    }

    enum ContentLength: Equatable {
        case absent
        case length(Int)
        case invalid(String)
    }

    /// Parses a datagram (`stream` false: the body is the rest of it) or a stream message already framed by its
    /// Content-Length.
    static func parse(_ bytes: [UInt8], stream: Bool = false) -> SIPParsed {
        var start = 0
        while start < bytes.count && (bytes[start] == 0x0D || bytes[start] == 0x0A) { start += 1 }
        if start == bytes.count { return .keepalive }
        let message = bytes[start...]
        guard let (end, bodyStart) = self.headerEnd(message) else {
            // A datagram whose header section never ends is still read up to its last line (RFC 3261 §18.3
            // only bounds the body); past the limit it is dropped.
            if message.count > self.maximumHeaderBytes { return .malformed("header section over 16384 bytes") }
            return self.parse(head: Array(message), body: [], stream: stream, ended: false)
        }
        let head = Array(message.prefix(end))
        let body = Array(message.dropFirst(bodyStart))
        return self.parse(head: head, body: body, stream: stream, ended: true)
    }

    /// The start line and headers of a header section (without its blank line), folded lines joined; `defect`
    /// names the first line a server would refuse.
    static func headerSection(
        _ head: [UInt8],
        ended: Bool = true
    ) -> (start: String, headers: [SIPHeader], defect: String?) {
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line -> [UInt8] in
            line.last == 0x0D ? Array(line.dropLast()) : Array(line)
        }
        if !ended, lines.last?.isEmpty == true { lines.removeLast() }
        let start = lines.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        var headers: [SIPHeader] = []
        var defect: String?
        for line in lines.dropFirst() {
            if let first = line.first, first == 0x20 || first == 0x09 {
                // A folded line continues the previous header (RFC 3261 §7.3.1).
                if !headers.isEmpty {
                    headers[headers.count - 1].value += " " + self.trimmed(String(decoding: line, as: UTF8.self))
                }
                continue
            }
            guard let colon = line.firstIndex(of: 0x3A) else {
                if defect == nil && !line.isEmpty { defect = "header line without a colon" }
                continue
            }
            guard headers.count < self.maximumHeaders else { continue }
            let name = self.trimmed(String(decoding: line[..<colon], as: UTF8.self)).lowercased()
            let value = self.trimmed(String(decoding: line[(colon + 1)...], as: UTF8.self))
            headers.append(SIPHeader(name: self.compactForms[name] ?? name, value: value))
        }
        return (start, headers, defect)
    }

    /// Whether a start line is a request line (`METHOD uri SIP/x.y`) or a status line.
    static func isSIPStartLine(_ line: String) -> Bool {
        if line.uppercased().hasPrefix("SIP/") { return true }
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count == 3 && !parts[0].isEmpty && parts[0].utf8.allSatisfy(self.isTokenByte)
            && !parts[1].isEmpty && parts[2].uppercased().hasPrefix("SIP/")
    }

    private static func parse(head: [UInt8], body: [UInt8], stream: Bool, ended: Bool) -> SIPParsed {
        let (startLine, headers, defect) = self.headerSection(head, ended: ended)
        guard !startLine.isEmpty else { return .malformed("empty message") }
        let parts = startLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        if startLine.uppercased().hasPrefix("SIP/") {
            return parts.count >= 2 ? .response(status: String(parts[1])) : .malformed("response without a status")
        }
        guard self.isSIPStartLine(startLine) else { return .malformed("not a SIP request line") }
        var request = SIPRequest(
            method: String(parts[0]),
            uri: String(parts[1]),
            version: String(parts[2]),
            headers: headers,
            body: [],
            defect: defect
        )
        switch self.contentLength(in: request.headers) {
        case .absent:
            request.body = stream ? [] : Array(body.prefix(self.maximumBody))
        case .length(let length):
            if length > body.count {
                // RFC 3261 §18.3: a datagram shorter than its Content-Length gets 400.
                if request.defect == nil { request.defect = "Content-Length \(length) beyond the message" }
                request.body = Array(body.prefix(self.maximumBody))
            } else {
                request.body = Array(body.prefix(min(length, self.maximumBody)))
            }
        case .invalid(let text):
            if request.defect == nil { request.defect = "invalid Content-Length \(text.prefix(32))" }
            request.body = Array(body.prefix(self.maximumBody))
        }
        return .request(request)
    }

    /// RFC 3261 §25.1 token characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"), UInt8(ascii: "*"),
            UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(text[first...last])
    }
}

/// The addresses SIP headers carry: name-addr or addr-spec (`"Bob" <sip:100@pbx>;tag=1`, `sip:100@pbx`).
enum SIPAddress {
    /// The URI of a From/To/Contact value: inside `<>` when present, else up to the first `;`.
    static func uri(_ value: String) -> String {
        if let open = value.firstIndex(of: "<") {
            let rest = value[value.index(after: open)...]
            return String(rest.prefix { $0 != ">" })
        }
        return SIPParser.trimmed(value.prefix { $0 != ";" })
    }

    /// The user part of a SIP URI (`100` of `sip:100:pw@pbx;transport=udp`), nil without one.
    static func user(ofURI uri: String) -> String? {
        var rest = Substring(uri)
        if let colon = rest.firstIndex(of: ":") {
            let scheme = rest[..<colon].lowercased()
            if scheme == "sip" || scheme == "sips" || scheme == "tel" { rest = rest[rest.index(after: colon)...] }
        }
        if uri.lowercased().hasPrefix("tel:") {
            let number = rest.prefix { $0 != ";" }
            return number.isEmpty ? nil : String(number)
        }
        guard let at = rest.lastIndex(of: "@") else { return nil }
        let user = rest[..<at].prefix { $0 != ":" && $0 != ";" }
        return user.isEmpty ? nil : String(user)
    }

    /// The user of a From/To value.
    static func user(_ value: String) -> String? { self.user(ofURI: self.uri(value)) }

    /// The host (and port) of a SIP URI: `pbx:5060` of `sip:100@pbx:5060;transport=tcp`.
    static func host(ofURI uri: String) -> String {
        var rest = Substring(uri)
        if let at = rest.lastIndex(of: "@") {
            rest = rest[rest.index(after: at)...]
        } else if let colon = rest.firstIndex(of: ":") {
            rest = rest[rest.index(after: colon)...]
        }
        return String(rest.prefix { $0 != ";" && $0 != "?" && $0 != ">" })
    }

    /// A header parameter (`tag` of `<sip:a@b>;tag=1`), looked up after the URI; nil when absent.
    static func parameter(_ name: String, in value: String) -> String? {
        let after: Substring
        if let close = value.lastIndex(of: ">") {
            after = value[value.index(after: close)...]
        } else {
            after = value.drop { $0 != ";" }
        }
        for part in after.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard let key = pair.first, SIPParser.trimmed(key).lowercased() == name else { continue }
            return pair.count == 2 ? SIPParser.trimmed(pair[1]) : ""
        }
        return nil
    }
}

/// The Via header (RFC 3261 §18.2.2, RFC 3581): what a server writes back in the topmost one.
enum SIPVia {
    /// The sent-by host and port of a Via value (`SIP/2.0/UDP 10.0.0.5:5062;branch=…`), port nil when absent.
    static func sentBy(_ value: some StringProtocol) -> (host: String, port: Int?) {
        let head = value.prefix { $0 != ";" && $0 != "," }
        let fields = head.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2 else { return ("", nil) }
        let hostPort = fields.count == 2 ? String(fields[1]) : fields[1...].joined()
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            let host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            return (host, after.hasPrefix(":") ? Int(after.dropFirst()) : nil)
        }
        let pieces = hostPort.split(separator: ":", maxSplits: 1)
        return (pieces.first.map(String.init) ?? "", pieces.count == 2 ? Int(pieces[1]) : nil)
    }

    /// The topmost Via value as chan_sip writes it into a response: `;received=` always, and `;rport=` filled in
    /// when the client asked for it (a bare `;rport`) or its sent-by is not where the request came from (the
    /// default `nat=auto_force_rport`). Other Via values in the same header are kept as they are.
    static func answered(_ value: String, source ip: String, port: Int) -> String {
        let comma = value.firstIndex(of: ",")
        let leftmost = value[..<(comma ?? value.endIndex)]
        let params = leftmost.split(separator: ";", omittingEmptySubsequences: false)
        let bareRport = params.dropFirst().contains { Self.parameter($0, is: "rport", bare: true) }
        let (host, sentPort) = self.sentBy(leftmost)
        let behindNAT = host != ip || (sentPort ?? 5060) != port
        var answer: String
        if bareRport || behindNAT {
            answer = String(params[0])
            for param in params.dropFirst()
            where !Self.parameter(param, is: "rport", bare: false)
                && !Self.parameter(param, is: "received", bare: false)
            {
                answer += ";"
                answer += param
            }
            answer += ";received=" + ip + ";rport=" + String(port)
        } else {
            answer = leftmost + ";received=" + ip
        }
        if let comma { answer += value[comma...] }
        return answer
    }

    /// Whether a Via parameter (`rport`, ` Received=1.2.3.4`) is named `name` (lower case), spaces and tabs around
    /// the name and case aside; `bare`: and has no value.
    static func parameter(_ parameter: Substring, is name: String, bare: Bool) -> Bool {
        let bytes = parameter.utf8
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        var start = bytes.startIndex
        while start < bytes.endIndex, isSpace(bytes[start]) { start = bytes.index(after: start) }
        var end = bare ? bytes.endIndex : (bytes[start...].firstIndex(of: UInt8(ascii: "=")) ?? bytes.endIndex)
        while end > start, isSpace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        let found = bytes[start..<end]
        guard found.count == name.utf8.count else { return false }
        // ASCII case folding: a letter's lower case differs in bit 0x20 only.
        return zip(found, name.utf8).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
    }
}
