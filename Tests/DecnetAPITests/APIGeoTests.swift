import DecnetAPI
import DecnetCore
import DecnetStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Attackers carry their location (the seed's country, ASN and network columns), looked up in the IPFire
/// Location database as they are shown: in the list, the detail, the CSV export and the dashboard.
@Suite("Attacker locations from the location database")
struct APIGeoTests {
    static var ready: Bool {
        ["/var/lib/location/database.db", "/usr/share/libloc-location/location.db"].contains {
            FileManager.default.isReadableFile(atPath: $0)
        } || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    @Test(.enabled(if: ready, "needs libloc-database (apt; required under CI)"))
    func attackersAreShownWithCountryAndAutonomousSystem() async throws {
        let fixture = try await APIFixture()
        defer { fixture.remove() }
        _ = try await fixture.store.ingest(
            [
                SampleEvents.event(.loginFailed, 0, ip: "45.33.32.156", decky: "web01", service: "ssh", session: "g1"),
                SampleEvents.event(.loginFailed, 5, ip: "10.77.0.9", decky: "web01", service: "ssh", session: "g2"),
            ],
            cursor: nil
        )
        try await fixture.test { client in
            let cookie = try await DashboardPageTests.cookie(client)
            let admin = try await client.token("admin", "a-much-better-secret").token
            let list = try #require(try await client.get("/api/v1/attackers", token: admin).1 as? [String: Any])
            let items = try #require(list["items"] as? [[String: Any]])
            let geo = Dictionary(
                uniqueKeysWithValues: items.compactMap { item -> (String, [String: Any])? in
                    guard let ip = item["ip"] as? String, let geo = item["geo"] as? [String: Any] else { return nil }
                    return (ip, geo)
                }
            )
            let linode = try #require(geo["45.33.32.156"], "\(items)")
            #expect(linode["scope"] as? String == "public")
            #expect(linode["country_code"] as? String == "US" && linode["asn"] as? Int == 63949, "\(linode)")
            #expect(linode["network"] as? String == "45.33.32.0/24")
            #expect((linode["source"] as? String)?.hasPrefix("libloc:") == true)
            let lan = try #require(geo["10.77.0.9"])
            #expect(lan["scope"] as? String == "private" && lan["country_code"] == nil)

            let detail = try #require(
                try await client.get("/api/v1/attackers/45.33.32.156", token: admin).1 as? [String: Any]
            )
            #expect(((detail["attacker"] as? [String: Any])?["geo"] as? [String: Any])?["as_name"] as? String != nil)
            var headers: HTTPFields = [:]
            headers[.authorization] = "Bearer \(admin)"
            let csv = try await client.execute(
                uri: "/api/v1/attackers/export?format=csv",
                method: .get,
                headers: headers
            ) {
                String(buffer: $0.body)
            }
            #expect(csv.hasPrefix("ip,") && csv.contains(",country_code,asn,as_name\r\n"), "\(csv)")
            #expect(csv.contains(",US,63949,"), "\(csv)")
            // The dashboard's attacker page says it in words.
            let page = try await client.execute(
                uri: "/attackers/45.33.32.156",
                method: .get,
                headers: [.cookie: cookie]
            ) {
                String(buffer: $0.body)
            }
            #expect(
                page.contains("id=\"attacker-location\">Location: United States of America (US) · AS63949"),
                "\(page)"
            )
        }
    }
}
