import Foundation

/// MITRE ATT&CK Enterprise (the subset in `AttackCatalogue+Data.swift`: every tactic and active technique with
/// its name, tactics, STIX id and version; MITRE's notice travels with it). What the TTP rules may emit and what
/// `decnet ttp list` and the exports name.
public enum AttackCatalogue {
    public struct Tactic: Sendable, Equatable, Codable {
        public let id: String
        public let name: String
        /// ATT&CK's short name (`credential-access`), the `phase_name` of a STIX kill-chain phase.
        public var shortName: String { self.name.lowercased().replacingOccurrences(of: " ", with: "-") }
    }

    public struct Technique: Sendable, Equatable, Codable {
        public let id: String
        public let name: String
        public let tactics: [String]
        public let stixID: String
        public let version: String
        public let modified: String

        /// `https://attack.mitre.org/techniques/T1110/001/`.
        public var url: String {
            "https://attack.mitre.org/techniques/\(self.id.replacingOccurrences(of: ".", with: "/"))/"
        }
        public var isSubtechnique: Bool { self.id.contains(".") }
    }

    public static let tactics: [String: Tactic] = Self.parsed.tactics
    public static let techniques: [String: Technique] = Self.parsed.techniques
    /// The ATT&CK release the data is from.
    public static var release: String { Self.version }

    public static func technique(_ id: String) -> Technique? { Self.techniques[id] }

    /// A technique's name with its parent's (`Brute Force: Password Guessing`), as ATT&CK writes them.
    public static func fullName(_ id: String) -> String? {
        guard let technique = Self.techniques[id] else { return nil }
        guard technique.isSubtechnique, let parent = Self.techniques[String(id.prefix { $0 != "." })] else {
            return technique.name
        }
        return "\(parent.name): \(technique.name)"
    }

    private static let parsed: (tactics: [String: Tactic], techniques: [String: Technique]) = {
        var tactics: [String: Tactic] = [:]
        var techniques: [String: Technique] = [:]
        for line in Self.table.split(separator: "\n") {
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            switch fields.first {
            case "tactic" where fields.count == 3:
                tactics[fields[1]] = Tactic(id: fields[1], name: fields[2])
            case "technique" where fields.count == 7:
                techniques[fields[1]] = Technique(
                    id: fields[1],
                    name: fields[2],
                    tactics: fields[3].split(separator: ",").map(String.init),
                    stixID: fields[4],
                    version: fields[5],
                    modified: fields[6]
                )
            default:
                continue
            }
        }
        return (tactics, techniques)
    }()
}
