import DecnetCore
import DecnetServiceKit
import Foundation

/// The `llmnr` honeypot: LLMNR (RFC 4795) on UDP 5355 and mDNS (RFC 6762) on UDP 5353, joined to their multicast
/// groups on the decky's interface. It answers queries for the decky's own name, as Windows and avahi do, records
/// every query (what names hosts on the segment look for, and who asks), and never answers for a name it does not
/// own: a decoy that answered for others would be the poisoner it is there to catch.
public struct LLMNRService: DatagramService {
    public static let kind: ServiceKind = "llmnr"

    public static func multicastGroups(port: Int) -> [String] {
        port == 5353 ? ["224.0.0.251"] : port == 5355 ? ["224.0.0.252"] : []
    }

    let hostname: String
    let address: [UInt8]?
    /// Names nobody owns that the decky asks for (upper-cased for comparison); whoever answers is poisoning.
    let baitNames: [String]
    public let tickInterval: Duration?
    /// The NetBIOS name service on 137/udp, for the same host.
    let netbios: NetBIOSNameService
    /// The LAN's broadcast address, where NBT-NS bait queries go.
    let broadcast: String?

    public init(context: ServiceContext) throws {
        self.hostname = String(context.hostname.split(separator: ".").first ?? Substring(context.hostname))
        self.address = context.address.flatMap(DNSMessage.ipv4)
        self.broadcast = context.broadcast
        let names = (context.persona["llmnr_bait_names"] ?? Self.defaultBait(context.hostname))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        self.baitNames = names
        let seconds = Int(context.persona["llmnr_bait_interval"] ?? "") ?? 60
        // Only a decky on a LAN asks its segment (a decky on loopback has nobody to ask).
        let onLAN = context.address.map { !$0.hasPrefix("127.") } ?? false
        self.tickInterval = seconds > 0 && onLAN && !names.isEmpty ? .seconds(seconds) : nil
        self.netbios = NetBIOSNameService(
            identity: WindowsIdentity(persona: context.persona, hostname: context.hostname, osFamily: context.osFamily),
            address: self.address,
            mac: context.macAddress
        )
    }

    /// A name that looks like one of the decky's neighbours but that nobody owns: a file server or printer with
    /// the decky's own naming style, as a Windows host's mistyped or stale shortcut would ask for.
    static func defaultBait(_ hostname: String) -> String {
        let base = hostname.split(separator: "-").first.map(String.init)?.uppercased() ?? "CORP"
        return "\(base)-FS02,PRINT-\(base)"
    }

    /// The bait queries, from the socket they belong to (so answers come back to it): from 5355 one LLMNR query
    /// per bait name to the segment's group; from 137 one NBT-NS broadcast name query per bait name (`<20>`, the
    /// file server a mistyped share asks for) to the LAN's broadcast address, as Windows falls back to it.
    public func tick(port: Int) -> [(datagram: [UInt8], host: String, port: Int)] {
        var generator = SystemRandomNumberGenerator()
        switch port {
        case 5355:
            return self.baitNames.map { name in
                (DNSMessage.query(name, id: UInt16.random(in: 1...UInt16.max, using: &generator)), "224.0.0.252", 5355)
            }
        case 137:
            guard let broadcast = self.broadcast else { return [] }
            return self.baitNames.map { name in
                let id = UInt16.random(in: 1...UInt16.max, using: &generator)
                return (NetBIOSNameService.broadcastQuery(name, id: id), broadcast, 137)
            }
        default:
            return []
        }
    }

    /// mDNS answers a querier on port 5353 on the group (RFC 6762 §6), unless it asked for a unicast answer (the
    /// QU bit) or is a one-shot querier on another port, which gets its answer back directly.
    public func replyDestination(for datagram: [UInt8], session: SessionEvents) -> (host: String, port: Int)? {
        guard session.destination.port == 5353, session.source.port == 5353,
            let question = DNSMessage(datagram)?.questions.first, question.klass & 0x8000 == 0
        else { return nil }
        return ("224.0.0.251", 5353)
    }

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        // The decky's own bait queries come back to it over multicast loopback: not an event.
        if let own = self.address, session.source.ip == own.map({ String($0) }).joined(separator: ".") { return nil }
        if session.destination.port == 137 { return self.netbiosName(datagram, session: session) }
        let mdns = session.destination.port == 5353
        guard let message = DNSMessage(datagram) else {
            var fields = EventFields()
            fields.add("error", "not a DNS message")
            fields.add("preview", attackerBytes: datagram.prefix(64))
            session.emit(.clientMalformed, fields)
            return nil
        }
        let protocolName = mdns ? "mdns" : "llmnr"
        var fields = EventFields()
        fields.add("command", protocolName + (message.isResponse ? "-response" : "-query"))
        fields.add(
            "args",
            attackerText: message.questions.map { "\($0.name) \(DNSMessage.typeName($0.type))" }.joined(separator: ", ")
        )
        guard !message.isResponse else {
            // An answer for a bait name: nobody owns it, so whoever answers is poisoning name resolution.
            if !mdns,
                let bait = message.questions.first(where: { question in
                    self.baitNames.contains { $0.caseInsensitiveCompare(question.name) == .orderedSame }
                })
            {
                var alert = EventFields()
                alert.add("name", attackerText: bait.name)
                alert.add("protocol", "llmnr")
                alert.add("poisoner_ip", session.source.ip)
                if let answer = message.answerAddress { alert.add("answer", answer) }
                session.emit(.poisonerDetected, alert)
                return nil
            }
            // Otherwise nobody asked this decky anything: an unsolicited answer is itself worth a look.
            session.emit(.commandInput, fields)
            return nil
        }
        let ours = message.questions.filter { self.owns($0.name, mdns: mdns) }
        fields.add("answered", ours.isEmpty ? "no" : "yes")
        session.emit(.commandInput, fields)
        guard let question = ours.first, let address = self.address else { return nil }
        let answer = [1, 255].contains(question.type) && question.klass & 0x7FFF == 1
        // mDNS answers carry the cache-flush bit and TTL 120; LLMNR's are unicast with TTL 30.
        return message.response(
            to: question,
            address: answer ? address : nil,
            ttl: mdns ? 120 : 30,
            flags: mdns ? 0x8400 : 0x8000,
            klass: mdns ? 0x8001 : 1,
            keepID: !mdns || session.source.port != 5353
        )
    }

    /// NBT-NS: node status and name queries answered for the host's own names; every query recorded. Other
    /// traffic on 137 (registrations, releases, answers between other hosts) is not the decky's business.
    func netbiosName(_ datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        if let answer = NetBIOSNameService.positiveResponse(datagram) {
            // An answer for a bait name: nobody owns it, so whoever answers is poisoning NBT-NS.
            if self.baitNames.contains(where: { $0.caseInsensitiveCompare(answer.name) == .orderedSame }) {
                var alert = EventFields()
                alert.add("name", attackerText: answer.name)
                alert.add("protocol", "nbns")
                alert.add("poisoner_ip", session.source.ip)
                if let address = answer.address { alert.add("answer", address) }
                session.emit(.poisonerDetected, alert)
            }
            return nil
        }
        guard let query = NetBIOSNameService.query(datagram) else { return nil }
        let reply = self.netbios.respond(to: query)
        var fields = EventFields()
        fields.add("command", query.type == 0x21 ? "nbns-status" : "nbns-query")
        fields.add("args", attackerText: query.name + "<" + String(format2: query.suffix) + ">")
        fields.add("answered", reply == nil ? "no" : "yes")
        session.emit(.commandInput, fields)
        return reply
    }

    /// Whether `name` is this decky's: its host name as LLMNR asks it (one label), or `<name>.local` for mDNS.
    func owns(_ name: String, mdns: Bool) -> Bool {
        let lowered = name.lowercased()
        let host = self.hostname.lowercased()
        return mdns
            ? lowered == host + ".local" || lowered == host + ".local." : lowered == host || lowered == host + "."
    }
}

/// The DNS message format LLMNR and mDNS share (RFC 1035 §4.1), as far as a responder needs it.
struct DNSMessage: Equatable {
    struct Question: Equatable {
        var name: String
        var type: UInt16
        var klass: UInt16
        /// The question's bytes as sent (name, type, class), echoed in the answer.
        var raw: [UInt8]
    }

    var id: UInt16
    var flags: UInt16
    var questions: [Question]

    var isResponse: Bool { self.flags & 0x8000 != 0 }

    /// Reads the header and questions; nil for anything shorter, with more than 16 questions, or names that break
    /// RFC 1035's rules (labels over 63 bytes, names over 255, compression loops).
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 12 else { return nil }
        self.id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        self.flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        let count = Int(bytes[4]) << 8 | Int(bytes[5])
        guard count <= 16 else { return nil }
        var at = 12
        self.questions = []
        for _ in 0..<count {
            let start = at
            guard let (name, end) = Self.name(bytes, at: at), end + 4 <= bytes.count else { return nil }
            let type = UInt16(bytes[end]) << 8 | UInt16(bytes[end + 1])
            let klass = UInt16(bytes[end + 2]) << 8 | UInt16(bytes[end + 3])
            at = end + 4
            self.questions.append(Question(name: name, type: type, klass: klass, raw: Array(bytes[start..<at])))
        }
        // The first answer, if it is an A record (what a poisoner claims the name is).
        let answers = Int(bytes[6]) << 8 | Int(bytes[7])
        if answers > 0, let (_, end) = Self.name(bytes, at: at), end + 14 <= bytes.count,
            bytes[end] == 0, bytes[end + 1] == 1, bytes[end + 8] == 0, bytes[end + 9] == 4
        {
            self.answerAddress = bytes[(end + 10)..<(end + 14)].map { String($0) }.joined(separator: ".")
        }
    }

    /// A name at `at`: its text and where what follows it starts. Compression pointers are followed (at most 16).
    static func name(_ bytes: [UInt8], at start: Int) -> (String, Int)? {
        var labels: [String] = []
        var at = start
        var end: Int?
        var jumps = 0
        var length = 0
        while at < bytes.count {
            let size = Int(bytes[at])
            if size == 0 {
                return (labels.joined(separator: "."), end ?? at + 1)
            }
            if size & 0xC0 == 0xC0 {
                guard at + 1 < bytes.count, jumps < 16 else { return nil }
                if end == nil { end = at + 2 }
                at = (size & 0x3F) << 8 | Int(bytes[at + 1])
                jumps += 1
                continue
            }
            guard size <= 63, at + 1 + size <= bytes.count else { return nil }
            length += size + 1
            guard length <= 255 else { return nil }
            labels.append(String(decoding: bytes[(at + 1)..<(at + 1 + size)], as: UTF8.self))
            at += 1 + size
        }
        return nil
    }

    /// The answer to `question`: one A record for `address` (or none, for a type the decky has no record of).
    func response(
        to question: Question,
        address: [UInt8]?,
        ttl: UInt32,
        flags: UInt16,
        klass: UInt16,
        keepID: Bool
    ) -> [UInt8] {
        let id = keepID ? self.id : 0
        var out: [UInt8] = [
            UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0,
            address == nil ? 0 : 1, 0, 0, 0, 0,
        ]
        out += question.raw
        if let address {
            out += [0xC0, 0x0C, 0x00, 0x01, UInt8(klass >> 8), UInt8(klass & 0xFF)]
            out += [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF), 0, 4]
            out += address
        }
        return out
    }

    /// The first A record of a response's answer section, as text (what a poisoner claims the name is).
    private(set) var answerAddress: String?

    /// A query for one name, type A, class IN (as a Windows resolver sends it over LLMNR).
    static func query(_ name: String, id: UInt16) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            out += [UInt8(min(label.utf8.count, 63))] + Array(label.utf8.prefix(63))
        }
        return out + [0, 0, 1, 0, 1]
    }

    static func ipv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".").compactMap { UInt8($0) }
        return parts.count == 4 ? parts : nil
    }

    static func typeName(_ type: UInt16) -> String {
        [1: "A", 28: "AAAA", 255: "ANY", 12: "PTR", 33: "SRV", 16: "TXT"][type] ?? "TYPE\(type)"
    }
}

extension String {
    /// Two hexadecimal digits, upper case (NetBIOS suffixes are written `<20>`, `<1C>`).
    fileprivate init(format2 byte: UInt8) {
        let digits = Array("0123456789ABCDEF")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
