import DecnetCore
import DecnetServiceKit

/// The NetBIOS name service (RFC 1002 §4.2) on UDP 137, as a Windows host (or Samba's nmbd) answers it: node
/// status queries (what `nbtscan` and `nmblookup -A` send) get the host's name table and MAC; name queries get an
/// answer only for the host's own names. Like LLMNR, it never answers for a name it does not own.
struct NetBIOSNameService: Sendable {
    /// The names the host registers: name (15 characters), suffix, group or unique.
    struct Name: Equatable, Sendable {
        var name: String
        var suffix: UInt8
        var group: Bool
    }

    let names: [Name]
    let address: [UInt8]?
    let mac: [UInt8]

    init(identity: WindowsIdentity, address: [UInt8]?, mac: String?) {
        let computer = identity.netbiosName, domain = identity.netbiosDomain
        // What `nbtstat -n` lists on a Windows file-sharing host: workstation and server service names, the
        // workgroup or domain and its browser election name.
        self.names = [
            Name(name: computer, suffix: 0x00, group: false),
            Name(name: domain, suffix: 0x00, group: true),
            Name(name: computer, suffix: 0x20, group: false),
            Name(name: domain, suffix: 0x1E, group: true),
        ]
        self.address = address
        self.mac =
            mac.map { $0.split(separator: ":").compactMap { UInt8($0, radix: 16) } }.flatMap {
                $0.count == 6 ? $0 : nil
            }
            ?? [0, 0, 0, 0, 0, 0]
    }

    /// What a query packet asks: its id, the decoded name and suffix, and the question type (0x20 NB, 0x21 NBSTAT).
    struct Query: Equatable {
        var id: UInt16
        var name: String
        var suffix: UInt8
        var type: UInt16
        var rawName: [UInt8]
    }

    static func query(_ bytes: [UInt8]) -> Query? {
        // Header as DNS's; a request (R bit clear) with one question whose name is one 32-letter label.
        guard bytes.count >= 12 + 34 + 4, bytes[2] & 0x80 == 0, (bytes[2] >> 3) & 0x0F == 0, bytes[4] == 0,
            bytes[5] == 1
        else { return nil }
        guard let (name, suffix) = NBSS.name(bytes, at: 12), bytes[12 + 33] == 0 else { return nil }
        let type = UInt16(bytes[46]) << 8 | UInt16(bytes[47])
        return Query(
            id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]),
            name: name,
            suffix: suffix,
            type: type,
            rawName: Array(bytes[12..<46])
        )
    }

    /// The answer to a query, or nil when it is not the host's to answer.
    func respond(to query: Query) -> [UInt8]? {
        switch query.type {
        case 0x21:
            // Node status: asked of "*" or of one of the host's names.
            guard query.name == "*" || self.names.contains(where: { $0.name == query.name }) else { return nil }
            var data: [UInt8] = [UInt8(self.names.count)]
            for entry in self.names {
                var padded = Array(entry.name.utf8.prefix(15))
                while padded.count < 15 { padded.append(0x20) }
                data += padded + [entry.suffix, entry.group ? 0x84 : 0x04, 0x00]
            }
            data += self.mac + [UInt8](repeating: 0, count: 40)
            return self.answer(query, type: 0x21, ttl: 0, data: data)
        case 0x20:
            guard let address = self.address,
                self.names.contains(where: { $0.name == query.name && $0.suffix == query.suffix })
            else { return nil }
            let flags: [UInt8] =
                self.names.first { $0.name == query.name && $0.suffix == query.suffix }?.group == true
                ? [0x80, 0x00] : [0x00, 0x00]
            return self.answer(query, type: 0x20, ttl: 300_000, data: flags + address)
        default:
            return nil
        }
    }

    /// A broadcast name query (RFC 1002 §4.2.12) for `name<20>`: recursion desired and broadcast set, as a Windows
    /// host asks its LAN when DNS and LLMNR have no answer.
    static func broadcastQuery(_ name: String, id: UInt16) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]
        out += self.encode(name, suffix: 0x20)
        return out + [0x00, 0x20, 0x00, 0x01]
    }

    /// A name first-level encoded (RFC 1001 §14.1): 15 characters, upper case, space-padded, then the suffix.
    static func encode(_ name: String, suffix: UInt8) -> [UInt8] {
        var raw = Array(name.uppercased().utf8.prefix(15))
        while raw.count < 15 { raw.append(0x20) }
        raw.append(suffix)
        var out: [UInt8] = [0x20]
        for byte in raw {
            out.append(0x41 + (byte >> 4))
            out.append(0x41 + (byte & 0x0F))
        }
        out.append(0x00)
        return out
    }

    /// A positive name query response (RFC 1002 §4.2.13): the name it answers for and the first address it
    /// claims; nil for anything else.
    static func positiveResponse(_ bytes: [UInt8]) -> (name: String, address: String?)? {
        guard bytes.count >= 12 + 34 + 10, bytes[2] & 0x80 != 0, (bytes[2] >> 3) & 0x0F == 0, bytes[3] & 0x0F == 0
        else { return nil }
        let questions = Int(bytes[4]) << 8 | Int(bytes[5]), answers = Int(bytes[6]) << 8 | Int(bytes[7])
        // Responder and Windows send the answer alone; skip a question section if one is there.
        var at = 12 + questions * (34 + 4)
        guard answers >= 1, questions <= 1, at + 34 + 10 <= bytes.count, let (name, _) = NBSS.name(bytes, at: at)
        else { return nil }
        at += 34
        guard bytes[at] == 0x00, bytes[at + 1] == 0x20 else { return nil }
        let length = Int(bytes[at + 8]) << 8 | Int(bytes[at + 9])
        let data = at + 10
        let address =
            length >= 6 && data + 6 <= bytes.count
            ? bytes[(data + 2)..<(data + 6)].map { String($0) }.joined(separator: ".") : nil
        return (name, address)
    }

    private func answer(_ query: Query, type: UInt16, ttl: UInt32, data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(query.id >> 8), UInt8(query.id & 0xFF), 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0]
        out += query.rawName + [UInt8(type >> 8), UInt8(type & 0xFF), 0x00, 0x01]
        out += [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
        out += [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
        return out
    }
}
