/// A bus subject: dot-separated tokens (`decky.web-01.state`, `attacker.session.started`), as the seed's topic
/// hierarchy and NATS name them. A subscription's pattern may use `*` for exactly one token and `>` (last) for one
/// or more remaining tokens.
public struct Subject: Hashable, Sendable, CustomStringConvertible {
    public let tokens: [Substring]
    public let text: String

    public static let maximumLength = 256

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// A subject a message is published on: no wildcards.
    public init(_ text: String) throws {
        try self.init(text, wildcards: false)
    }

    /// A pattern a subscriber listens on.
    public static func pattern(_ text: String) throws -> Subject {
        try Subject(text, wildcards: true)
    }

    private init(_ text: String, wildcards: Bool) throws {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else {
            throw Invalid(description: "subject must have 1 to \(Self.maximumLength) bytes")
        }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Invalid(description: "subject '\(text)' has spaces or control characters")
        }
        let tokens = text.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.allSatisfy({ !$0.isEmpty }) else {
            throw Invalid(description: "subject '\(text)' has an empty token")
        }
        for (index, token) in tokens.enumerated() {
            let wild = token == "*" || token == ">"
            if !wildcards && (token.contains("*") || token.contains(">")) {
                throw Invalid(description: "a published subject has no wildcards: '\(text)'")
            }
            if wildcards && !wild && (token.contains("*") || token.contains(">")) {
                throw Invalid(description: "a wildcard is a whole token: '\(text)'")
            }
            if token == ">" && index != tokens.count - 1 {
                throw Invalid(description: "'>' must be the last token: '\(text)'")
            }
        }
        self.tokens = tokens
        self.text = text
    }

    public var description: String { self.text }

    public var hasWildcards: Bool { self.tokens.contains { $0 == "*" || $0 == ">" } }

    /// Whether `subject` (no wildcards) is matched by this pattern.
    public func matches(_ subject: Subject) -> Bool {
        var index = 0
        for token in self.tokens {
            if token == ">" { return subject.tokens.count > index }
            guard index < subject.tokens.count else { return false }
            if token != "*" && token != subject.tokens[index] { return false }
            index += 1
        }
        return index == subject.tokens.count
    }
}
