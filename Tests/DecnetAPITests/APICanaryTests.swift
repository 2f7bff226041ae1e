import DecnetAPI
import DecnetConfig
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `/canary` over a real SQLite store and a state directory with a planned fleet: `decky-1` serves `canary` (the
/// tokens' web server), `decky-2` is where they are planted.
@Suite struct APICanaryTests {
    /// Writes the fleet state; returns the canary decky's address.
    static func plannedFleet(in directory: String) throws -> String {
        var request = FleetRequest()
        request.net = Located(IPv4Network("10.78.0.0/24")!, at: .commandLine, key: "--subnet")
        request.seed = 11
        for (number, services) in [(1, ["ssh", "canary"]), (2, ["ssh", "http"])] {
            var decky = DeckyRequest(name: "decky-\(number)", origin: .commandLine)
            decky.services = Located(services.map { ServiceKind($0) }, at: .commandLine, key: "--services")
            request.deckies.append(decky)
        }
        let fleet = try FleetPlanner().plan(request)
        try FleetState(
            driver: "native",
            mode: "unihost",
            deployed: false,
            composeFile: nil,
            configFile: nil,
            fleet: fleet
        )
        .write(toDirectory: directory)
        return try #require(fleet.deckies.first { $0.name == "decky-1" }?.ip.description)
    }

    /// A `canary.triggered` event as the canary service on `decky-1` logs it.
    static func trigger(
        _ token: CanaryToken,
        at offset: TimeInterval,
        from ip: String,
        via: String = "http",
        _ extra: [(String, String)]
    ) -> LogEntry {
        var fields: [(String, String)] = [
            ("token", token.id), ("token_kind", token.kind.rawValue), ("label", token.label),
        ]
        if let decky = token.decky { fields.append(("planted_decky", decky)) }
        if let path = token.path { fields.append(("planted_path", path)) }
        fields.append(("via", via))
        return SampleEvents.event(
            .canaryTriggered,
            offset,
            ip: ip,
            decky: "decky-1",
            service: "canary",
            session: "c\(Int(offset))",
            fields + extra
        )
    }

    @Test(
        "Plant, list with trigger counts, triggers newest first, one token's detail, revoke; answers match the document"
    )
    func plantListTriggersRevoke() async throws {
        let fixture = try await APIFixture()
        let state = fixture.directory.path
        let canaryIP = try Self.plannedFleet(in: state)
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let schema = try await OpenAPIConformance(client, token: admin)
            let (created, planted) = try await client.send(
                .post,
                "/api/v1/canary",
                token: admin,
                json: ["type": "url", "label": "prod .env", "decky": "decky-2"]
            )
            #expect(created == .created, "\(planted ?? "")")
            let url = try #require(planted as? [String: Any])
            schema.expect(url, matches: "CanaryToken")
            let id = try #require(url["id"] as? String)
            #expect(CanaryToken.isID(id))
            #expect(url["decky"] as? String == "decky-2" && url["path"] as? String == "/opt/app/.env")
            #expect(url["url"] as? String == "http://\(canaryIP)/c/\(id)")
            #expect(url["hostname"] is NSNull && url["revoked"] is NSNull)
            #expect(url["active"] as? Bool == true && OpenAPIConformance.kind(url["triggers"] as Any) == "integer")
            // The file is in decky-2's tree, carrying the URL, and the record is where the canary service reads it.
            let file = state + "/deckies/decky-2/planted/opt/app/.env"
            let contents = try String(contentsOfFile: file, encoding: .utf8)
            #expect(contents.contains("http://\(canaryIP)/c/\(id)"))
            #expect(CanaryTokenDirectory(stateDirectory: state).token(id)?.label == "prod .env")

            // A dns token needs a zone: the fleet's canary service has none, the request names one.
            let (noZone, noZoneBody) = try await client.send(
                .post,
                "/api/v1/canary",
                token: admin,
                json: ["type": "dns", "label": "ssh config", "decky": "decky-2"]
            )
            #expect(noZone == .badRequest)
            #expect(((noZoneBody as? [String: Any])?["detail"] as? String)?.contains("or pass zone") == true)
            let dns = try #require(
                try await client.send(
                    .post,
                    "/api/v1/canary",
                    token: admin,
                    json: ["type": "dns", "label": "ssh config", "decky": "decky-2", "zone": "c.corp.example"]
                ).1 as? [String: Any]
            )
            let dnsID = try #require(dns["id"] as? String)
            #expect(dns["hostname"] as? String == "\(dnsID).c.corp.example" && dns["url"] is NSNull)
            // Minted for the operator to place: planted nowhere, calling home where the request says.
            let minted = try #require(
                try await client.send(
                    .post,
                    "/api/v1/canary",
                    token: admin,
                    json: ["type": "url", "label": "wiki page", "base_url": "http://203.0.113.5:8080"]
                ).1 as? [String: Any]
            )
            let mintedID = try #require(minted["id"] as? String)
            #expect(minted["decky"] is NSNull && minted["path"] is NSNull)
            #expect(minted["url"] as? String == "http://203.0.113.5:8080/c/\(mintedID)")

            // Refusals, each with its reason.
            for (body, reason) in [
                (["type": "pdf", "label": "x"], "type must be"),
                (["type": "url", "label": "x", "decky": "nope"], "no such decky in the deployed fleet"),
                (["type": "url", "label": "x", "decky": "decky-2", "path": "/var/../etc/x"], "path /var/../etc/x"),
                (["type": "url", "label": "x", "base_url": "ftp://example.com"], "or pass base_url"),
                (["type": "url", "label": "  "], "label must be"),
                (["type": "url"], "`label` not found"),
            ] as [([String: Any], String)] {
                let (status, answer) = try await client.send(.post, "/api/v1/canary", token: admin, json: body)
                let detail = (answer as? [String: Any])?["detail"] as? String ?? ""
                #expect(status == .badRequest && detail.contains(reason), "\(body): \(status) \(detail)")
            }

            // Three uses of the .env URL (two addresses), one lookup of the DNS name.
            let tokens = CanaryTokenDirectory(stateDirectory: state)
            let urlToken = try #require(tokens.token(id))
            let dnsToken = try #require(tokens.token(dnsID))
            _ = try await fixture.store.ingest(
                [
                    Self.trigger(
                        urlToken,
                        at: 10,
                        from: "198.51.100.7",
                        [("method", "GET"), ("url", "/c/\(id)"), ("user_agent", "curl/8.5.0")]
                    ),
                    Self.trigger(
                        dnsToken,
                        at: 20,
                        from: "10.78.0.53",
                        via: "dns",
                        [("qname", "\(dnsID).C.corp.example")]
                    ),
                    Self.trigger(
                        urlToken,
                        at: 30,
                        from: "198.51.100.7",
                        [("method", "GET"), ("url", "/c/\(id)?x=1"), ("user_agent", "python-requests/2.31")]
                    ),
                    Self.trigger(
                        urlToken,
                        at: 40,
                        from: "192.0.2.44",
                        [("method", "HEAD"), ("url", "/c/\(id)"), ("referer", "http://intranet/")]
                    ),
                ],
                cursor: nil
            )
            let list = try #require(try await client.get("/api/v1/canary", token: admin).1 as? [String: Any])
            schema.expect(list, matches: "CanaryTokenPage")
            #expect(list["total"] as? Int == 3)
            let items = try #require(list["items"] as? [[String: Any]])
            let counts = Dictionary(
                uniqueKeysWithValues: items.map { ($0["id"] as? String ?? "", $0["triggers"] as? Int) }
            )
            #expect(counts == [id: 3, dnsID: 1, mintedID: 0])
            let second = try #require(
                try await client.get("/api/v1/canary?limit=1&offset=1", token: admin).1 as? [String: Any]
            )
            #expect((second["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [items[1]["id"] as? String])
            #expect(try await client.get("/api/v1/canary?limit=0", token: admin).0 == .badRequest)

            let triggers = try #require(
                try await client.get("/api/v1/canary/triggers", token: admin).1 as? [String: Any]
            )
            schema.expect(triggers, matches: "CanaryTriggerPage")
            #expect(triggers["total"] as? Int == 4)
            let rows = try #require(triggers["items"] as? [[String: Any]])
            #expect(
                rows.map { $0["source"] as? String } == ["192.0.2.44", "198.51.100.7", "10.78.0.53", "198.51.100.7"]
            )
            #expect(rows[0]["referer"] as? String == "http://intranet/" && rows[0]["user_agent"] is NSNull)
            #expect(rows[1]["user_agent"] as? String == "python-requests/2.31" && rows[1]["qname"] is NSNull)
            #expect(
                rows[1]["planted_decky"] as? String == "decky-2"
                    && rows[1]["planted_path"] as? String == "/opt/app/.env"
            )
            #expect(rows[1]["decky"] as? String == "decky-1" && rows[1]["label"] as? String == "prod .env")
            #expect(rows[2]["via"] as? String == "dns" && rows[2]["qname"] as? String == "\(dnsID).C.corp.example")
            #expect(rows[2]["type"] as? String == "dns" && rows[2]["url"] is NSNull)
            let page = try #require(
                try await client.get("/api/v1/canary/triggers?limit=2&offset=2", token: admin).1 as? [String: Any]
            )
            #expect(
                (page["items"] as? [[String: Any]])?.map { $0["source"] as? String } == ["10.78.0.53", "198.51.100.7"]
            )

            // One token, its triggers newest first; ids are looked up in any letter case.
            let detail = try #require(
                try await client.get("/api/v1/canary/\(id.uppercased())", token: admin).1 as? [String: Any]
            )
            schema.expect(detail, matches: "CanaryDetail")
            #expect((detail["token"] as? [String: Any])?["id"] as? String == id)
            #expect(
                (detail["triggers"] as? [[String: Any]])?.map { $0["url"] as? String } == [
                    "/c/\(id)", "/c/\(id)?x=1", "/c/\(id)",
                ]
            )
            #expect(
                try await client.get("/api/v1/canary/\(String(repeating: "a", count: 20))", token: admin).0 == .notFound
            )
            #expect(try await client.get("/api/v1/canary/not-a-token", token: admin).0 == .badRequest)

            // Revoked: the file leaves the decky, the token stays listed with its triggers and is silent.
            let (revokedStatus, revokedBody) = try await client.send(.delete, "/api/v1/canary/\(id)", token: admin)
            #expect(revokedStatus == .ok)
            let revoked = try #require(revokedBody as? [String: Any])
            schema.expect(revoked, matches: "CanaryToken")
            #expect(
                revoked["active"] as? Bool == false && revoked["revoked"] is String && revoked["triggers"] as? Int == 3
            )
            #expect(!FileManager.default.fileExists(atPath: file))
            #expect(CanaryTokenLookup(CanaryTokenDirectory(stateDirectory: state)).token(id)?.isActive == false)
            let after = try #require(try await client.get("/api/v1/canary/\(id)", token: admin).1 as? [String: Any])
            #expect((after["token"] as? [String: Any])?["active"] as? Bool == false)
            #expect(try await client.send(.delete, "/api/v1/canary/\(id)", token: admin).0 == .ok)  // again: no-op
            #expect(
                try await client.send(.delete, "/api/v1/canary/\(String(repeating: "b", count: 20))", token: admin).0
                    == .notFound
            )
            #expect(try await client.send(.delete, "/api/v1/canary/x", token: admin).0 == .badRequest)
        }
    }

    @Test("Tokens are listed newest first; a viewer reads them and cannot plant or revoke")
    func orderAndRoles() async throws {
        let fixture = try await APIFixture()
        let planter = CanaryPlanter(stateDirectory: fixture.directory.path)
        let endpoint = CanaryPlanter.Endpoint(baseURL: "http://10.78.0.9", zone: nil)
        var planted: [String] = []
        for day in 0..<3 {
            planted.append(
                try planter.plant(
                    kind: .url,
                    decky: nil,
                    hostname: "fileserver",
                    label: "token \(day)",
                    path: nil,
                    endpoint: endpoint,
                    now: SampleEvents.start.addingTimeInterval(Double(day) * 86_400)
                ).token.id
            )
        }
        let ids = planted
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let viewer = try await client.viewerToken(admin: admin)
            let list = try #require(try await client.get("/api/v1/canary", token: viewer).1 as? [String: Any])
            #expect((list["items"] as? [[String: Any]])?.map { $0["id"] as? String } == ids.reversed())
            #expect(try await client.get("/api/v1/canary/triggers", token: viewer).0 == .ok)
            #expect(try await client.get("/api/v1/canary/\(ids[0])", token: viewer).0 == .ok)
            let (planted, _) = try await client.send(
                .post,
                "/api/v1/canary",
                token: viewer,
                json: ["type": "url", "label": "x", "base_url": "http://10.78.0.9"]
            )
            #expect(planted == .forbidden)
            #expect(try await client.send(.delete, "/api/v1/canary/\(ids[0])", token: viewer).0 == .forbidden)
            #expect(CanaryTokenDirectory(stateDirectory: fixture.directory.path).all().count == 3)
            #expect(CanaryTokenDirectory(stateDirectory: fixture.directory.path).token(ids[0])?.isActive == true)
            #expect(try await client.get("/api/v1/canary", token: nil).0 == .unauthorized)
        }
    }
}

extension TestClientProtocol {
    /// A viewer (`analyst`) with the password changed, created by the admin.
    func viewerToken(admin: String) async throws -> String {
        let (status, _) = try await self.send(
            .post,
            "/api/v1/auth/users",
            token: admin,
            json: ["username": "analyst", "password": "viewer-password-1", "role": "viewer"]
        )
        #expect(status == .created)
        let first = try await self.token("analyst", "viewer-password-1").token
        _ = try await self.send(
            .post,
            "/api/v1/auth/change-password",
            token: first,
            json: ["old_password": "viewer-password-1", "new_password": "viewer-password-2"]
        )
        return try await self.token("analyst", "viewer-password-2").token
    }
}
