import Crypto
import DecnetCore
import Foundation

/// Who a conpot decky is: a Siemens SIMATIC CPU (an S7-300 by default) in a water utility's station, with the
/// identity its SZL lists, Modbus device identification, web pages and SNMP agent all report.
///
/// Names that a real engineer types into the hardware configuration (station name, plant designation) and the
/// factory serial numbers are derived from the decky's hostname, so no two deckies share them, and none is one
/// of conpot's well-known defaults.
struct PLCPersona: Sendable, Equatable {
    /// A CPU type the persona can be, as its order number, module name and firmware line describe it.
    struct Model: Sendable, Equatable {
        /// `plc_model` value.
        var key: String
        /// Product family, as the web page and SNMP name it ("S7-300").
        var family: String
        /// The order number (MLFB) SZL 0x0011 carries, 20 characters padded.
        var orderNumber: String
        /// The CPU's type name (SZL 0x001C index 7).
        var typeName: String
        /// Firmware releases of this order number, one picked per decky.
        var firmwares: [[UInt8]]
        /// Hardware product version (SZL 0x0011 `Ausbe` of the module records).
        var hardware: UInt8
        /// Slots on rack 0 whose TSAP reaches the CPU (an S7-300 CPU sits in slot 2, an S7-1200 answers 0 and 1).
        var slots: Set<UInt8>
        /// Largest S7 PDU the CPU negotiates.
        var maximumPDU: Int
        /// Connection resources the CPU reports (SZL 0x0131).
        var maximumConnections: Int
        /// Production years of the order number, for the serial number.
        var years: ClosedRange<Int>
        /// Whether the web server is an S7-1200's (`/Default.mwsl`) rather than an S7-300/400's (`/Portal0000.htm`).
        var mwsl: Bool
        /// Whether record 2 of SZL 0x001C is a TIA Portal device name (`PLC_1`) rather than the CPU's type.
        var tiaNames: Bool
    }

    static let models: [Model] = [
        Model(
            key: "s7-300",
            family: "S7-300",
            orderNumber: "6ES7 315-2EH14-0AB0",
            typeName: "CPU 315-2 PN/DP",
            firmwares: [[3, 2, 6], [3, 2, 8], [3, 2, 11], [3, 2, 14]],
            hardware: 4,
            slots: [2],
            maximumPDU: 240,
            maximumConnections: 16,
            years: 2010...2016,
            mwsl: false,
            tiaNames: false
        ),
        Model(
            key: "s7-400",
            family: "S7-400",
            orderNumber: "6ES7 414-3EM06-0AB0",
            typeName: "CPU 414-3 PN/DP",
            firmwares: [[6, 0, 3], [6, 0, 5], [6, 0, 6]],
            hardware: 2,
            slots: [3],
            maximumPDU: 480,
            maximumConnections: 32,
            years: 2011...2018,
            mwsl: false,
            tiaNames: false
        ),
        Model(
            key: "s7-1200",
            family: "S7-1200",
            orderNumber: "6ES7 214-1AG40-0XB0",
            typeName: "CPU 1214C DC/DC/DC",
            firmwares: [[4, 2, 3], [4, 4, 0], [4, 5, 2]],
            hardware: 5,
            slots: [0, 1],
            maximumPDU: 240,
            maximumConnections: 8,
            years: 2017...2022,
            mwsl: true,
            tiaNames: true
        ),
    ]

    /// Areas of a water utility a station can serve, with the short code engineers put in station names.
    static let areas: [(code: String, name: String)] = [
        ("BST", "Booster"), ("PS", "Pump Station"), ("RES", "Reservoir"), ("FLT", "Filtration"),
        ("LS", "Lift Station"), ("INT", "Intake"), ("CLW", "Clear Well"),
    ]

    static let sites = [
        "North Hill WTP", "Riverside WW", "Eastfield WTP", "Millbrook WW", "Westgate WTP", "Lakeside WW",
        "Stonebridge WTP", "Oakridge WW",
    ]

    var model: Model
    /// Firmware as major, minor, patch.
    var firmware: [UInt8]
    /// The station (automation system) name, SZL 0x001C index 1.
    var systemName: String
    /// The module name, SZL 0x001C index 2.
    var moduleName: String
    /// The plant designation, SZL 0x001C index 3 (and the SNMP agent's sysLocation).
    var plant: String
    /// "S C-…" serial of the module, SZL 0x001C index 5.
    var serial: String
    /// Serial of the memory card, SZL 0x001C index 8.
    var memoryCard: String
    /// The session password the CPU's protection accepts (`plc_password`); nil: none does.
    var password: String?
    /// Whether the CPU is write-protected (`plc_protection`): setting the operating mode needs the password.
    var protected: Bool
    /// Bytes of the SHA-256 of the hostname, for everything else derived per decky (process phases, counters).
    var digest: [UInt8]

    /// The persona of `hostname`, with the operator's keys over the derived defaults.
    init(persona: [String: String], hostname: String) {
        let digest = Array(SHA256.hash(data: Array("decnet conpot plc \(hostname)".utf8)))
        self.digest = digest
        let key = (persona["plc_model"] ?? "").lowercased().replacingOccurrences(of: " ", with: "")
        let model =
            Self.models.first { $0.key == key || $0.key.replacingOccurrences(of: "-", with: "") == key }
            ?? Self.models[0]
        self.model = model
        self.firmware =
            persona["plc_firmware"].flatMap(Self.version) ?? model.firmwares[Int(digest[5]) % model.firmwares.count]
        let short = String(hostname.split(separator: ".").first ?? "plc").uppercased()
        let digits = String(short.reversed().prefix { $0.isNumber }.reversed())
        let number = Int(digits.suffix(3)) ?? (1 + Int(digest[2]) % 40)
        let station = (number < 10 ? "0" : "") + String(number)
        let area = Self.areas[Int(digest[0]) % Self.areas.count]
        let site = Self.sites[Int(digest[1]) % Self.sites.count]
        self.systemName = Self.fit(persona["plc_system_name"] ?? "\(area.code)\(station)_\(short)", 24)
        self.moduleName = model.tiaNames ? "PLC_\(area.code)\(station)" : model.typeName
        self.plant = Self.fit(persona["plc_plant"] ?? "\(site) \(area.name) \(station)", 32)
        let letters = Array("BCDEHKX"), alphanumerics = Array("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
        let year = model.years.lowerBound + Int(digest[9]) % (model.years.count)
        let serial = UInt32(digest[10]) << 16 | UInt32(digest[11]) << 8 | UInt32(digest[12])
        let four = String(serial % 10_000)
        self.serial = Self.fit(
            persona["plc_serial"]
                ?? (model.mwsl ? "S V-" : "S C-") + String(letters[Int(digest[3]) % letters.count])
                    + String(digest[4] % 10) + "U" + String(alphanumerics[Int(digest[6]) % alphanumerics.count])
                    + String(repeating: "0", count: 4 - four.count) + four + String(year),
            24
        )
        let card = digest[13..<17].map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
        self.memoryCard = model.mwsl ? "SMC \(card)" : "MMC \(card)"
        self.password = persona["plc_password"].flatMap { $0.isEmpty ? nil : String($0.prefix(8)) }
        self.protected = (persona["plc_protection"] ?? "write").lowercased() != "none"
    }

    /// "V3.2.8" or "3.2.8" as three bytes.
    static func version(_ text: String) -> [UInt8]? {
        let parts = text.trimmingWhitespace().drop { $0 == "V" || $0 == "v" }.split(separator: ".").compactMap {
            UInt8($0)
        }
        return parts.count == 3 ? parts : nil
    }

    /// Text cut to what an SZL field of `length` bytes holds (ASCII only, as the CPU stores it).
    static func fit(_ text: String, _ length: Int) -> String {
        String(String(decoding: text.utf8.map { $0 < 0x80 ? $0 : UInt8(ascii: "?") }, as: UTF8.self).prefix(length))
    }

    /// "V3.2.8".
    var firmwareText: String { "V" + self.firmware.map(String.init).joined(separator: ".") }

    /// The order number padded to the 20 characters of an SZL field ("6ES7 315-2EH14-0AB0 ").
    var paddedOrderNumber: [UInt8] { Self.padded(self.model.orderNumber, 20, with: 0x20) }

    /// What the SNMP agent's sysDescr says of this CPU, in the form Siemens CPs and CPUs write it.
    var snmpDescription: String {
        "Siemens, SIMATIC \(self.model.family), \(self.model.typeName), \(self.model.orderNumber), "
            + "HW: \(self.model.hardware), FW: \(self.firmwareText)"
    }

    /// Bytes of `text` in a field of `length`, padded with `fill` (SZL text fields pad with NUL or spaces).
    static func padded(_ text: String, _ length: Int, with fill: UInt8 = 0) -> [UInt8] {
        let bytes = Array(text.utf8.prefix(length))
        return bytes + [UInt8](repeating: fill, count: length - bytes.count)
    }
}
