/// One argument of an IMAP command: an atom, a string (quoted or literal), or a parenthesized list.
indirect enum IMAPToken: Equatable, Sendable {
    case atom(String)
    case string([UInt8])
    case list([IMAPToken])

    /// The bytes of an atom or string (what LOGIN's arguments are).
    var bytes: [UInt8]? {
        switch self {
        case .atom(let text): Array(text.utf8)
        case .string(let bytes): bytes
        case .list: nil
        }
    }
}

/// Assembles IMAP commands from lines, including `{n}` / `{n+}` literals that span lines (RFC 9051 4.3), and
/// tokenizes them. Bounded: a command may not exceed `maximumCommandSize` however its literals are declared.
struct IMAPCommandAssembler {
    static let maximumCommandSize = 65_536

    /// What one line did.
    enum Outcome: Equatable {
        /// A whole command: tag and arguments (the command name is the first argument).
        case command(tag: String, arguments: [IMAPToken])
        /// A `{n}` literal needs the client to be told to go on (`+ OK`), nothing complete yet.
        case continuationNeeded
        /// A `{n+}` literal (LITERAL+) or literal bytes: nothing complete yet, no reply.
        case incomplete
        /// The line could not be parsed; the tag if one was readable.
        case malformed(tag: String?, reason: String)
    }

    /// The command so far, literals substituted as raw segments.
    private var segments: [Segment] = []
    /// Bytes still owed to the literal being read.
    private var literalRemaining = 0

    /// No command is half-read (no literal pending).
    var isIdle: Bool { self.segments.isEmpty && self.literalRemaining == 0 }
    private var size = 0

    private enum Segment {
        case text([UInt8])
        case literal([UInt8])
    }

    mutating func received(_ line: [UInt8]) -> Outcome {
        var line = line[...]
        if self.literalRemaining > 0 {
            // The line (plus the CRLF the decoder removed) belongs to the literal until it is complete.
            guard case .literal(var bytes) = self.segments.removeLast() else { return self.reset("bad literal state") }
            let take = min(self.literalRemaining, line.count)
            bytes.append(contentsOf: line.prefix(take))
            self.literalRemaining -= take
            line = line.dropFirst(take)
            if self.literalRemaining > 0 {
                let newline = min(2, self.literalRemaining)
                bytes.append(contentsOf: [0x0D, 0x0A].prefix(newline))
                self.literalRemaining -= newline
            }
            self.segments.append(.literal(bytes))
            if self.literalRemaining > 0 { return .incomplete }
        }
        self.size += line.count + 2
        guard self.size <= Self.maximumCommandSize else { return self.reset("command too long") }
        self.segments.append(.text(Array(line)))
        // Does the line end in a literal announcement?
        if let (length, nonSynchronizing) = Self.trailingLiteral(line) {
            guard length <= Self.maximumCommandSize - self.size else { return self.reset("literal too big") }
            self.size += length
            self.literalRemaining = length
            self.segments.append(.literal([]))
            if length == 0 { return self.finishIfDone() }
            return nonSynchronizing ? .incomplete : .continuationNeeded
        }
        return self.finishIfDone()
    }

    private mutating func finishIfDone() -> Outcome {
        guard self.literalRemaining == 0, case .text = self.segments.last else { return .incomplete }
        let segments = self.segments
        self.segments = []
        self.size = 0
        return Self.parse(segments)
    }

    private mutating func reset(_ reason: String) -> Outcome {
        let tag = self.segments.first.flatMap { segment -> String? in
            guard case .text(let bytes) = segment else { return nil }
            return String(decoding: bytes.prefix { $0 != 0x20 }, as: UTF8.self)
        }
        self.segments = []
        self.literalRemaining = 0
        self.size = 0
        return .malformed(tag: tag, reason: reason)
    }

    /// `{123}` or `{123+}` at the end of a line.
    static func trailingLiteral(_ line: ArraySlice<UInt8>) -> (Int, Bool)? {
        guard line.last == UInt8(ascii: "}"), let open = line.lastIndex(of: UInt8(ascii: "{")) else { return nil }
        var digits = line[(open + 1)..<(line.endIndex - 1)]
        let plus = digits.last == UInt8(ascii: "+")
        if plus { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return (Int(String(decoding: digits, as: UTF8.self))!, plus)
    }

    /// Tokenizes the assembled segments: `tag SP command [SP args]`.
    private static func parse(_ segments: [Segment]) -> Outcome {
        var tokenizer = Tokenizer(
            segments: segments.map {
                switch $0 {
                case .text(let bytes): (bytes, false)
                case .literal(let bytes): (bytes, true)
                }
            }
        )
        guard case .atom(let tag)? = tokenizer.next(), !tag.isEmpty else {
            return .malformed(tag: nil, reason: "missing tag")
        }
        var arguments: [IMAPToken] = []
        while true {
            switch tokenizer.nextResult() {
            case .token(let token): arguments.append(token)
            case .end:
                return arguments.isEmpty
                    ? .malformed(tag: tag, reason: "missing command") : .command(tag: tag, arguments: arguments)
            case .error(let reason): return .malformed(tag: tag, reason: reason)
            }
        }
    }

    /// Walks text segments and literal segments in order.
    private struct Tokenizer {
        enum Result { case token(IMAPToken), end, error(String) }

        var segments: [([UInt8], Bool)]
        var segment = 0
        var index = 0
        var depth = 0

        mutating func next() -> IMAPToken? {
            if case .token(let token) = self.nextResult() { return token }
            return nil
        }

        mutating func nextResult() -> Result {
            while self.segment < self.segments.count {
                let (bytes, isLiteral) = self.segments[self.segment]
                if isLiteral {
                    self.segment += 1
                    self.index = 0
                    return .token(.string(bytes))
                }
                while self.index < bytes.count && bytes[self.index] == 0x20 { self.index += 1 }
                if self.index >= bytes.count {
                    self.segment += 1
                    self.index = 0
                    continue
                }
                let byte = bytes[self.index]
                switch byte {
                case UInt8(ascii: "{"):
                    // The literal announcement itself; its bytes are the next segment.
                    self.index = bytes.count
                    continue
                case UInt8(ascii: "\""):
                    var value: [UInt8] = []
                    self.index += 1
                    while self.index < bytes.count {
                        let character = bytes[self.index]
                        if character == UInt8(ascii: "\\") && self.index + 1 < bytes.count {
                            value.append(bytes[self.index + 1])
                            self.index += 2
                        } else if character == UInt8(ascii: "\"") {
                            self.index += 1
                            return .token(.string(value))
                        } else {
                            value.append(character)
                            self.index += 1
                        }
                    }
                    return .error("unterminated quoted string")
                case UInt8(ascii: "("):
                    guard self.depth < 16 else { return .error("lists nested too deeply") }
                    self.index += 1
                    self.depth += 1
                    var items: [IMAPToken] = []
                    while true {
                        if let close = self.closeParenthesis() {
                            if close { break }
                        }
                        switch self.nextResult() {
                        case .token(let token): items.append(token)
                        case .end: return .error("unterminated list")
                        case .error(let reason): return .error(reason)
                        }
                    }
                    self.depth -= 1
                    return .token(.list(items))
                case UInt8(ascii: ")"):
                    return .error("unexpected )")
                default:
                    let start = self.index
                    while self.index < bytes.count, bytes[self.index] != 0x20, bytes[self.index] != UInt8(ascii: "("),
                        bytes[self.index] != UInt8(ascii: ")")
                    {
                        self.index += 1
                    }
                    return .token(.atom(String(decoding: bytes[start..<self.index], as: UTF8.self)))
                }
            }
            return .end
        }

        /// Skips blanks; true (and consumes it) when the next byte closes a list, nil at a segment boundary.
        mutating func closeParenthesis() -> Bool? {
            guard self.segment < self.segments.count else { return nil }
            let (bytes, isLiteral) = self.segments[self.segment]
            if isLiteral { return false }
            while self.index < bytes.count && bytes[self.index] == 0x20 { self.index += 1 }
            guard self.index < bytes.count else { return false }
            if bytes[self.index] == UInt8(ascii: ")") {
                self.index += 1
                return true
            }
            return false
        }
    }
}
