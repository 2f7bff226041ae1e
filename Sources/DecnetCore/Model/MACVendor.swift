/// A NIC maker whose OUI a decky's MAC address starts with. `nmap -sn` prints the maker beside each host, so the
/// maker has to fit the machine: a Brother OUI on a printer, Dell or HP on a Windows desktop, Cisco on a switch.
public struct MACVendor: Hashable, Sendable {
    /// The organisation name as the IEEE registry writes it (checked against Debian's ieee-data by a test).
    public let name: String
    /// Registered 24-bit prefixes (MA-L), as `00:14:22`.
    public let prefixes: [String]

    public init(_ name: String, _ prefixes: [String]) {
        self.name = name
        self.prefixes = prefixes
    }
}

/// Which kind of hardware a decky's NIC belongs to; picks the vendor pool and the hostname habits.
public enum DeviceClass: String, CaseIterable, Sendable, Codable {
    case server
    case workstation
    case apple
    case printer
    case iot
    case industrial
    case network

    /// Vendors whose NICs turn up on such machines.
    public var vendors: [MACVendor] {
        switch self {
        case .server:
            [
                MACVendor("Dell Inc.", ["00:14:22", "b8:ac:6f", "d4:be:d9"]),
                MACVendor("Hewlett Packard Enterprise", ["70:10:6f"]),
                MACVendor("Super Micro Computer, Inc.", ["00:25:90", "ac:1f:6b"]),
                MACVendor("VMware, Inc.", ["00:50:56", "00:0c:29"]),
                MACVendor("Intel Corporate", ["a0:36:9f", "3c:fd:fe"]),
            ]
        case .workstation:
            [
                MACVendor("Dell Inc.", ["f8:bc:12", "18:66:da"]),
                MACVendor("Hewlett Packard", ["3c:d9:2b", "9c:8e:99", "00:17:a4"]),
                MACVendor("LCFC(HeFei) Electronics Technology co., ltd", ["8c:16:45", "e8:6a:64"]),
                MACVendor("Intel Corporate", ["00:1b:21"]),
                MACVendor("Microsoft Corporation", ["00:15:5d"]),
            ]
        case .apple:
            [
                MACVendor("Apple, Inc.", ["3c:07:54", "a4:5e:60", "f0:18:98"]),
                MACVendor("FreeBSD Foundation", ["58:9c:fc"]),
                MACVendor("NetApp", ["00:a0:98"]),
            ]
        case .printer:
            [
                MACVendor("Hewlett Packard", ["00:1e:0b", "00:1b:78"]),
                MACVendor("Brother industries, LTD.", ["00:80:77", "30:05:5c"]),
                MACVendor("CANON INC.", ["00:00:85"]),
                MACVendor("XEROX CORPORATION", ["00:00:aa"]),
                MACVendor("LEXMARK INTERNATIONAL, INC.", ["00:21:b7"]),
            ]
        case .iot:
            [
                MACVendor("Espressif Inc.", ["24:0a:c4", "30:ae:a4"]),
                MACVendor("Raspberry Pi Trading Ltd", ["dc:a6:32", "e4:5f:01"]),
                MACVendor("Raspberry Pi Foundation", ["b8:27:eb"]),
                MACVendor("Hangzhou Hikvision Digital Technology Co.,Ltd.", ["44:19:b6", "c0:56:e3"]),
            ]
        case .industrial:
            [
                MACVendor("Siemens AG", ["00:0e:8c", "28:63:36"]),
                MACVendor("Rockwell Automation", ["00:00:bc", "00:1d:9c"]),
                MACVendor("TELEMECANIQUE ELECTRIQUE", ["00:80:f4"]),
            ]
        case .network:
            [MACVendor("Cisco Systems, Inc", ["00:00:0c", "00:1a:a1", "00:1e:13", "58:ac:78", "00:26:0b", "f4:cf:e2"])]
        }
    }

    /// The device class for a decky: its archetype when that says more than the OS family does.
    public static func forDecky(archetype: String?, osFamily: OSFamily) -> DeviceClass {
        switch archetype {
        case "printer": return .printer
        case "iot-device": return .iot
        case "industrial-control": return .industrial
        case "windows-server", "domain-controller": return .server
        default: break
        }
        switch osFamily {
        case .linux: return .server
        case .windows: return .workstation
        case .bsd: return .apple
        case .embedded: return .iot
        case .cisco: return .network
        }
    }
}
