import Foundation

/// Who a request is, as the API server's authenticator chain decides it: a bearer token (accepted by the persona,
/// else 401), a client certificate (never signed by this cluster's CA, so 401 unless a token wins), Basic
/// credentials (ignored since 1.19, so the request is anonymous), nothing (anonymous), or the legacy insecure
/// port (no authentication at all).
enum K8sIdentity: Equatable, Sendable {
    case anonymous
    case user(name: String, groups: [String])
    case insecure
    /// Authentication failed: 401.
    case rejected

    var name: String {
        switch self {
        case .anonymous: "system:anonymous"
        case .user(let name, _): name
        case .insecure: "system:unsecured"
        case .rejected: ""
        }
    }

    var groups: [String] {
        switch self {
        case .anonymous: ["system:unauthenticated"]
        case .user(_, let groups): groups
        case .insecure: ["system:masters", "system:authenticated"]
        case .rejected: []
        }
    }
}

/// The `k8s_tokens` persona key: bearer tokens the cluster accepts, `token` or `token=user`, comma-separated;
/// `*` accepts any token. An accepted service-account JWT is that service account.
struct K8sTokens: Sendable, Equatable {
    var tokens: [String: String] = [:]
    var acceptsAny = false

    init(_ text: String?) {
        for item in (text ?? "").split(separator: ",") {
            let entry = item.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { continue }
            if entry == "*" {
                self.acceptsAny = true
                continue
            }
            let parts = entry.split(separator: "=", maxSplits: 1)
            self.tokens[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
    }

    /// The user an accepted token authenticates as, or nil.
    func user(for token: String, claims: K8sJWT?) -> (name: String, groups: [String])? {
        guard let named = self.tokens[token] ?? (self.acceptsAny ? "" : nil) else { return nil }
        if let subject = claims?.subject, subject.hasPrefix("system:serviceaccount:") {
            let namespace = subject.split(separator: ":").dropFirst(2).first.map(String.init) ?? "default"
            return (
                subject,
                ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"]
            )
        }
        let name = named.isEmpty ? (claims?.subject ?? "kubernetes-admin") : named
        let admins = name == "kubernetes-admin" ? ["kubeadm:cluster-admins"] : []
        return (name, admins + ["system:authenticated"])
    }
}

/// The claims of a JSON Web Token as a stolen service-account token carries them, decoded without checking the
/// signature (it is only recorded). Garbage gives nil.
struct K8sJWT: Sendable, Equatable {
    var algorithm: String?
    var keyID: String?
    var issuer: String?
    var subject: String?
    var audience: [String] = []
    var expires: Int?
    var issuedAt: Int?
    /// Bound tokens: `kubernetes.io.namespace`, legacy secrets: `kubernetes.io/serviceaccount/namespace`.
    var namespace: String?
    var serviceAccount: String?
    var pod: String?

    static let maximumLength = 16 * 1024

    init?(_ token: String) {
        guard token.utf8.count <= Self.maximumLength else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.object(parts[0]), let claims = Self.object(parts[1]) else {
            return nil
        }
        self.algorithm = header["alg"]?.stringValue
        self.keyID = header["kid"]?.stringValue
        self.issuer = claims["iss"]?.stringValue
        self.subject = claims["sub"]?.stringValue
        switch claims["aud"] {
        case .string(let single): self.audience = [single]
        case .array(let list): self.audience = list.compactMap(\.stringValue).prefix(16).map { $0 }
        default: break
        }
        self.expires = Self.number(claims["exp"])
        self.issuedAt = Self.number(claims["iat"])
        if let bound = claims["kubernetes.io"] {
            self.namespace = bound["namespace"]?.stringValue
            self.serviceAccount = bound["serviceaccount"]?["name"]?.stringValue
            self.pod = bound["pod"]?["name"]?.stringValue
        } else {
            self.namespace = claims["kubernetes.io/serviceaccount/namespace"]?.stringValue
            self.serviceAccount = claims["kubernetes.io/serviceaccount/service-account.name"]?.stringValue
        }
        // A JWT must at least say who issued it or whom it names.
        guard self.issuer != nil || self.subject != nil || self.algorithm != nil else { return nil }
    }

    private static func number(_ value: K8sJSON?) -> Int? {
        switch value {
        case .int(let number): number
        case .double(let number) where number.isFinite && abs(number) < 1e15: Int(number)
        default: nil
        }
    }

    private static func object(_ part: Substring) -> K8sJSON? {
        guard let bytes = base64URL(part), let value = K8sJSON.parse(bytes), case .object = value else { return nil }
        return value
    }

    /// Base64url without padding (RFC 7515 §2); standard alphabet and padding tolerated.
    static func base64URL(_ text: Substring) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard = standard.trimmingCharacters(in: CharacterSet(charactersIn: "="))
        guard standard.count % 4 != 1 else { return nil }
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map { Array($0) }
    }
}

/// What a request's `Authorization` header carries.
enum K8sCredential: Equatable, Sendable {
    case none
    case bearer(String)
    case basic(user: String, password: String)
    /// A scheme the server ignores (Negotiate, Digest …), or a malformed header.
    case other(String)

    /// Parsed as the API server's bearer authenticator reads it: `Bearer` (any case), one space, a non-empty
    /// token; an empty token counts as no credential.
    init(header: String?) {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty else {
            self = .none
            return
        }
        let parts = header.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        let scheme = parts[0].lowercased()
        if scheme == "bearer" {
            let token = parts.count > 1 ? String(parts[1]) : ""
            self = token.isEmpty ? .none : .bearer(token)
        } else if scheme == "basic", parts.count > 1, let decoded = Data(base64Encoded: String(parts[1])) {
            let text = String(decoding: decoded, as: UTF8.self)
            let pair = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            self = .basic(user: String(pair[0]), password: pair.count > 1 ? String(pair[1]) : "")
        } else {
            self = .other(String(header.prefix(256)))
        }
    }
}
