import Crypto
import DecnetCore
import DecnetServiceKit

/// The MIB a decky's agent serves, ordered as agents walk it: the system group from the persona's device (a Linux
/// host with net-snmp, a Cisco router, an HP printer, a Windows server, a PLC), the interfaces table with the
/// decky's own MAC, and its address in the IP address table. Counters and uptime advance with time.
struct SNMPMIB: Sendable {
    /// The device a persona imitates (`snmp_archetype`).
    enum Device: String, Sendable {
        case linux, router, printer, windows, plc

        static func named(_ text: String?, osFamily: OSFamily) -> Device {
            switch text?.lowercased() {
            case "router", "switch", "cisco", "network": return .router
            case "printer": return .printer
            case "windows": return .windows
            case "plc", "ics", "industrial", "scada": return .plc
            case "linux", "server", "monitoring", "host": return .linux
            default:
                switch osFamily {
                case .cisco: return .router
                case .windows: return .windows
                case .embedded: return .printer
                default: return .linux
                }
            }
        }

        var objectID: OID {
            switch self {
            case .linux: OID([1, 3, 6, 1, 4, 1, 8072, 3, 2, 10])
            case .router: OID([1, 3, 6, 1, 4, 1, 9, 1, 1041])
            case .printer: OID([1, 3, 6, 1, 4, 1, 11, 2, 3, 9, 1])
            case .windows: OID([1, 3, 6, 1, 4, 1, 311, 1, 1, 3, 1, 2])
            case .plc: OID([1, 3, 6, 1, 4, 1, 4329, 20, 1, 1, 1])
            }
        }

        func description(hostname: String) -> String {
            switch self {
            case .linux: "Linux \(hostname) 5.10.0-28-amd64 #1 SMP Debian 5.10.209-2 (2024-01-31) x86_64"
            case .router:
                "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M5, RELEASE SOFTWARE (fc1)"
            case .printer: "HP ETHERNET MULTI-ENVIRONMENT,ROM none,JETDIRECT,JD153,EEPROM JSI23900024,CIDATE 03/24/2021"
            case .windows:
                "Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)"
            case .plc: "Siemens, SIMATIC S7, CPU 1214C DC/DC/DC, 6ES7 214-1AG40-0XB0, HW: 5, FW: V4.4.0"
            }
        }

        /// sysServices (RFC 1213): hosts 72 (application + end-to-end), routers 78, printers 72, PLCs 79.
        var services: Int { [.router: 78, .plc: 79][self] ?? 72 }

        var interfaceName: String {
            switch self {
            case .router: "GigabitEthernet0/0"
            case .windows: "Intel(R) 82574L Gigabit Network Connection"
            case .printer: "NetDrvr"
            case .plc: "PROFINET interface"
            case .linux: "eth0"
            }
        }
    }

    let device: Device
    let description: String
    let hostname: String
    let contact: String
    let location: String
    let mac: [UInt8]
    let address: [UInt8]?
    /// The snmpEngineID (RFC 3411): the vendor's enterprise number and a format the device's agent uses.
    let engineID: [UInt8]
    let engineBoots: Int

    init(persona: [String: String], hostname: String, osFamily: OSFamily, mac: String?, address: String?) {
        self.device = Device.named(persona["snmp_archetype"], osFamily: osFamily)
        self.hostname = hostname
        self.description = persona["sys_descr"] ?? self.device.description(hostname: hostname)
        self.contact =
            persona["snmp_contact"]
            ?? "it-ops@\(hostname.split(separator: ".").dropFirst().joined(separator: ".").isEmpty ? "corp.local" : hostname.split(separator: ".").dropFirst().joined(separator: "."))"
        self.location = persona["snmp_location"] ?? "Server room B, rack 4"
        self.mac =
            mac.map { $0.split(separator: ":").compactMap { UInt8($0, radix: 16) } }.flatMap {
                $0.count == 6 ? $0 : nil
            }
            ?? [0x00, 0x50, 0x56, 0x8A, 0x1C, 0x42]
        self.address = address.flatMap(DNSMessage.ipv4)
        let digest = Array(SHA256.hash(data: Array("decnet snmp engine \(hostname)".utf8)))
        switch self.device {
        case .router: self.engineID = [0x80, 0x00, 0x00, 0x09, 0x03] + self.mac
        case .printer: self.engineID = [0x80, 0x00, 0x00, 0x0B, 0x03] + self.mac
        default:
            // net-snmp's own engine ID: its enterprise, format 0x80, 4 random bytes, the time the agent first ran
            // (little-endian Unix time) and 4 zero bytes; kept in /var/lib/snmp, so stable per host.
            let created = UInt32(1_690_000_000 + Int(digest[4]) << 16 | Int(digest[5]) << 8 | Int(digest[6]))
            self.engineID =
                [0x80, 0x00, 0x1F, 0x88, 0x80] + Array(digest.prefix(4))
                + [
                    UInt8(created & 0xFF), UInt8(created >> 8 & 0xFF), UInt8(created >> 16 & 0xFF),
                    UInt8(created >> 24),
                ]
                + [0, 0, 0, 0]
        }
        self.engineBoots = 3 + Int(digest[12] % 20)
    }

    static let system = OID([1, 3, 6, 1, 2, 1, 1])
    static let interfaces = OID([1, 3, 6, 1, 2, 1, 2])
    static let ipAddresses = OID([1, 3, 6, 1, 2, 1, 4, 20, 1])

    /// Every object and its value at `uptime` (hundredths of a second), sorted by OID.
    func objects(uptime: UInt32) -> [(oid: OID, value: SNMPValue)] {
        var objects: [(OID, SNMPValue)] = [
            (Self.system.appending(1, 0), .text(self.description)),
            (Self.system.appending(2, 0), .oid(self.device.objectID)),
            (Self.system.appending(3, 0), .timeTicks(uptime)),
            (Self.system.appending(4, 0), .text(self.contact)),
            (Self.system.appending(5, 0), .text(self.hostname)),
            (Self.system.appending(6, 0), .text(self.location)),
            (Self.system.appending(7, 0), .integer(self.device.services)),
            (Self.interfaces.appending(1, 0), .integer(2)),
        ]
        let traffic = UInt32(truncatingIfNeeded: UInt64(uptime) * 1_337 / 100)
        let table:
            [(
                index: UInt32, name: String, type: Int, mtu: Int, speed: UInt32, mac: [UInt8], bytesIn: UInt32,
                bytesOut: UInt32
            )] = [
                (1, "lo", 24, 65_536, 10_000_000, [], traffic / 9, traffic / 9),
                (2, self.device.interfaceName, 6, 1_500, 1_000_000_000, self.mac, traffic, traffic / 3),
            ]
        for row in table {
            let entry = Self.interfaces.appending(2, 1)
            objects += [
                (entry.appending(1, row.index), .integer(Int(row.index))),
                (entry.appending(2, row.index), .text(row.name)),
                (entry.appending(3, row.index), .integer(row.type)),
                (entry.appending(4, row.index), .integer(row.mtu)),
                (entry.appending(5, row.index), .gauge32(row.speed)),
                (entry.appending(6, row.index), .octets(row.mac)),
                (entry.appending(7, row.index), .integer(1)),
                (entry.appending(8, row.index), .integer(1)),
                (entry.appending(9, row.index), .timeTicks(0)),
                (entry.appending(10, row.index), .counter32(row.bytesIn)),
                (entry.appending(16, row.index), .counter32(row.bytesOut)),
            ]
        }
        // SNMP-FRAMEWORK-MIB's snmpEngine group, as net-snmp serves it after the MIB-2 objects.
        let engine = OID([1, 3, 6, 1, 6, 3, 10, 2, 1])
        objects += [
            (engine.appending(1, 0), .octets(self.engineID)),
            (engine.appending(2, 0), .integer(self.engineBoots)),
            (engine.appending(3, 0), .integer(Int(uptime / 100))),
            (engine.appending(4, 0), .integer(1_500)),
        ]
        if let address = self.address {
            let index = address.map { UInt32($0) }
            objects += [
                (OID(Self.ipAddresses.arcs + [1] + index), .ipAddress(address)),
                (OID(Self.ipAddresses.arcs + [2] + index), .integer(2)),
                (OID(Self.ipAddresses.arcs + [3] + index), .ipAddress([255, 255, 255, 0])),
            ]
        }
        return objects.sorted { $0.0 < $1.0 }
    }
}

/// The agent's answers, without I/O: v1 and v2c for the persona's community only (every other community is
/// recorded and answered with silence, as a real agent answers it), GET, GETNEXT and GETBULK over the MIB, SET
/// refused and recorded, and v3's engine discovery answered with a Report naming the agent's engine, the user name
/// and authentication parameters of what follows captured.
struct SNMPAgent: Sendable {
    let mib: SNMPMIB
    let community: String

    var engineID: [UInt8] { self.mib.engineID }
    var engineBoots: Int { self.mib.engineBoots }

    init(mib: SNMPMIB, community: String) {
        self.mib = mib
        self.community = community
    }

    enum Answer: Equatable {
        case reply([UInt8])
        case silence
    }

    /// The answer to a message and the events it raises.
    func answer(_ message: SNMPMessage, uptime: UInt32, byteBound: Int) -> (Answer, [(EventID, EventFields)]) {
        if message.version == 3 { return self.v3(message, uptime: uptime) }
        guard let pdu = message.pdu else { return (.silence, []) }
        let versionName = message.version == 0 ? "v1" : "v2c"
        guard message.community == Array(self.community.utf8) else {
            var fields = EventFields()
            fields.add("username", "")
            fields.add("password", attackerBytes: message.community, secret: true)
            fields.add("method", "community")
            fields.add("snmp_version", versionName)
            return (.silence, [(.loginFailed, fields)])
        }
        var fields = EventFields()
        fields.add("command", Self.name(pdu.type))
        fields.add("args", pdu.bindings.prefix(16).map(\.oid.description).joined(separator: " "))
        fields.add("community", attackerBytes: message.community)
        fields.add("snmp_version", versionName)
        var events: [(EventID, EventFields)] = [(.commandInput, fields)]
        let objects = self.mib.objects(uptime: uptime)
        let v1 = message.version == 0
        func respond(_ bindings: [(OID, SNMPValue)], error: Int = 0, index: Int = 0) -> Answer {
            .reply(
                SNMPMessage.response(
                    version: message.version,
                    community: message.community,
                    requestID: pdu.requestID,
                    error: error,
                    index: index,
                    bindings: bindings
                )
            )
        }
        let request = pdu.bindings.map { ($0.oid, SNMPValue.null) }
        switch pdu.type {
        case .get:
            var bindings: [(OID, SNMPValue)] = []
            for (position, binding) in pdu.bindings.enumerated() {
                if let value = objects.first(where: { $0.oid == binding.oid })?.value {
                    bindings.append((binding.oid, value))
                } else if v1 {
                    return (respond(request, error: 2, index: position + 1), events)
                } else {
                    let known = objects.contains {
                        $0.oid.hasPrefix(OID(Array(binding.oid.arcs.dropLast()))) && binding.oid.arcs.count > 8
                    }
                    bindings.append((binding.oid, known ? .noSuchInstance : .noSuchObject))
                }
            }
            return (respond(bindings), events)
        case .getNext:
            var bindings: [(OID, SNMPValue)] = []
            for (position, binding) in pdu.bindings.enumerated() {
                if let next = objects.first(where: { $0.oid > binding.oid }) {
                    bindings.append(next)
                } else if v1 {
                    return (respond(request, error: 2, index: position + 1), events)
                } else {
                    bindings.append((binding.oid, .endOfMibView))
                }
            }
            return (respond(bindings), events)
        case .getBulk where !v1:
            let nonRepeaters = max(0, min(pdu.first, pdu.bindings.count))
            let repetitions = max(0, min(pdu.second, 64))
            var bindings: [(OID, SNMPValue)] = []
            for binding in pdu.bindings.prefix(nonRepeaters) {
                bindings.append(objects.first { $0.oid > binding.oid } ?? (binding.oid, .endOfMibView))
            }
            var cursors = pdu.bindings.dropFirst(nonRepeaters).map(\.oid)
            var full = bindings
            for _ in 0..<repetitions {
                guard !cursors.isEmpty else { break }
                var row: [(OID, SNMPValue)] = []
                for (index, cursor) in cursors.enumerated() {
                    let next = objects.first { $0.oid > cursor } ?? (cursor, .endOfMibView)
                    row.append(next)
                    cursors[index] = next.0
                }
                let candidate = full + row
                // Whole repetitions only, within what a reply to this request may weigh (RFC 3416 §4.2.3).
                let size = SNMPMessage.response(
                    version: message.version,
                    community: message.community,
                    requestID: pdu.requestID,
                    bindings: candidate
                ).count
                guard size <= byteBound || full.isEmpty else { break }
                full = candidate
                if row.allSatisfy({ $0.1 == .endOfMibView }) { break }
            }
            return (respond(full), events)
        case .set:
            var payload = EventFields()
            payload.add("kind", "snmp-set")
            payload.add(
                "preview",
                attackerText: pdu.bindings.prefix(16).map { "\($0.oid)=\($0.value.text)" }.joined(separator: " ")
            )
            payload.add("size", String(pdu.bindings.count))
            events.append((.payloadReceived, payload))
            // net-snmp checks each value's type before access: a value nothing can be set to (NULL, an exception)
            // is v2c's wrongType, v1's badValue, at its position (Debian 12's 5.9.3, bench/differential).
            let unsettable: [SNMPValue] = [.null, .noSuchObject, .noSuchInstance, .endOfMibView]
            if let bad = pdu.bindings.firstIndex(where: { unsettable.contains($0.value) }) {
                return (respond(pdu.bindings.map { ($0.oid, $0.value) }, error: v1 ? 3 : 7, index: bad + 1), events)
            }
            // A read-only community: v2c's noAccess, v1's noSuchName (as net-snmp maps it).
            return (respond(pdu.bindings.map { ($0.oid, $0.value) }, error: v1 ? 2 : 6, index: 1), events)
        default:
            return (.silence, events)
        }
    }

    /// v3: a discovery request (no engine id) gets usmStatsUnknownEngineIDs with the engine's id, boots and time; a
    /// request naming a user gets usmStatsUnknownUserNames, its user and authentication parameters captured.
    func v3(_ message: SNMPMessage, uptime: UInt32) -> (Answer, [(EventID, EventFields)]) {
        guard let v3 = message.v3, self.mib.device != .windows else { return (.silence, []) }
        let time = Int(uptime / 100)
        var events: [(EventID, EventFields)] = []
        let counter: OID
        if v3.engineID.isEmpty || v3.userName.isEmpty {
            counter = OID([1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0])
        } else {
            counter = OID([1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0])
            var fields = EventFields()
            fields.add("username", attackerBytes: v3.userName)
            fields.add("method", "usm")
            fields.add("snmp_version", "v3")
            fields.add(
                "security_level",
                v3.flags & 0x03 == 3 ? "authPriv" : v3.flags & 0x01 != 0 ? "authNoPriv" : "noAuthNoPriv"
            )
            fields.add("engine_id", lowerHex(v3.engineID))
            fields.add("auth_params", lowerHex(v3.authentication))
            events.append((.loginFailed, fields))
        }
        guard v3.flags & 0x04 != 0 else { return (.silence, events) }
        let usm = BERWriter.constructed(
            0x30,
            [
                BERWriter.octets(self.engineID), BERWriter.integer(self.engineBoots), BERWriter.integer(time),
                BERWriter.octets(v3.userName), BERWriter.octets([]), BERWriter.octets([]),
            ],
            ad: false
        )
        let report = SNMPMessage.encodePDU(
            0xA8,
            requestID: message.pdu?.requestID ?? 0,
            error: 0,
            index: 0,
            bindings: [(counter, .counter32(UInt32(1 + time % 9)))]
        )
        let reply = BERWriter.constructed(
            0x30,
            [
                BERWriter.integer(3),
                BERWriter.constructed(
                    0x30,
                    [
                        BERWriter.integer(v3.messageID), BERWriter.integer(65_507), BERWriter.octets([0x00]),
                        BERWriter.integer(3),
                    ],
                    ad: false
                ),
                BERWriter.octets(usm),
                BERWriter.constructed(
                    0x30,
                    [BERWriter.octets(self.engineID), BERWriter.octets([]), report],
                    ad: false
                ),
            ],
            ad: false
        )
        return (.reply(reply), events)
    }

    static func name(_ type: SNMPMessage.PDUType) -> String {
        switch type {
        case .get: "get"
        case .getNext: "getnext"
        case .getBulk: "getbulk"
        case .set: "set"
        case .response: "response"
        case .trap, .trap2: "trap"
        case .inform: "inform"
        case .report: "report"
        }
    }
}
