import DecnetCore
import Foundation

/// How the shell lines of an attacker were entered, from the keystroke timing the terminal records with each
/// typed line (`keystrokes` reads, `keystroke_ms` the gaps between them, `corrections` erased characters): typed key
/// by key by a person (gaps of tens to hundreds of milliseconds, uneven, with corrections), pasted (a whole line
/// in one read), or sent key by key by a program (gaps of a few milliseconds, even).
public struct Keystrokes: Sendable, Codable, Equatable {
    public enum Entry: String, Sendable, Codable {
        case typed
        case pasted
        case machine
        case mixed
    }

    public var entry: Entry
    /// Lines with timing, and how many of them were typed (one read per key or close to it) and pasted.
    public var lines: Int
    public var typedLines: Int
    public var pastedLines: Int
    /// The median gap between keys of typed lines, in milliseconds, and its coefficient of variation.
    public var medianKeyGap: Double?
    public var keyGapVariation: Double?
    public var corrections: Int

    /// Gaps below this, evenly spaced, are a program's.
    static let machineGap = 5.0

    /// From the shell command events (nil when none carries timing).
    public static func measure(_ commands: [HoneypotEvent]) -> Keystrokes? {
        var lines = 0
        var typed = 0
        var pasted = 0
        var corrections = 0
        var gaps: [Double] = []
        var seen = Set<String>()
        for event in commands {
            guard let reads = event[field: "keystrokes"].flatMap(Int.init), reads > 0 else { continue }
            // Commands of one line (`a; b`) carry the same timing once.
            guard seen.insert(event.session + "/" + (event[field: "elapsed_ms"] ?? "")).inserted else { continue }
            lines += 1
            corrections += event[field: "corrections"].flatMap(Int.init) ?? 0
            let length = AttackerProfiler.commandLine(event).count
            if reads == 1 && length >= 4 {
                pasted += 1
            } else if reads * 2 >= length {
                typed += 1
                gaps += (event[field: "keystroke_ms"] ?? "").split(separator: ",").compactMap { Double($0) }
            }
        }
        guard lines > 0 else { return nil }
        let median = gaps.isEmpty ? nil : AttackerProfiler.median(gaps)
        let variation = gaps.count < 2 ? nil : AttackerProfiler.variation(gaps)
        let entry: Entry
        if let median, let variation, typed * 2 > lines, median < Self.machineGap, variation < 0.5 {
            entry = .machine
        } else if typed * 10 >= lines * 6 {
            entry = .typed
        } else if pasted * 10 >= lines * 6 {
            entry = .pasted
        } else {
            entry = .mixed
        }
        return Keystrokes(
            entry: entry,
            lines: lines,
            typedLines: typed,
            pastedLines: pasted,
            medianKeyGap: median,
            keyGapVariation: variation,
            corrections: corrections
        )
    }

    /// Whether a person typed them: key by key, at a person's pace.
    public var isHuman: Bool { self.entry == .typed && (self.medianKeyGap ?? 0) >= 30 }

    public var summary: String {
        switch self.entry {
        case .typed:
            let gap = self.medianKeyGap.map { String(format: "a median %.0f ms between keys", $0) } ?? "key by key"
            return "\(self.typedLines) of \(self.lines) lines typed key by key, \(gap), \(self.corrections) corrections"
        case .pasted: return "\(self.pastedLines) of \(self.lines) lines pasted whole"
        case .machine:
            return String(format: "keys sent a median %.1f ms apart, evenly: a program typing", self.medianKeyGap ?? 0)
        case .mixed: return "\(self.typedLines) lines typed and \(self.pastedLines) pasted of \(self.lines)"
        }
    }
}
