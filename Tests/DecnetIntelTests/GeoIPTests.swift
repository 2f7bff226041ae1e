import DecnetIntel
import DecnetTesting
import Foundation
import Testing

/// GeoIP and ASN from Debian's IPFire Location database through libloc, checked against Debian's own `location`
/// tool reading the same file, so the expected values follow whatever database is installed.
@Suite struct GeoIPTests {
    static let locationTool = ExternalTool("location", package: "location")
    static var database: String? { LocationDatabase.defaultPath() }
    static var ready: Bool { (Self.database != nil && Self.locationTool.path != nil) || ExternalTool.isCI }

    /// Public resolvers and hosts the research checked, an anycast and an anonymous-proxy network among them.
    static let addresses = ["8.8.8.8", "1.1.1.1", "9.9.9.9", "2606:4700:4700::1111", "185.220.101.1", "45.33.32.156"]

    /// What `location lookup ADDRESS` prints, as label → value.
    static func location(_ address: String) async throws -> [String: String] {
        let tool = try #require(Self.locationTool.path, "\(Self.locationTool.missingMessage)")
        let result = try await ProcessRunner.run(tool, ["lookup", address])
        var fields: [String: String] = [:]
        for line in result.standardOutput.split(separator: "\n") where line.contains(" : ") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    @Test(.enabled(if: ready, "needs libloc-database and location (apt; required under CI)"))
    func publicAddressesResolveAsDebiansLocationToolSays() async throws {
        let path = try #require(Self.database, "install libloc-database")
        let database = try LocationDatabase(path: path)
        #expect(database.vendor == "IPFire Project" && database.license.contains("CC"))
        #expect(database.source.hasPrefix("libloc:20"))
        for address in Self.addresses {
            let expected = try await Self.location(address)
            let record = try #require(database.lookup(address))
            #expect(record.scope == .public)
            #expect(record.network == expected["Network"], "\(address): \(record) vs \(expected)")
            #expect(record.countryName == expected["Country"], "\(address): \(record) vs \(expected)")
            let autonomousSystem = record.asn.map { "AS\($0) - \(record.asName ?? "")" }
            #expect(autonomousSystem == expected["Autonomous System"], "\(address): \(record) vs \(expected)")
            #expect(record.flags.contains("anycast") == (expected["Anycast"] == "yes"), "\(address)")
            #expect(record.flags.contains("anonymous-proxy") == (expected["Anonymous Proxy"] == "yes"), "\(address)")
            #expect(record.source == database.source)
        }
        // The research's traps: Cloudflare's resolver is registered in Australia; a Tor exit is an anonymous proxy.
        #expect(database.lookup("1.1.1.1")?.countryCode == "AU")
        #expect(database.lookup("8.8.8.8")?.asn == 15169)
    }

    @Test(.enabled(if: ready, "needs libloc-database (apt; required under CI)"))
    func specialPurposeAddressesAreNamedAndNeverLookedUp() throws {
        let database = try LocationDatabase(path: try #require(Self.database, "install libloc-database"))
        let table: [(String, AddressScope)] = [
            ("192.168.1.1", .private), ("10.97.0.20", .private), ("172.31.255.254", .private),
            ("100.64.0.1", .sharedAddressSpace), ("127.0.0.1", .loopback), ("169.254.10.1", .linkLocal),
            ("192.0.2.1", .documentation), ("198.51.100.7", .documentation), ("203.0.113.9", .documentation),
            ("198.18.0.1", .benchmarking), ("224.0.0.251", .multicast), ("255.255.255.255", .reserved),
            ("0.0.0.0", .unspecified), ("::1", .loopback), ("::", .unspecified), ("fe80::1", .linkLocal),
            ("fd12:3456::1", .private), ("ff02::1", .multicast), ("2001:db8::1", .documentation),
            ("::ffff:192.168.0.1", .private), ("172.32.0.1", .public),
        ]
        for (address, scope) in table {
            let record = try #require(database.lookup(address), "\(address)")
            #expect(record.scope == scope, "\(address) is \(record.scope), not \(scope)")
            if scope != .public {
                #expect(record.countryCode == nil && record.asn == nil && record.source == nil, "\(address)")
            }
        }
    }

    @Test func hostileTextIsNotAnAddress() {
        for text in [
            "", "8.8.8", "8.8.8.8.8", "256.1.1.1", "::g", "1.1.1.1/24", " 8.8.8.8", "8.8.8.8\0",
            "a" + String(repeating: ":", count: 5_000),
        ] {
            #expect(AddressScope(text) == nil, "\(text.prefix(20))")
        }
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.url.appendingPathComponent("location.db").path
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: LocationDatabase.Failure.self) { try LocationDatabase(path: path) }
        #expect(throws: LocationDatabase.Failure.self) { try LocationDatabase(path: directory.path + "/missing.db") }
    }
}
