import DecnetCore
import DecnetServiceKit
import Foundation

/// The `canary` service on UDP 53: the authoritative name server of the canary zone the operator delegates to the
/// decky (`canary_zone`, e.g. `c.corp.example`). `<id>.<zone>` (or any name below it, which carries data the way
/// Canarytokens' do) of an active token answers the zone's address and is a `canary.triggered` event whose source
/// is the resolver that asked, with the name as it arrived (letter case included: resolvers randomise it, RFC
/// draft "0x20", so ids are compared without it). Unknown and revoked names are NXDOMAIN with the zone's SOA, as
/// a real authoritative server answers; names outside the zone are REFUSED.
public struct CanaryDNSService: DatagramService {
    public static let kind: ServiceKind = "canary"

    /// The zone, lower case, without the trailing dot; nil when the persona names none (every query REFUSED).
    let zone: String?
    /// What the zone's names resolve to: `canary_address`, else the decky's own address.
    let address: [UInt8]?
    let tokens: CanaryTokenLookup?
    let ttl: UInt32 = 60

    /// The persona's keys were checked when the configuration was read (`canary_zone` a DNS name,
    /// `canary_address` an IPv4 address); a value that is neither here (a service run by hand) counts as unset.
    public init(context: ServiceContext) throws {
        let zone = context.persona["canary_zone"].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ". ")) }
        let key = PersonaKey("canary_zone", .domainName, "")
        self.zone = zone.flatMap { key.problem(with: $0) == nil ? $0.lowercased() : nil }
        self.address =
            context.persona["canary_address"].flatMap(DNSMessage.ipv4) ?? context.address.flatMap(DNSMessage.ipv4)
        self.tokens = context.canaryTokens
    }

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        guard let message = DNSMessage(datagram) else {
            var fields = EventFields()
            fields.add("error", "not a DNS message")
            fields.add("preview", attackerBytes: datagram.prefix(64))
            session.emit(.clientMalformed, fields)
            return nil
        }
        // Answers are not ours to answer.
        guard !message.isResponse else { return nil }
        let opcode = (message.flags >> 11) & 0xF
        guard opcode == 0 else { return self.reply(message, rcode: 4, authoritative: false) }  // NOTIMP
        guard message.questions.count == 1, let question = message.questions.first else {
            return self.reply(message, rcode: 1, authoritative: false)  // FORMERR
        }
        let name = question.name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        var fields = EventFields()
        fields.add("command", "dns-query")
        fields.add("args", attackerText: question.name + " " + DNSMessage.typeName(question.type))
        defer { session.emit(.commandInput, fields) }

        guard let zone = self.zone, question.klass == 1 || question.klass == 255,
            name == zone || name.hasSuffix("." + zone)
        else {
            fields.add("answered", "refused")
            return self.reply(message, rcode: 5, authoritative: false)  // REFUSED
        }
        let a = question.type == 1 || question.type == 255
        if name == zone || name == "ns1." + zone {
            fields.add("answered", "yes")
            var answers: [[UInt8]] = []
            if a, let address = self.address { answers.append(self.record(question.name, type: 1, address)) }
            if name == zone && (question.type == 2 || question.type == 255) {
                answers.append(self.record(question.name, type: 2, Self.encode("ns1." + zone)))
            }
            if name == zone && (question.type == 6 || question.type == 255) { answers.append(self.soa(zone)) }
            return self.reply(message, rcode: 0, answers: answers, authority: answers.isEmpty ? [self.soa(zone)] : [])
        }
        // The label just left of the zone is the token's id.
        let labels = name.dropLast(zone.count + 1).split(separator: ".")
        guard let label = labels.last, let token = self.tokens?.token(label), token.isActive else {
            fields.add("answered", "nxdomain")
            return self.reply(message, rcode: 3, authority: [self.soa(zone)])  // NXDOMAIN
        }
        fields.add("answered", "yes")
        var trigger = CanaryService.trigger(token, via: "dns")
        trigger.add("qname", attackerText: question.name)
        trigger.add("qtype", DNSMessage.typeName(question.type))
        session.emit(.canaryTriggered, trigger)
        let answers = a ? self.address.map { [self.record(question.name, type: 1, $0)] } ?? [] : []
        return self.reply(message, rcode: 0, answers: answers, authority: answers.isEmpty ? [self.soa(zone)] : [])
    }

    /// The response: the query's id and RD bit, AA when the zone is ours, the question as it came (its letter
    /// case is what a 0x20 resolver checks), then the records.
    func reply(
        _ query: DNSMessage,
        rcode: UInt16,
        authoritative: Bool = true,
        answers: [[UInt8]] = [],
        authority: [[UInt8]] = []
    ) -> [UInt8] {
        let flags: UInt16 = 0x8000 | (query.flags & 0x7900) | (authoritative ? 0x0400 : 0) | rcode
        let questions =
            rcode == 1 || rcode == 4
            ? [] : query.questions.prefix(1).map { Self.encode($0.name) + Array($0.raw.suffix(4)) }
        var out: [UInt8] = [UInt8(query.id >> 8), UInt8(query.id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF)]
        for count in [questions.count, answers.count, authority.count, 0] {
            out += [UInt8(count >> 8), UInt8(count & 0xFF)]
        }
        for part in questions + answers + authority { out += part }
        return out
    }

    /// One resource record of class IN with this server's TTL.
    func record(_ name: String, type: UInt16, _ data: [UInt8]) -> [UInt8] {
        Self.encode(name) + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
            + [
                UInt8(self.ttl >> 24), UInt8(self.ttl >> 16 & 0xFF), UInt8(self.ttl >> 8 & 0xFF),
                UInt8(self.ttl & 0xFF),
            ]
            + [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
    }

    /// The zone's SOA (RFC 1035 §3.3.13): `ns1.<zone>`, `hostmaster.<zone>`, a date serial, the usual timers and
    /// the TTL as the negative-caching time (RFC 2308).
    func soa(_ zone: String) -> [UInt8] {
        func be32(_ value: UInt32) -> [UInt8] {
            [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        let data =
            Self.encode("ns1." + zone) + Self.encode("hostmaster." + zone) + be32(Self.serial) + be32(7200) + be32(3600)
            + be32(1_209_600) + be32(self.ttl)
        return self.record(zone, type: 6, data)
    }

    /// YYYYMMDD01 of the day the process started, as zone files number their versions.
    static let serial: UInt32 = UInt32(PosixDate.string(Date(), format: "yyyyMMdd") + "01") ?? 1

    /// A name in wire form, uncompressed (labels cut at 63 bytes).
    static func encode(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            out += [UInt8(bytes.count)] + bytes
        }
        return out + [0]
    }
}
