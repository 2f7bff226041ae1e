import DecnetAPI
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// `/identities`, `/campaigns` and `/bounty` and their pages, on a store the profiler worker filled from events as
/// the services log them: a botnet of six addresses with one list and one client, a seventh address with the same
/// list from another client (a separate identity, in the same campaign), and a lone scanner.
@Suite struct APIIntelTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)
    static let list = (1...10).map { "svc\($0):Summer\($0)!" } + ["root:<script>alert(1)</script>"]

    static func stuffer(_ ip: String, hassh: String, client: String, at offset: TimeInterval) -> [LogEntry] {
        var entries = [
            SampleEvents.event(
                .clientFingerprint,
                offset,
                ip: ip,
                decky: "web01",
                service: "ssh",
                session: "f",
                [("client_version", client), ("hassh", hassh)]
            )
        ]
        for (index, credential) in Self.list.enumerated() {
            let parts = credential.split(separator: ":", maxSplits: 1).map(String.init)
            entries.append(
                SampleEvents.event(
                    .loginFailed,
                    offset + 1 + Double(index) * 0.7,
                    ip: ip,
                    decky: index % 2 == 0 ? "web01" : "db01",
                    service: "ssh",
                    session: "s\(index)",
                    [("username", parts[0]), ("password", parts[1])]
                )
            )
        }
        return entries
    }

    /// A fixture whose store the worker has profiled.
    static func profiled() async throws -> (APIFixture, ProfilerWorker) {
        let fixture = try await APIFixture()
        var entries = (1...6).flatMap {
            Self.stuffer(
                "10.80.0.\($0)",
                hassh: "be31134219a24899a8a0c29c7797ba94",
                client: "SSH-2.0-libssh_0.10.6",
                at: 0
            )
        }
        entries += Self.stuffer(
            "10.80.1.1",
            hassh: "a704be057881f0b1d623cd263e477a8b",
            client: "SSH-2.0-paramiko_2.12.0",
            at: 30
        )
        entries += (0..<12).map {
            SampleEvents.event(
                .connectionOpen,
                Double($0) * 0.1,
                ip: "10.80.9.9",
                decky: "web01",
                service: "http",
                session: "c\($0)"
            )
        }
        _ = try await fixture.store.ingest(entries, cursor: nil)
        // Each run an hour after the last, as a clock would have it.
        let runs = Mutex(0)
        let worker = ProfilerWorker(
            store: fixture.store,
            clock: {
                Self.start.addingTimeInterval(
                    3600
                        * Double(
                            runs.withLock {
                                $0 += 1
                                return $0
                            }
                        )
                )
            }
        )
        try await worker.runOnce()
        return (fixture, worker)
    }

    @Test func identitiesCampaignsAndBountyAreServed() async throws {
        let (fixture, _) = try await Self.profiled()
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let (status, body) = try await client.get("/api/v1/identities", token: admin)
            #expect(status == .ok)
            let page = try #require(body as? [String: Any])
            // The paramiko address is alone: an identity has two addresses or more.
            #expect(page["total"] as? Int == 1)
            let items = try #require(page["items"] as? [[String: Any]])
            let botnet = try #require(items.first)
            #expect(botnet["member_count"] as? Int == 6)
            #expect(botnet["behaviour"] as? String == "credential-stuffer")
            let kinds = (botnet["reasons"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
            #expect(kinds.contains("credential-list") && kinds.contains("client-fingerprint"))
            let uuid = try #require(botnet["uuid"] as? String)

            let (detailStatus, detail) = try await client.get("/api/v1/identities/\(uuid)", token: admin)
            #expect(detailStatus == .ok)
            let identity = try #require(detail as? [String: Any])
            let attackers = try #require(identity["attackers"] as? [[String: Any]])
            #expect(attackers.count == 6 && attackers.allSatisfy { $0["credentials"] as? Int == 11 })
            let links = try #require(identity["links"] as? [[String: Any]])
            #expect(!links.isEmpty && links.allSatisfy { ($0["score"] as? Double ?? 0) >= 1.0 })
            let campaign = try #require((identity["identity"] as? [String: Any])?["campaign"] as? String)

            #expect(
                try await client.get("/api/v1/identities/00000000-0000-0000-0000-000000000000", token: admin).0
                    == .notFound
            )
            #expect(try await client.get("/api/v1/identities/not%20a%20uuid", token: admin).0 == .badRequest)
            #expect(try await client.get("/api/v1/identities?state=gone", token: admin).0 == .badRequest)

            let (campaignStatus, campaignBody) = try await client.get("/api/v1/campaigns/\(campaign)", token: admin)
            #expect(campaignStatus == .ok)
            let detailCampaign = try #require(campaignBody as? [String: Any])
            #expect((detailCampaign["campaign"] as? [String: Any])?["attacker_count"] as? Int == 7)
            // The botnet's identity and the lone paramiko address, related by the list and the pace.
            #expect((detailCampaign["identities"] as? [[String: Any]])?.count == 1)
            let actors = (detailCampaign["campaign"] as? [String: Any])?["actors"] as? [String]
            #expect(actors == [uuid, "ip:10.80.1.1"].sorted())
            let campaigns = try #require(try await client.get("/api/v1/campaigns", token: admin).1 as? [String: Any])
            #expect(campaigns["total"] as? Int == 1)

            let attacker = try #require(
                try await client.get("/api/v1/attackers/10.80.0.2", token: admin).1 as? [String: Any]
            )
            #expect(attacker["identity"] as? String == uuid && attacker["campaign"] as? String == campaign)
            let scanner = try #require(
                try await client.get("/api/v1/attackers/10.80.9.9", token: admin).1 as? [String: Any]
            )
            #expect(scanner["identity"] == nil)

            let bounty = try #require(
                try await client.get("/api/v1/bounty?kind=credential&limit=5", token: admin).1 as? [String: Any]
            )
            #expect(bounty["total"] as? Int == 77)
            #expect((bounty["items"] as? [[String: Any]])?.count == 5)
            #expect((bounty["items"] as? [[String: Any]])?.allSatisfy { $0["kind"] as? String == "credential" } == true)
            let leaders = try #require(bounty["leaders"] as? [[String: Any]])
            // The seven who logged in scored; knocking on one port did not.
            #expect(leaders.count == 7 && leaders.first?["score"] as? Int ?? 0 > 0)
            #expect(try await client.get("/api/v1/bounty?kind=gold", token: admin).0 == .badRequest)

            // Exports: the identity as an intrusion set in a STIX bundle, the campaign as a MISP event.
            let stix = try #require(
                try await client.get("/api/v1/identities/\(uuid)/export/stix", token: admin).1 as? [String: Any]
            )
            #expect(stix["type"] as? String == "bundle")
            let objects = stix["objects"] as? [[String: Any]] ?? []
            #expect(objects.filter { $0["type"] as? String == "indicator" }.count == 6)
            #expect(objects.contains { $0["type"] as? String == "intrusion-set" })
            let misp = try #require(
                try await client.get("/api/v1/campaigns/\(campaign)/export/misp", token: admin).1 as? [String: Any]
            )
            let event = try #require(misp["Event"] as? [String: Any])
            #expect((event["Attribute"] as? [[String: Any]])?.filter { $0["type"] as? String == "ip-src" }.count == 7)
            let attackerBundle = try #require(
                try await client.get("/api/v1/attackers/10.80.9.9/export/stix", token: admin).1 as? [String: Any]
            )
            #expect(attackerBundle["type"] as? String == "bundle")
            #expect(try await client.get("/api/v1/attackers/10.80.9.9/export/pdf", token: admin).0 == .badRequest)
            #expect(try await client.get("/api/v1/attackers/10.9.9.9/export/stix", token: admin).0 == .notFound)
            #expect(try await client.get("/api/v1/identities", token: nil).0 == .unauthorized)
        }
    }

    /// Merge and unmerge: admins only, refused with a reason when they cannot apply, and applied by the
    /// profiler's next run.
    @Test func anAdminMergesAndUnmerges() async throws {
        let (fixture, worker) = try await Self.profiled()
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let items = try #require(
                (try await client.get("/api/v1/identities", token: admin).1 as? [String: Any])?["items"]
                    as? [[String: Any]]
            )
            let botnet = try #require(items.first { $0["member_count"] as? Int == 6 }?["uuid"] as? String)
            #expect(
                try await client.send(
                    .post,
                    "/api/v1/users",
                    token: admin,
                    json: [:]
                ).0 == .notFound
            )
            // Split two addresses off, then merge them back.
            let split = try await client.send(
                .post,
                "/api/v1/identities/\(botnet)/unmerge",
                token: admin,
                json: ["attackers": ["10.80.0.5", "10.80.0.6"]]
            )
            #expect(split.0 == .accepted, "\(String(describing: split.1))")
            #expect((split.1 as? [String: Any])?["action"] as? String == "split")
            let refused = try await client.send(.post, "/api/v1/identities/\(botnet)/unmerge", token: admin, json: [:])
            #expect(refused.0 == .badRequest)
            #expect(((refused.1 as? [String: Any])?["detail"] as? String)?.contains("not merged") == true)
            try await worker.runOnce()
            let after = try #require(
                (try await client.get("/api/v1/identities", token: admin).1 as? [String: Any])?["items"]
                    as? [[String: Any]]
            )
            let counts = after.compactMap { $0["member_count"] as? Int }.sorted()
            #expect(counts == [2, 4])
            let other = try #require(after.first { $0["member_count"] as? Int == 2 }?["uuid"] as? String)
            let merge = try await client.send(
                .post,
                "/api/v1/identities/\(botnet)/merge",
                token: admin,
                json: ["identity": other]
            )
            #expect(merge.0 == .accepted)
            #expect(
                try await client.send(
                    .post,
                    "/api/v1/identities/\(botnet)/merge",
                    token: admin,
                    json: ["identity": botnet]
                ).0 == .badRequest
            )
            #expect(
                try await client.send(
                    .post,
                    "/api/v1/identities/\(botnet)/merge",
                    token: admin,
                    json: ["identity": "00000000-0000-0000-0000-000000000000"]
                ).0 == .notFound
            )
            try await worker.runOnce()
            let merged = try #require(
                (try await client.get("/api/v1/identities/\(other)", token: admin).1 as? [String: Any])?["identity"]
                    as? [String: Any]
            )
            #expect(merged["state"] as? String == "merged" && merged["merged_into"] as? String == botnet)

            // A viewer reads, and cannot decide.
            _ = try await client.send(
                .post,
                "/api/v1/auth/users",
                token: admin,
                json: ["username": "analyst", "password": "viewer-password-1", "role": "viewer"]
            )
            let first = try await client.token("analyst", "viewer-password-1").token
            _ = try await client.send(
                .post,
                "/api/v1/auth/change-password",
                token: first,
                json: ["old_password": "viewer-password-1", "new_password": "viewer-password-2"]
            )
            let viewer = try await client.token("analyst", "viewer-password-2").token
            #expect(try await client.get("/api/v1/identities", token: viewer).0 == .ok)
            #expect(
                try await client.send(.post, "/api/v1/identities/\(botnet)/unmerge", token: viewer, json: [:]).0
                    == .forbidden
            )
        }
    }

    @Test func thePagesShowIdentitiesCampaignsAndBountyEscaped() async throws {
        let (fixture, _) = try await Self.profiled()
        try await fixture.test { client in
            let cookie = try await DashboardPageTests.cookie(client)
            func page(_ path: String) async throws -> String {
                try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]) { response in
                    #expect(response.status == .ok, "\(path)")
                    return String(buffer: response.body)
                }
            }
            let identities = try await page("/identities")
            #expect(identities.contains("id=\"identities\"") && identities.contains("credential-list"))
            let uuid = try #require(
                identities.range(of: #"href="/identities/([0-9a-f-]+)""#, options: .regularExpression).map {
                    String(identities[$0].dropFirst(#"href="/identities/"#.count).dropLast())
                }
            )
            let identity = try await page("/identities/\(uuid)")
            #expect(identity.contains("id=\"identity-members\"") && identity.contains("10.80.0.1"))
            #expect(identity.contains("the same credential list in the same order"))
            #expect(identity.contains("href=\"/api/v1/identities/\(uuid)/export/stix\""))
            // The link downloads with the page's session.
            try await client.execute(
                uri: "/api/v1/identities/\(uuid)/export/stix",
                method: .get,
                headers: [.cookie: cookie]
            ) {
                #expect($0.status == .ok && $0.headers[.contentDisposition]?.contains("decnet-stix.json") == true)
            }
            let campaigns = try await page("/campaigns")
            #expect(campaigns.contains("id=\"campaigns\"") && campaigns.contains("credentials"))
            let bounty = try await page("/bounty")
            #expect(bounty.contains("id=\"bounty-leaders\""))
            // The attacker's password is shown as text, never as markup.
            #expect(bounty.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !bounty.contains("<script>alert(1)"))
            let attacker = try await page("/attackers/10.80.0.1")
            #expect(attacker.contains("id=\"attacker-belongs\"") && attacker.contains("/identities/\(uuid)"))
            for path in ["/identities", "/campaigns", "/bounty", "/identities/\(uuid)"] {
                try await client.execute(uri: path, method: .get) { #expect($0.status == .seeOther, "\(path)") }
            }
        }
    }
}
