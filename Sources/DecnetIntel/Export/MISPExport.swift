import DecnetCore
import Foundation

/// A MISP event (MISP core format) of the same input as `STIXExport`: each attacker address an `ip-src` attribute
/// (not for IDS: a honeypot sighting is not by itself a blocking decision), each credential tried a `credential`
/// object (MISP's template, origin `bruteforce-scanning`), the shell commands as text, the ATT&CK techniques as
/// `mitre-attack-pattern` galaxy tags, TLP:AMBER. Ids are version 5 UUIDs of what they name, so the same input
/// gives the same event.
public enum MISPExport {
    /// MISP's `credential` object template (misp-objects `objects/credential/definition.json`).
    static let credentialTemplate = (uuid: "a27e98c9-9b0e-414c-8076-d201e039ca09", version: "5")
    /// Credential objects per event, at most (a botnet tries thousands; the first ones say what the list is).
    public static let maximumCredentials = 500

    public static func event(_ input: STIXExport.Input, title: String? = nil) -> [String: Any] {
        let attackers = input.attackers.sorted { $0.ip < $1.ip }
        let first = attackers.map(\.evidence.first).min() ?? Date(timeIntervalSince1970: 0)
        let last = attackers.map(\.lastSeen).max() ?? first
        let scope =
            input.campaign.map { "campaign|\($0.uuid)" } ?? input.identities.first.map { "identity|\($0.uuid)" }
            ?? "attackers|" + attackers.map(\.ip).joined(separator: ",")
        func uuid(_ name: String) -> String { NameUUID.make(NameUUID.decnet, "misp|\(scope)|\(name)") }
        func stamp(_ date: Date) -> String { String(Int(date.timeIntervalSince1970)) }

        var attributes: [[String: Any]] = []
        var objects: [[String: Any]] = []
        var techniques: [String: String] = [:]
        for profile in attackers {
            let ip = profile.ip
            attributes.append([
                "uuid": uuid("ip|\(ip)"), "type": "ip-src", "category": "Network activity", "value": ip,
                "to_ids": false, "distribution": "5", "timestamp": stamp(profile.lastSeen),
                "first_seen": STIXExport.time(profile.evidence.first),
                "last_seen": STIXExport.time(max(profile.lastSeen, profile.evidence.first)),
                "comment": "\(profile.behaviour.behaviour.rawValue), score \(profile.behaviour.score): "
                    + profile.behaviour.evidence.joined(separator: "; "),
            ])
            for (index, command) in profile.evidence.commands.enumerated() {
                attributes.append([
                    "uuid": uuid("command|\(ip)|\(index)"), "type": "text", "category": "Other", "value": command,
                    "to_ids": false, "distribution": "5", "timestamp": stamp(profile.lastSeen),
                    "comment": "shell command \(index + 1) from \(ip)",
                ])
            }
            for credential in profile.evidence.credentials where objects.count < Self.maximumCredentials {
                let parts = credential.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(
                    String.init
                )
                var fields: [(String, String)] = [("origin", "bruteforce-scanning")]
                if !parts[0].isEmpty { fields.insert(("username", parts[0]), at: 0) }
                if parts.count > 1, !parts[1].isEmpty { fields.insert(("password", parts[1]), at: fields.count - 1) }
                guard fields.count > 1 else { continue }
                let objectID = uuid("credential|\(ip)|\(credential)")
                objects.append([
                    "uuid": objectID, "name": "credential", "meta-category": "misc",
                    "template_uuid": Self.credentialTemplate.uuid, "template_version": Self.credentialTemplate.version,
                    "description": "Credential tried by \(ip) against a decoy host", "distribution": "5",
                    "timestamp": stamp(profile.lastSeen), "comment": "tried by \(ip)",
                    "Attribute": fields.map { relation, value in
                        [
                            "uuid": uuid("credential|\(ip)|\(credential)|\(relation)"), "object_relation": relation,
                            "type": "text", "category": "Other", "value": value, "to_ids": false,
                            "distribution": "5", "timestamp": stamp(profile.lastSeen),
                        ] as [String: Any]
                    },
                ])
            }
            for tag in profile.techniques ?? [] {
                guard let technique = AttackCatalogue.technique(tag.technique) else { continue }
                techniques[tag.technique] = "misp-galaxy:mitre-attack-pattern=\"\(technique.name) - \(technique.id)\""
            }
        }
        let tags = [["name": "tlp:amber"]] + techniques.keys.sorted().map { ["name": techniques[$0]!] }
        let info =
            title
            ?? input.campaign.map { "DECNET-Swift campaign \($0.uuid.prefix(8)): \($0.attackers.count) addresses" }
            ?? input.identities.first.map {
                "DECNET-Swift identity \($0.uuid.prefix(8)): \($0.behaviour?.rawValue ?? "actor") on \($0.members.count) addresses"
            }
            ?? "DECNET-Swift: \(attackers.count) attacker address(es) on \(input.sensor)"
        return [
            "Event": [
                "uuid": uuid("event"), "info": info, "date": String(STIXExport.time(first).prefix(10)),
                "threat_level_id": "3", "analysis": "2", "distribution": "0", "published": false,
                "timestamp": stamp(last), "Attribute": attributes, "Object": objects, "Tag": tags,
            ] as [String: Any]
        ]
    }

    public static func json(_ input: STIXExport.Input, title: String? = nil) -> Data {
        (try? JSONSerialization.data(
            withJSONObject: Self.event(input, title: title),
            options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        )) ?? Data()
    }
}
