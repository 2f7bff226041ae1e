import DecnetCore
import Foundation

/// An ATT&CK technique an attacker's events imply, with the rule that fired and the events that made it fire.
public struct TechniqueTag: Sendable, Codable, Equatable {
    public var technique: String
    /// ATT&CK's name (`Brute Force: Password Guessing`) and its tactics' names.
    public var name: String
    public var tactics: [String]
    public var rule: String
    public var ruleName: String
    public var confidence: Int
    /// When the rule fired (its `min_count`-th event), and the last matching event.
    public var first: Date
    public var last: Date
    public var count: Int
    /// The matching events (at most `maximumEvents`, the earliest).
    public var events: [String]
    public var evidence: String
    /// The ATT&CK release the id is from.
    public var attack: String

    public static let maximumEvents = 20
}

extension TTPRuleSet {
    /// The techniques one attacker's events (any order) and profile imply: one tag per rule that fired, in the
    /// order they fired.
    public func tag(_ unsorted: [HoneypotEvent], profile: AttackerBehaviour? = nil) -> [TechniqueTag] {
        let events = unsorted.sorted { $0.time < $1.time }
        var tags: [TechniqueTag] = []
        for rule in self.rules {
            guard let technique = AttackCatalogue.technique(rule.technique) else { continue }
            let tactics = technique.tactics.compactMap { AttackCatalogue.tactics[$0]?.name }
            func make(first: Date, last: Date, count: Int, events: [String], evidence: String) -> TechniqueTag {
                TechniqueTag(
                    technique: rule.technique,
                    name: AttackCatalogue.fullName(rule.technique) ?? technique.name,
                    tactics: tactics,
                    rule: rule.id,
                    ruleName: rule.name,
                    confidence: rule.confidence,
                    first: first,
                    last: last,
                    count: count,
                    events: events,
                    evidence: evidence,
                    attack: AttackCatalogue.release
                )
            }
            if rule.isAttackerLevel {
                guard let profile, let start = events.first?.time else { continue }
                if let behaviour = rule.behaviour, profile.behaviour != behaviour { continue }
                var first = start
                var evidence = profile.evidence.first ?? profile.behaviour.rawValue
                if let wanted = rule.phase {
                    guard let phase = profile.phases.first(where: { $0.phase == wanted }) else { continue }
                    first = phase.first
                    evidence = phase.evidence
                }
                tags.append(
                    make(first: first, last: events.last?.time ?? first, count: 1, events: [], evidence: evidence)
                )
                continue
            }
            let matched = events.filter(rule.matches)
            guard matched.count >= rule.minimumCount else { continue }
            // The first run of `min_count` matching events within the window.
            var fired: Int?
            let span = rule.minimumCount - 1
            for index in span..<matched.count {
                if let window = rule.window, matched[index].time.timeIntervalSince(matched[index - span].time) > window
                {
                    continue
                }
                fired = index
                break
            }
            guard let fired else { continue }
            let example = matched[fired]
            let line = AttackerProfiler.commandLine(example)
            let detail =
                line.isEmpty ? example.fields.prefix(3).map { "\($0.name)=\($0.value)" }.joined(separator: " ") : line
            tags.append(
                make(
                    first: example.time,
                    last: matched.last!.time,
                    count: matched.count,
                    events: matched.prefix(TechniqueTag.maximumEvents).map(\.uuid.lowercasedText),
                    evidence:
                        "\(matched.count) × \(example.id) (\(example.service) on \(example.decky)): \(detail.prefix(160))"
                )
            )
        }
        return tags.sorted { ($0.first, $0.technique, $0.rule) < ($1.first, $1.technique, $1.rule) }
    }
}
