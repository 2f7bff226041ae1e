import Crypto
import DecnetCore

/// HTTP Digest as SIP uses it (RFC 3261 §22.4, RFC 2617 §3.2, RFC 7616 §3.4): the credentials a client sends
/// in Authorization or Proxy-Authorization, checked against a password and written as the line hashcat cracks
/// offline (mode 11400, "SIP digest authentication (MD5)").
struct SIPDigest: Equatable, Sendable {
    var username: String
    var realm: String
    var nonce: String
    var uri: String
    var response: String
    var algorithm: String?
    var cnonce: String?
    var nc: String?
    var qop: String?
    var opaque: String?

    /// Most parameters read, and longest value kept: a credential is a handful of short fields.
    static let maximumParameters = 32
    static let maximumValue = 1024

    /// Reads `Digest username="…", realm="…", …`; nil for another scheme or without the fields every digest
    /// has (username, nonce, uri, response).
    init?(header: String) {
        let text = SIPParser.trimmed(header)
        guard text.count > 6, text.prefix(6).lowercased() == "digest", text.dropFirst(6).first?.isWhitespace == true
        else { return nil }
        let parameters = Self.parameters(text.dropFirst(7))
        guard let username = parameters["username"], let nonce = parameters["nonce"], let uri = parameters["uri"],
            let response = parameters["response"]
        else { return nil }
        self.username = username
        self.realm = parameters["realm"] ?? ""
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = parameters["algorithm"]
        self.cnonce = parameters["cnonce"]
        self.nc = parameters["nc"]
        self.qop = parameters["qop"]
        self.opaque = parameters["opaque"]
    }

    /// `name=token` and `name="quoted"` pairs separated by commas (RFC 7235 auth-param), names folded to lower
    /// case; the first of a repeated name wins.
    static func parameters(_ text: Substring) -> [String: String] {
        var result: [String: String] = [:]
        var rest = text[...]
        var count = 0
        while count < self.maximumParameters {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "," }
            guard !rest.isEmpty else { break }
            let name = rest.prefix { $0 != "=" && $0 != "," }
            rest = rest.dropFirst(name.count)
            var value = ""
            if rest.first == "=" {
                rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
                if rest.first == "\"" {
                    rest = rest.dropFirst()
                    var escaped = false
                    while let character = rest.first {
                        rest = rest.dropFirst()
                        if escaped {
                            value.append(character)
                            escaped = false
                        } else if character == "\\" {
                            escaped = true
                        } else if character == "\"" {
                            break
                        } else {
                            value.append(character)
                        }
                    }
                } else {
                    let token = rest.prefix { $0 != "," && $0 != " " && $0 != "\t" }
                    value = String(token)
                    rest = rest.dropFirst(token.count)
                }
            }
            let key = SIPParser.trimmed(name).lowercased()
            if !key.isEmpty && result[key] == nil { result[key] = String(value.prefix(self.maximumValue)) }
            count += 1
        }
        return result
    }

    /// Whether the response uses RFC 2617's qop form (`qop` with `cnonce` and `nc`), or RFC 2069's (nonce only).
    var usesQop: Bool {
        guard let qop = self.qop?.lowercased(), qop == "auth" || qop == "auth-int" else { return false }
        return self.cnonce != nil && self.nc != nil
    }

    /// The response a client knowing `password` sends for `method`, with this digest's own fields.
    func expectedResponse(password: String, method: String, realm: String? = nil) -> String {
        var ha1 = Self.md5Hex("\(self.username):\(realm ?? self.realm):\(password)")
        if self.algorithm?.lowercased() == "md5-sess" {
            ha1 = Self.md5Hex("\(ha1):\(self.nonce):\(self.cnonce ?? "")")
        }
        let ha2 = Self.md5Hex("\(method):\(self.uri)")
        guard self.usesQop, let nc = self.nc, let cnonce = self.cnonce, let qop = self.qop else {
            return Self.md5Hex("\(ha1):\(self.nonce):\(ha2)")
        }
        return Self.md5Hex("\(ha1):\(self.nonce):\(nc):\(cnonce):\(qop):\(ha2)")
    }

    /// Whether the digest proves `password` (response compared without regard to case, as servers do).
    func proves(password: String, method: String, realm: String? = nil) -> Bool {
        self.response.lowercased() == self.expectedResponse(password: password, method: method, realm: realm)
    }

    /// The hashcat `-m 11400` line: `$sip$*server*client*user*realm*method*uri-prefix*uri-resource*uri-suffix*
    /// nonce*cnonce*nc*qop*MD5*response`. hashcat rebuilds HA2 as `method:prefix:resource`, so the URI is split
    /// at its first colon. Nil when hashcat cannot take it: another algorithm, a `*` in a field, a field past
    /// hashcat's lengths, or a response that is not 32 hex digits.
    func hashcatLine(method: String, server: String, client: String) -> String? {
        guard self.algorithm == nil || self.algorithm?.lowercased() == "md5", self.qop?.lowercased() != "auth-int"
        else { return nil }
        let response = self.response.lowercased()
        guard response.count == 32, response.allSatisfy({ $0.isHexDigit }) else { return nil }
        let prefix: String
        let resource: String
        if let colon = self.uri.firstIndex(of: ":") {
            prefix = String(self.uri[..<colon])
            resource = String(self.uri[self.uri.index(after: colon)...])
        } else {
            prefix = ""
            resource = self.uri
        }
        let qop = self.usesQop ? self.qop ?? "" : ""
        let cnonce = self.usesQop ? self.cnonce ?? "" : ""
        let nc = self.usesQop ? self.nc ?? "" : ""
        let fields = [
            server, client, self.username, self.realm, method, prefix, resource, "", self.nonce, cnonce, nc, qop,
        ]
        guard !fields.contains(where: { $0.contains("*") || $0.contains("\n") || $0.contains("\r") }),
            self.username.utf8.count + self.realm.utf8.count + 2 <= 119, method.utf8.count <= 246,
            prefix.utf8.count <= 245, !resource.isEmpty, resource.utf8.count <= 246,
            method.utf8.count + prefix.utf8.count + resource.utf8.count + 2 < 256,
            !self.nonce.isEmpty, self.nonce.utf8.count <= 1024, server.utf8.count <= 512, client.utf8.count <= 512
        else { return nil }
        return "$sip$*" + fields.joined(separator: "*") + "*MD5*" + response
    }

    static func md5Hex(_ text: String) -> String {
        Hex.lowercase(Insecure.MD5.hash(data: Array(text.utf8)))
    }
}
