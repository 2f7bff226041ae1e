/// The `users` persona key (`root:toor,admin:admin123`): the logins a service accepts. Everything else fails,
/// and every attempt is recorded either way.
public struct AcceptedCredentials: Sendable, Equatable {
    public let pairs: [(user: String, password: String)]

    public init(_ text: String?) {
        self.pairs = (text ?? "").split(separator: ",").compactMap { pair in
            let parts = pair.trimmingWhitespace().split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }

    /// Whether this user and password log in (`*` as password accepts any).
    public func accepts(user: String, password: String) -> Bool {
        self.pairs.contains { $0.user == user && ($0.password == password || $0.password == "*") }
    }

    public static func == (lhs: AcceptedCredentials, rhs: AcceptedCredentials) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.user == $1.user && $0.password == $1.password }
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}

extension AcceptedCredentials {
    /// `accepts(user:password:)` on raw protocol bytes (decoded as UTF-8, invalid bytes replaced).
    public func accepts(user: [UInt8], password: [UInt8]) -> Bool {
        self.accepts(user: String(decoding: user, as: UTF8.self), password: String(decoding: password, as: UTF8.self))
    }
}
