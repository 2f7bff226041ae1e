import DecnetConfig
import DecnetCore
import Foundation

/// One TTP rule: which events (or which attacker profile) imply an ATT&CK technique.
///
/// Rules are INI sections, one per rule, the section name its id (the fleet file's syntax, so a bad line is
/// reported with its file, line and key):
///
/// ```ini
/// # Comments are whole lines; a value runs to the end of its line.
/// [R0003]
/// name = Password guessing
/// technique = T1110.001
/// # Event types and services, comma-separated (any when absent).
/// events = login.failed
/// services = ssh, ftp, telnet
/// # Regular expressions: on the command line (`command args`), on an event field.
/// command = ^(wget|curl)\b
/// field.user_agent = sqlmap
/// # scan.detected's scan_type.
/// scan_types = tcp_syn, udp
/// # Matching events needed, within this many seconds (any time when absent).
/// min_count = 5
/// window = 300
/// # Attacker-level rules judge the profile: its class, or a phase it marked.
/// behaviour = brute-forcer
/// phase = lateral-movement
/// # 1-100 (default 70).
/// confidence = 80
/// ```
///
/// Regular expressions are searched, case-insensitively, anywhere in the value. Every technique must exist in
/// the ATT&CK data (`AttackCatalogue`).
public struct TTPRule: Sendable {
    public let id: String
    public let name: String
    public let technique: String
    public let events: Set<String>
    public let services: Set<String>
    public let command: Pattern?
    public let fields: [(name: String, pattern: Pattern)]
    public let scanTypes: Set<String>
    public let minimumCount: Int
    public let window: TimeInterval?
    public let behaviour: BehaviourClass?
    public let phase: IntrusionPhase?
    public let confidence: Int
    /// `file:line` of its section.
    public let origin: String

    /// A compiled regular expression (NSRegularExpression is immutable and safe to share once made).
    public final class Pattern: @unchecked Sendable {
        public let text: String
        let expression: NSRegularExpression

        init(_ text: String) throws {
            self.text = text
            self.expression = try NSRegularExpression(pattern: text, options: [.caseInsensitive])
        }

        func matches(_ value: String) -> Bool {
            self.expression.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
        }
    }

    /// An attacker-level rule judges the profile, not single events.
    public var isAttackerLevel: Bool { self.behaviour != nil || self.phase != nil }

    /// Whether one event matches (an event-level rule).
    func matches(_ event: HoneypotEvent) -> Bool {
        if !self.events.isEmpty && !self.events.contains(event.id.rawValue) { return false }
        if !self.services.isEmpty && !self.services.contains(event.service.rawValue) { return false }
        if !self.scanTypes.isEmpty && !self.scanTypes.contains(event[field: "scan_type"] ?? "") { return false }
        if let command = self.command, !command.matches(AttackerProfiler.commandLine(event)) { return false }
        for (name, pattern) in self.fields {
            guard let value = event[field: name], pattern.matches(value) else { return false }
        }
        return true
    }
}

/// The rules in force: the default set compiled in (`TTPRuleSet.defaultText`), and the operator's files, whose
/// rules replace defaults of the same id.
public struct TTPRuleSet: Sendable {
    public let rules: [TTPRule]

    public init(rules: [TTPRule]) { self.rules = rules }

    /// The default rules.
    public static let standard: TTPRuleSet = {
        let (rules, diagnostics) = Self.parse(Self.defaultText, path: "<default rules>")
        precondition(diagnostics.isEmpty, "the default TTP rules do not parse: \(diagnostics)")
        return TTPRuleSet(rules: rules)
    }()

    /// The default rules with those of every `*.ini` in `directory` (in name order) on top. A file with errors
    /// is left out whole, and its errors returned: the rules before it stay in force.
    public static func load(directory: String?) -> (TTPRuleSet, [Diagnostic]) {
        var byID = Dictionary(Self.standard.rules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var order = Self.standard.rules.map(\.id)
        var diagnostics: [Diagnostic] = []
        for path in Self.files(in: directory) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                diagnostics.append(Diagnostic(.file(path: path, line: 0), key: path, "cannot be read as UTF-8 text"))
                continue
            }
            let (rules, problems) = Self.parse(text, path: path)
            guard problems.isEmpty else {
                diagnostics += problems
                continue
            }
            for rule in rules {
                if byID[rule.id] == nil { order.append(rule.id) }
                byID[rule.id] = rule
            }
        }
        return (TTPRuleSet(rules: order.compactMap { byID[$0] }), diagnostics)
    }

    /// The rule files of a directory, and their modification times (to reload when one changes). Editors' swap
    /// and backup files are not rule files.
    public static func files(in directory: String?) -> [String] {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            return []
        }
        return names.filter { name in
            name.hasSuffix(".ini") && !name.hasPrefix(".")
                && name.allSatisfy { $0.isLetter || $0.isNumber || "_-.".contains($0) }
        }.sorted().map { (directory as NSString).appendingPathComponent($0) }
    }

    public static func stamp(of directory: String?) -> [String: Date] {
        var stamps: [String: Date] = [:]
        for path in Self.files(in: directory) {
            stamps[path] = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        }
        return stamps
    }

    static let knownKeys: Set<String> = [
        "name", "technique", "events", "services", "command", "scan_types", "min_count", "window", "behaviour",
        "phase", "confidence",
    ]

    /// Rules from INI text; every problem is named with its file, line and key.
    public static func parse(_ text: String, path: String) -> ([TTPRule], [Diagnostic]) {
        let (document, syntax) = IniDocument.parse(text, path: path)
        var diagnostics = syntax
        var rules: [TTPRule] = []
        for section in document.sections {
            let origin = SettingOrigin.file(path: path, line: section.line)
            func problem(_ entry: IniDocument.Entry?, _ key: String, _ message: String) {
                diagnostics.append(
                    Diagnostic(
                        .file(path: path, line: entry?.line ?? section.line),
                        key: "[\(section.name)] \(key)",
                        message
                    )
                )
            }
            func list(_ key: String) -> Set<String> {
                Set(
                    (section.entry(key)?.value ?? "").split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    }
                    .filter { !$0.isEmpty }
                )
            }
            func pattern(_ entry: IniDocument.Entry) -> TTPRule.Pattern? {
                do {
                    return try TTPRule.Pattern(entry.value)
                } catch {
                    problem(entry, entry.key, "'\(entry.value)' is not a regular expression")
                    return nil
                }
            }
            let before = diagnostics.count
            guard section.name.range(of: #"^[A-Za-z0-9_.-]{1,64}$"#, options: .regularExpression) != nil else {
                problem(nil, "", "a rule id is 1-64 letters, digits, '_', '-' or '.'")
                continue
            }
            for entry in section.entries where !Self.knownKeys.contains(entry.key) && !entry.key.hasPrefix("field.") {
                problem(
                    entry,
                    entry.key,
                    "unknown key; expected one of \(Self.knownKeys.sorted().joined(separator: ", ")) or field.<name>"
                )
            }
            let technique = section.entry("technique")
            if technique == nil {
                problem(nil, "technique", "missing; expected an ATT&CK technique id such as T1110.001")
            } else if let technique, AttackCatalogue.technique(technique.value) == nil {
                problem(
                    technique,
                    "technique",
                    "'\(technique.value)' is not a technique of ATT&CK \(AttackCatalogue.release)"
                )
            }
            let events = list("events")
            for event in events where !EventID.catalogue.contains(where: { $0.rawValue == event }) {
                problem(section.entry("events"), "events", "'\(event)' is not an event type")
            }
            let command = section.entry("command").flatMap(pattern)
            let fields = section.entries.filter { $0.key.hasPrefix("field.") }.compactMap {
                entry -> (String, TTPRule.Pattern)? in
                pattern(entry).map { (String(entry.key.dropFirst("field.".count)), $0) }
            }
            func integer(_ key: String, _ range: ClosedRange<Int>, _ fallback: Int) -> Int {
                guard let entry = section.entry(key) else { return fallback }
                guard let value = Int(entry.value), range.contains(value) else {
                    problem(
                        entry,
                        key,
                        "'\(entry.value)' is not a whole number from \(range.lowerBound) to \(range.upperBound)"
                    )
                    return fallback
                }
                return value
            }
            let minimum = integer("min_count", 1...1_000_000, 1)
            let window = section.entry("window").map { _ in TimeInterval(integer("window", 1...31_536_000, 1)) }
            let confidence = integer("confidence", 1...100, 70)
            var behaviour: BehaviourClass?
            if let entry = section.entry("behaviour") {
                behaviour = BehaviourClass(rawValue: entry.value)
                if behaviour == nil {
                    problem(
                        entry,
                        "behaviour",
                        "'\(entry.value)' is not one of \(BehaviourClass.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
            }
            var phase: IntrusionPhase?
            if let entry = section.entry("phase") {
                phase = IntrusionPhase(rawValue: entry.value)
                if phase == nil {
                    problem(
                        entry,
                        "phase",
                        "'\(entry.value)' is not one of \(IntrusionPhase.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
            }
            guard diagnostics.count == before, let technique else { continue }
            rules.append(
                TTPRule(
                    id: section.name,
                    name: section.entry("name")?.value ?? AttackCatalogue.fullName(technique.value) ?? section.name,
                    technique: technique.value,
                    events: events,
                    services: list("services"),
                    command: command,
                    fields: fields,
                    scanTypes: list("scan_types"),
                    minimumCount: minimum,
                    window: window,
                    behaviour: behaviour,
                    phase: phase,
                    confidence: confidence,
                    origin: origin.description
                )
            )
        }
        return (rules, diagnostics)
    }
}
