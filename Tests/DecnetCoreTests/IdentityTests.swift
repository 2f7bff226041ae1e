import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// MAC vendors and hostnames: what `nmap -sn` and NetBIOS show of a decky.
@Suite struct IdentityTests {
    /// Every OUI we hand out is registered to the vendor we say, per the IEEE registry Debian ships.
    @Test(.enabled(if: ExternalFile.ieeeOUI.isUsable, "needs /usr/share/ieee-data/oui.txt (required under CI)"))
    func vendorPrefixesAreRegisteredToTheirVendor() throws {
        let file = ExternalFile.ieeeOUI
        try #require(file.exists, "\(file.missingMessage)")
        let registry = try String(contentsOfFile: file.path, encoding: .utf8)
        var owners: [String: String] = [:]
        for line in registry.split(whereSeparator: \.isNewline) where line.contains("(hex)") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: true)
            guard let prefix = line.split(separator: " ").first, parts.count >= 2 else { continue }
            owners[prefix.lowercased().replacingOccurrences(of: "-", with: ":")] =
                parts.last!.trimmingWhitespace()
        }
        #expect(owners.count > 10_000)
        for deviceClass in DeviceClass.allCases {
            for vendor in deviceClass.vendors {
                for prefix in vendor.prefixes {
                    #expect(owners[prefix] == vendor.name, "\(prefix) of \(deviceClass)")
                }
            }
        }
    }

    @Test func generatedMACsAreUnicastAndCarryTheVendorPrefix() {
        var generator = SeededGenerator(seed: 42)
        for deviceClass in DeviceClass.allCases {
            for vendor in deviceClass.vendors {
                for _ in 0..<50 {
                    let mac = MACAddress.random(from: vendor, using: &generator)
                    #expect(mac.isUnicast)
                    #expect(vendor.prefixes.contains(mac.oui))
                }
            }
        }
    }

    @Test func hostnamesAreValidUniqueAndFitTheirOS() throws {
        var generator = SeededGenerator(seed: 7)
        var names = HostnameGenerator()
        var seen: Set<String> = []
        for index in 0..<2000 {
            let family = OSFamily.allCases[index % 5]
            let archetype = ArchetypeCatalogue.all[index % ArchetypeCatalogue.all.count]
            let deviceClass = DeviceClass.forDecky(archetype: archetype.slug, osFamily: family)
            let vendor = deviceClass.vendors.randomElement(using: &generator)!
            let mac = MACAddress.random(from: vendor, using: &generator)
            let subject = HostnameGenerator.Subject(
                distro: DistroCatalogue.all[index % 9],
                osFamily: family,
                deviceClass: deviceClass,
                role: HostnameGenerator.role(archetype: archetype, services: archetype.services),
                ip: IPv4Address(UInt32(0x0A00_0000 + index)),
                mac: mac,
                vendor: vendor
            )
            let name = names.hostname(for: subject, using: &generator)
            #expect(InputSyntax.isHostname(name), "\(name)")
            #expect(seen.insert(name.lowercased()).inserted, "\(name) repeated")
            if family == .windows && deviceClass == .workstation {
                #expect(name.count <= 15, "NetBIOS names are at most 15 characters: \(name)")
            }
        }
    }

    @Test func factoryNamesFollowTheMAC() throws {
        var generator = SeededGenerator(seed: 1)
        var names = HostnameGenerator()
        let brother = MACVendor("Brother industries, LTD.", ["00:80:77"])
        let mac = try #require(MACAddress("00:80:77:ab:cd:ef"))
        let subject = HostnameGenerator.Subject(
            distro: DistroCatalogue.all[0],
            osFamily: .embedded,
            deviceClass: .printer,
            role: "printer",
            ip: IPv4Address("10.0.0.5")!,
            mac: mac,
            vendor: brother
        )
        #expect(names.hostname(for: subject, using: &generator) == "BRN008077ABCDEF")
        var hp = subject
        hp.vendor = MACVendor("Hewlett Packard", ["00:1e:0b"])
        hp.mac = MACAddress("00:1e:0b:12:34:56")!
        #expect(names.hostname(for: hp, using: &generator) == "NPI123456")
    }

    @Test func rolesComeFromArchetypeThenServices() {
        #expect(
            HostnameGenerator.role(archetype: ArchetypeCatalogue.archetype(for: "mail-server"), services: []) == "mail"
        )
        #expect(HostnameGenerator.role(archetype: nil, services: ["ssh", "mysql"]) == "db")
        #expect(HostnameGenerator.role(archetype: nil, services: ["tftp"]) == "host")
    }
}
