import DecnetTesting
import Foundation
import Testing

/// `decnet geoip` as the seed's command: lookups in `location`'s layout and as JSON, and clear errors.
@Suite struct GeoIPCommandTests {
    @Test(.enabled(if: GeoIPCommandTests.ready, "needs libloc-database (apt; required under CI)"))
    func lookupPrintsNetworkCountryAndAutonomousSystem() async throws {
        let text = try await DecnetBinaryTests.decnet(["geoip", "lookup", "8.8.8.8", "192.168.1.20"])
        #expect(text.status == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("  Network                 : 8.8.8.0/24\n"), "\(text.standardOutput)")
        #expect(
            text.standardOutput.contains("  Autonomous System       : AS15169 - GOOGLE\n"),
            "\(text.standardOutput)"
        )
        #expect(text.standardOutput.contains("  Country                 : United States of America (US)\n"))
        #expect(
            text.standardOutput.contains("192.168.1.20:\n  Scope                   : private"),
            "\(text.standardOutput)"
        )
        let json = try await DecnetBinaryTests.decnet(["geoip", "lookup", "--json", "1.1.1.1"])
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [[String: Any]]
        )
        #expect(rows.first?["countryCode"] as? String == "AU" && rows.first?["asn"] as? Int == 13335, "\(rows)")
        let info = try await DecnetBinaryTests.decnet(["geoip", "info"])
        #expect(info.standardOutput.contains("Vendor   : IPFire Project"), "\(info.standardOutput)")
    }

    @Test func badAddressesAndMissingDatabasesAreClearErrors() async throws {
        let bad = try await DecnetBinaryTests.decnet(["geoip", "lookup", "8.8.8"])
        #expect(
            bad.status != 0 && bad.standardError.contains("'8.8.8' is not an IPv4 or IPv6 address"),
            "\(bad.standardError)"
        )
        let missing = try await DecnetBinaryTests.decnet([
            "geoip", "lookup", "--database", "/nonexistent/location.db", "8.8.8.8",
        ])
        #expect(
            missing.status != 0
                && missing.standardError.contains("cannot open the location database /nonexistent/location.db")
        )
    }

    static var ready: Bool {
        ["/var/lib/location/database.db", "/usr/share/libloc-location/location.db"].contains {
            FileManager.default.isReadableFile(atPath: $0)
        } || ExternalTool.isCI
    }
}
