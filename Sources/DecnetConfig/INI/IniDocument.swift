import DecnetCore

/// An INI file as Python's `configparser` reads it by default, which is what DECNET's own files are written for:
/// `[section]` headers, `key = value` or `key: value`, full-line `#`/`;` comments, indented continuation lines,
/// keys folded to lower case, and duplicate sections or keys refused. Every entry keeps its line number so
/// later checks can point at it. (No `%` interpolation: a `%` in a password is just a `%`.)
public struct IniDocument: Sendable {
    /// One `key = value` line (plus its continuation lines).
    public struct Entry: Sendable {
        public var key: String
        public var value: String
        public var line: Int
    }

    /// One `[name]` section with its entries in file order.
    public struct Section: Sendable {
        public var name: String
        public var line: Int
        public var entries: [Entry]

        public func entry(_ key: String) -> Entry? { self.entries.first { $0.key == key } }
    }

    public let path: String
    public private(set) var sections: [Section] = []

    public func section(_ name: String) -> Section? { self.sections.first { $0.name == name } }

    /// Parses `text`; syntax problems come back as diagnostics, and the rest of the file is still read.
    /// The file's lines as `parse` numbers them (line N is element N - 1): split at LF, CRLF and CR, a leading
    /// byte-order mark dropped.
    public static func lines(_ text: String) -> [String] {
        // "\r\n" is a single Character in Swift, so split on each of the three line ends explicitly.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
            .map(String.init)
        if let first = lines.first, first.hasPrefix("\u{FEFF}") { lines[0] = String(first.dropFirst()) }
        return lines
    }

    public static func parse(_ text: String, path: String) -> (IniDocument, [Diagnostic]) {
        var document = IniDocument(path: path)
        var diagnostics: [Diagnostic] = []
        var seenSections: [String: Int] = [:]
        var seenKeys: [String: Int] = [:]
        var continuing = false
        var skipping = false

        let lines = Self.lines(text)

        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            let line = rawLine
            let trimmed = line.trimmingWhitespace()
            let origin = SettingOrigin.file(path: path, line: number)

            if trimmed.isEmpty {
                continuing = false
                continue
            }
            if trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }

            if continuing, let first = line.first, first == " " || first == "\t", !document.sections.isEmpty {
                let sectionIndex = document.sections.count - 1
                let entryIndex = document.sections[sectionIndex].entries.count - 1
                document.sections[sectionIndex].entries[entryIndex].value += "\n" + trimmed
                continue
            }
            continuing = false

            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
                    // `[name]  ; note`: configparser has no inline comments, and says so plainly.
                    let close = trimmed.firstIndex(of: "]")
                    let rest = close.map { trimmed[trimmed.index(after: $0)...].trimmingWhitespace() } ?? ""
                    let hint =
                        rest.hasPrefix(";") || rest.hasPrefix("#")
                        ? "a comment after a section header; expected it on a line of its own (no inline comments)"
                        : "malformed section header; expected [name]"
                    diagnostics.append(Diagnostic(origin, key: trimmed, hint))
                    continue
                }
                let name = String(trimmed.dropFirst().dropLast()).trimmingWhitespace()
                if name.isEmpty {
                    diagnostics.append(Diagnostic(origin, key: trimmed, "empty section name; expected [name]"))
                    continue
                }
                if let first = seenSections[name] {
                    diagnostics.append(
                        Diagnostic(
                            origin,
                            key: "[\(name)]",
                            "section appears twice (first at line \(first)); expected each section once"
                        )
                    )
                    // The repeat's settings are not read: they would only cause follow-on errors.
                    skipping = true
                    continue
                }
                skipping = false
                seenSections[name] = number
                seenKeys = [:]
                document.sections.append(Section(name: name, line: number, entries: []))
                continue
            }

            if skipping { continue }
            guard let delimiter = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                let key = document.sections.last.map { "[\($0.name)]" } ?? "file"
                diagnostics.append(
                    Diagnostic(origin, key: key, "'\(trimmed.prefix(40))' is not a setting; expected key = value")
                )
                continue
            }
            let key = trimmed[..<delimiter].trimmingWhitespace().lowercased()
            let value = trimmed[trimmed.index(after: delimiter)...].trimmingWhitespace()
            guard !document.sections.isEmpty else {
                diagnostics.append(
                    Diagnostic(origin, key: key, "setting before any section; expected a [section] header first")
                )
                continue
            }
            let sectionName = document.sections[document.sections.count - 1].name
            if key.isEmpty {
                diagnostics.append(
                    Diagnostic(origin, key: "[\(sectionName)]", "setting without a key; expected key = value")
                )
                continue
            }
            if let first = seenKeys[key] {
                diagnostics.append(
                    Diagnostic(
                        origin,
                        key: "[\(sectionName)] \(key)",
                        "key appears twice in this section (first at line \(first)); expected it once"
                    )
                )
                continue
            }
            seenKeys[key] = number
            document.sections[document.sections.count - 1].entries.append(Entry(key: key, value: value, line: number))
            continuing = true
        }
        return (document, diagnostics)
    }
}
