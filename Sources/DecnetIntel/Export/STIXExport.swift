import DecnetCore
import Foundation

/// A STIX 2.1 bundle of what DECNET saw of attackers (and, when given, the identity and campaign they belong to):
/// the sensor as an `identity`; per attacker its address (and autonomous system) as observables in an
/// `observed-data`, an `indicator` for the address, a `sighting` of it by the sensor, and a `note` with the
/// credentials and commands it tried; an `attack-pattern` per ATT&CK technique it was tagged with (DECNET's own
/// object, carrying ATT&CK's id as an external reference: another producer's id with other content would be a bad
/// version of MITRE's object), with `indicates` relationships; an identity as an `intrusion-set`, a campaign as a
/// `campaign`, related by `uses`, `indicates` and `attributed-to`.
///
/// Nothing custom: only properties the specification defines, so the OASIS validator passes it in `--strict`
/// mode. Every id is a hash of what it names (observables as STIX's rule makes them, §2.9, the others in version
/// 4's form), and every time comes from the data, so the same input gives the same bytes.
public enum STIXExport {
    public struct Input: Sendable {
        public var attackers: [StoredAttackerProfile]
        public var identities: [AttackerIdentity]
        public var campaign: Campaign?
        /// The sensor's name (the producer).
        public var sensor: String

        public init(
            attackers: [StoredAttackerProfile],
            identities: [AttackerIdentity] = [],
            campaign: Campaign? = nil,
            sensor: String = "DECNET-Swift"
        ) {
            self.attackers = attackers
            self.identities = identities
            self.campaign = campaign
            self.sensor = sensor
        }
    }

    /// The sensor object's version: its own, not the export's.
    static let sensorCreated = "2026-12-01T00:00:00.000Z"

    public static func bundle(_ input: Input) -> [String: Any] {
        var objects: [String: [String: Any]] = [:]
        func add(_ object: [String: Any]) { objects[object["id"] as! String] = object }
        func sdo(_ type: String, _ name: String, created: Date, modified: Date) -> [String: Any] {
            [
                "type": type, "spec_version": "2.1", "id": "\(type)--\(NameUUID.random(NameUUID.decnet, name))",
                "created": Self.time(created), "modified": Self.time(max(created, modified)),
                "created_by_ref": Self.sensorID(input.sensor),
            ]
        }
        add([
            "type": "identity", "spec_version": "2.1", "id": Self.sensorID(input.sensor),
            "created": Self.sensorCreated, "modified": Self.sensorCreated, "name": input.sensor,
            "description": "A DECNET-Swift deception network: every address in this bundle touched its decoy hosts.",
            "identity_class": "system",
        ])
        var indicatorOf: [String: String] = [:]
        var patterns: [String: String] = [:]
        func attackPattern(_ tag: TechniqueTag) -> String {
            let name = "attack-pattern|\(tag.technique)"
            let id = "attack-pattern--\(NameUUID.random(NameUUID.decnet, name))"
            if objects[id] == nil, let technique = AttackCatalogue.technique(tag.technique) {
                var object = sdo("attack-pattern", name, created: tag.first, modified: tag.first)
                object["name"] = AttackCatalogue.fullName(tag.technique) ?? technique.name
                // ATT&CK's id; not its URL, which the validator wants with a hash of the page (a best practice
                // {302}); the URL follows from the id.
                object["external_references"] = [["source_name": "mitre-attack", "external_id": technique.id]]
                object["kill_chain_phases"] = technique.tactics.compactMap { AttackCatalogue.tactics[$0] }.map {
                    ["kill_chain_name": "mitre-attack", "phase_name": $0.shortName]
                }
                add(object)
            } else if var existing = objects[id], let created = existing["created"] as? String,
                Self.time(tag.first) < created
            {
                // The earliest tag dates the object, whatever order the attackers come in.
                existing["created"] = Self.time(tag.first)
                existing["modified"] = Self.time(tag.first)
                objects[id] = existing
            }
            patterns[tag.technique] = id
            return id
        }
        func relate(_ type: String, _ source: String, _ target: String, at time: Date, _ description: String? = nil) {
            var object = sdo("relationship", "\(type)|\(source)|\(target)", created: time, modified: time)
            object["relationship_type"] = type
            object["source_ref"] = source
            object["target_ref"] = target
            if let description { object["description"] = description }
            add(object)
        }

        for profile in input.attackers.sorted(by: { $0.ip < $1.ip }) {
            let ip = profile.ip
            let first = profile.evidence.first
            let last = max(profile.lastSeen, first)
            let addressType = ip.contains(":") ? "ipv6-addr" : "ipv4-addr"
            let address = "\(addressType)--\(NameUUID.make(NameUUID.stix, "{\"value\":\(Self.jsonString(ip))}"))"
            add(["type": addressType, "spec_version": "2.1", "id": address, "value": ip])
            var refs = [address]
            if let asn = profile.evidence.asn {
                let system = "autonomous-system--\(NameUUID.make(NameUUID.stix, "{\"number\":\(asn)}"))"
                add(["type": "autonomous-system", "spec_version": "2.1", "id": system, "number": Int(asn)])
                refs.append(system)
            }
            var observed = sdo("observed-data", "observed-data|\(ip)", created: first, modified: last)
            observed["first_observed"] = Self.time(first)
            observed["last_observed"] = Self.time(last)
            observed["number_observed"] = min(max(1, profile.eventCount), 999_999_999)
            observed["object_refs"] = refs
            add(observed)

            let behaviour = profile.behaviour
            var indicator = sdo("indicator", "indicator|\(ip)", created: first, modified: last)
            indicator["name"] = "\(behaviour.behaviour.rawValue) at \(ip)"
            indicator["description"] =
                "Seen by \(input.sensor): \(behaviour.evidence.joined(separator: "; ")) (score \(behaviour.score))."
            indicator["indicator_types"] = ["malicious-activity"]
            indicator["pattern"] = "[\(addressType):value = '\(ip)']"
            indicator["pattern_type"] = "stix"
            indicator["valid_from"] = Self.time(first)
            add(indicator)
            let indicatorID = indicator["id"] as! String
            indicatorOf[ip] = indicatorID

            var sighting = sdo("sighting", "sighting|\(ip)", created: first, modified: last)
            sighting["sighting_of_ref"] = indicatorID
            sighting["observed_data_refs"] = [observed["id"] as! String]
            sighting["where_sighted_refs"] = [Self.sensorID(input.sensor)]
            sighting["first_seen"] = Self.time(first)
            sighting["last_seen"] = Self.time(last)
            sighting["count"] = min(max(1, profile.eventCount), 999_999_999)
            add(sighting)

            let credentials = profile.evidence.credentials
            let commands = profile.evidence.commands
            if !credentials.isEmpty || !commands.isEmpty {
                var note = sdo("note", "note|\(ip)", created: first, modified: last)
                note["abstract"] = "Credentials and commands from \(ip)"
                var lines: [String] = []
                if !credentials.isEmpty { lines.append("Credentials tried (user:password, in order):") }
                lines += credentials.map { "  " + $0 }
                if !commands.isEmpty { lines.append("Shell commands (in order):") }
                lines += commands.map { "  " + $0 }
                note["content"] = lines.joined(separator: "\n")
                note["object_refs"] = [indicatorID, observed["id"] as! String]
                add(note)
            }
            for tag in profile.techniques ?? [] {
                let pattern = attackPattern(tag)
                relate(
                    "indicates",
                    indicatorID,
                    pattern,
                    at: tag.first,
                    "rule \(tag.rule) (\(tag.ruleName)): \(tag.evidence)"
                )
            }
        }

        /// An identity's intrusion set or a campaign: named, described by its reasons, seen from first to last.
        func group(
            _ type: String,
            _ uuid: String,
            formed: Date,
            updated: Date,
            seen: (first: Date, last: Date),
            summary: String,
            reasons: [AttackerIdentity.ReasonCount]
        ) -> String {
            var object = sdo(type, "\(type)|\(uuid)", created: formed, modified: updated)
            object["name"] = "DECNET \(type == "campaign" ? "campaign" : "identity") \(uuid.prefix(8))"
            object["description"] =
                summary + ": " + reasons.map { "\($0.detail) (\($0.links) links)" }.joined(separator: "; ")
            object["first_seen"] = Self.time(seen.first)
            object["last_seen"] = Self.time(max(seen.first, seen.last))
            add(object)
            return object["id"] as! String
        }
        var intrusionSets: [String: String] = [:]
        for identity in input.identities.sorted(by: { $0.uuid < $1.uuid }) {
            let members = input.attackers.filter { identity.members.contains($0.ip) }
            guard let first = members.map(\.evidence.first).min(), let last = members.map(\.lastSeen).max() else {
                continue
            }
            let setID = group(
                "intrusion-set",
                identity.uuid,
                formed: identity.formed,
                updated: identity.updated,
                seen: (first, last),
                summary: "\(identity.members.count) addresses held to be one actor",
                reasons: identity.reasons
            )
            intrusionSets[identity.uuid] = setID
            for member in members {
                relate("indicates", indicatorOf[member.ip]!, setID, at: member.evidence.first)
                for tag in member.techniques ?? [] { relate("uses", setID, attackPattern(tag), at: tag.first) }
            }
        }
        if let campaign = input.campaign {
            let campaignID = group(
                "campaign",
                campaign.uuid,
                formed: campaign.formed,
                updated: campaign.updated,
                seen: (campaign.first, campaign.last),
                summary: "\(campaign.attackers.count) addresses in \(campaign.actors.count) actors",
                reasons: campaign.reasons
            )
            for actor in campaign.actors {
                if let set = intrusionSets[actor] {
                    relate("attributed-to", campaignID, set, at: campaign.formed)
                } else if actor.hasPrefix("ip:"), let indicator = indicatorOf[String(actor.dropFirst(3))] {
                    relate("indicates", indicator, campaignID, at: campaign.first)
                }
            }
            for profile in input.attackers where campaign.attackers.contains(profile.ip) {
                for tag in profile.techniques ?? [] { relate("uses", campaignID, attackPattern(tag), at: tag.first) }
            }
        }
        let ordered = objects.values.sorted { lhs, rhs in
            let left = (Self.order[lhs["type"] as! String] ?? 99, lhs["id"] as! String)
            let right = (Self.order[rhs["type"] as! String] ?? 99, rhs["id"] as! String)
            return left < right
        }
        let ids = ordered.map { $0["id"] as! String }.joined(separator: ",")
        return [
            "type": "bundle", "id": "bundle--\(NameUUID.random(NameUUID.decnet, "bundle|" + ids))", "objects": ordered,
        ]
    }

    /// The bundle as JSON with sorted keys: the same input, the same bytes.
    public static func json(_ input: Input) -> Data {
        (try? JSONSerialization.data(
            withJSONObject: Self.bundle(input),
            options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        ))
            ?? Data()
    }

    static let order: [String: Int] = [
        "identity": 0, "intrusion-set": 1, "campaign": 2, "indicator": 3, "observed-data": 4, "sighting": 5, "note": 6,
        "attack-pattern": 7, "relationship": 8, "ipv4-addr": 9, "ipv6-addr": 9, "autonomous-system": 10,
    ]

    static func sensorID(_ name: String) -> String { "identity--\(NameUUID.random(NameUUID.decnet, "sensor|\(name)"))" }

    /// RFC 3339 in UTC with milliseconds, as STIX timestamps are written.
    static func time(_ date: Date) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        let whole = Date(timeIntervalSince1970: (milliseconds / 1000).rounded(.down))
        let text = RFC5424Formatter.timestamp(whole)
        let fraction = Int(milliseconds.truncatingRemainder(dividingBy: 1000))
        return String(text.prefix(19)) + String(format: ".%03dZ", fraction < 0 ? fraction + 1000 : fraction)
    }

    /// A JSON string literal (RFC 8785's canonical form for the strings an address holds).
    static func jsonString(_ text: String) -> String {
        var out: [UInt8] = []
        JSONText.append(string: text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
