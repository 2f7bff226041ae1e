/// One key a service accepts in its persona section (`[decky-01.ssh] ssh_version = …`).
public struct PersonaKey: Hashable, Sendable {
    /// What a value must look like.
    public enum ValueKind: Hashable, Sendable {
        /// Any non-empty text.
        case text
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// `user:password` pairs separated by commas (`root:toor,admin:admin123`).
        case credentials
        /// One of the listed words, compared without case.
        case oneOf([String])
        /// A dotted-quad IPv4 address.
        case ipv4
        /// A DNS name of letters, digits and hyphens (`c.corp.example`).
        case domainName
    }

    /// Where the key is defined: the seed's table, or a DECNET-Swift addition documented in docs/config.md.
    public enum Origin: String, Hashable, Sendable {
        case seed
        case decnetSwift = "decnet-swift"
    }

    public let name: String
    public let kind: ValueKind
    public let summary: String
    public let origin: Origin

    public init(_ name: String, _ kind: ValueKind, origin: Origin = .seed, _ summary: String) {
        self.name = name
        self.kind = kind
        self.summary = summary
        self.origin = origin
    }

    /// A free-text key.
    public init(_ name: String, origin: Origin = .seed, _ summary: String) {
        self.init(name, .text, origin: origin, summary)
    }

    /// Checks `value` against the key's kind.
    /// - Returns: nil when valid, else what was expected, for an error message.
    public func problem(with value: String) -> String? {
        let trimmed = value.trimmingWhitespace()
        if trimmed.isEmpty { return "an empty value; expected \(self.expectation)" }
        if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            // A newline (from a continuation line) or another control character would end up inside a banner,
            // a header or a protocol field, where it changes the protocol rather than the text.
            return "a value with a line break or control character; expected \(self.expectation) on one line"
        }
        switch self.kind {
        case .text:
            return nil
        case .integer(let range):
            guard let number = Int(trimmed), range.contains(number) else {
                return "'\(trimmed)'; expected \(self.expectation)"
            }
            return nil
        case .credentials:
            for pair in trimmed.split(separator: ",") {
                let parts = pair.trimmingWhitespace().split(
                    separator: ":",
                    maxSplits: 1,
                    omittingEmptySubsequences: false
                )
                if parts.count != 2 || parts[0].isEmpty {
                    return "'\(pair.trimmingWhitespace())'; expected \(self.expectation)"
                }
            }
            return nil
        case .oneOf(let words):
            return words.contains(trimmed.lowercased()) ? nil : "'\(trimmed)'; expected \(self.expectation)"
        case .ipv4:
            return IPv4Address(trimmed) == nil ? "'\(trimmed)'; expected \(self.expectation)" : nil
        case .domainName:
            let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false)
            let valid =
                trimmed.utf8.count <= 253 && labels.count >= 2
                && labels.allSatisfy { label in
                    (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                        && label.unicodeScalars.allSatisfy {
                            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                                || $0 == "-"
                        }
                }
            return valid ? nil : "'\(trimmed)'; expected \(self.expectation)"
        }
    }

    /// A phrase for error messages and docs: "a whole number from 100 to 599".
    public var expectation: String {
        switch self.kind {
        case .text: "text"
        case .integer(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .credentials: "user:password pairs separated by commas, e.g. root:toor,admin:admin123"
        case .oneOf(let words): "one of " + words.joined(separator: ", ")
        case .ipv4: "an IPv4 address, e.g. 192.168.1.40"
        case .domainName: "a DNS name of two labels or more, e.g. c.corp.example"
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line ends.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
