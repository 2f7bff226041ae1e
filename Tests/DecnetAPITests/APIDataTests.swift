import DecnetAPI
import DecnetCore
import DecnetRuntime
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("REST API data routes over a real SQLite store")
struct APIDataTests {
    @Test("Attackers: list, filters, sorting, paging, detail with hops and bounty, events, transcripts, exports")
    func attackers() async throws {
        let fixture = try await APIFixture()
        _ = try await fixture.store.ingest(SampleEvents.all, cursor: nil)
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let list = try #require(try await client.get("/api/v1/attackers", token: admin).1 as? [String: Any])
            #expect(int(list["total"]) == 2)
            let items = try #require(list["items"] as? [[String: Any]])
            #expect(items.map { $0["ip"] as? String } == ["10.77.0.9", "10.77.0.254"])  // last seen first
            func ips(_ query: String) async throws -> [String] {
                let page = try await client.get("/api/v1/attackers?\(query)", token: admin).1 as? [String: Any]
                return (page?["items"] as? [[String: Any]])?.compactMap { $0["ip"] as? String } ?? []
            }
            #expect(try await ips("search=.254") == ["10.77.0.254"])
            #expect(try await ips("search=%25") == [])  // LIKE's wildcard is taken literally
            #expect(try await ips("service=http") == ["10.77.0.254"])
            #expect(try await ips("decky=files").count == 2)
            #expect(try await ips("traversal=true") == ["10.77.0.254"])
            #expect(try await ips("sort=events") == ["10.77.0.254", "10.77.0.9"])
            #expect(try await ips("sort=first_seen&limit=1&offset=1") == ["10.77.0.254"])

            let detail = try #require(
                try await client.get("/api/v1/attackers/10.77.0.254", token: admin).1 as? [String: Any]
            )
            let attacker = try #require(detail["attacker"] as? [String: Any])
            #expect(attacker["traversal_path"] as? String == "web01 -> files -> web01")
            #expect(attacker["is_traversal"] as? Bool == true)
            let hops = try #require(detail["hops"] as? [[String: String]])
            #expect(hops == [["from": "web01", "to": "files"], ["from": "files", "to": "web01"]])
            // The same path collapsed for reading: here three visits, no scan.
            let steps = try #require(detail["steps"] as? [[String: Any]])
            #expect(steps.compactMap { $0["kind"] as? String } == ["visit", "visit", "visit"])
            #expect(steps.compactMap { ($0["deckies"] as? [String])?.first } == ["web01", "files", "web01"])
            let bounty = try #require(detail["bounty"] as? [[String: Any]])
            let passwords = bounty.compactMap { ($0["payload"] as? [String: String])?["password"] }
            #expect(Set(passwords) == ["123456", "toor"])

            let events = try #require(
                try await client.get("/api/v1/attackers/10.77.0.254/events?limit=2", token: admin).1 as? [String: Any]
            )
            #expect(int(events["total"]) == 7)
            #expect((events["items"] as? [[String: Any]])?.count == 2)
            #expect((events["items"] as? [[String: Any]])?.first?["session"] as? String == "h2")

            let transcripts = try #require(
                try await client.get("/api/v1/attackers/10.77.0.254/transcripts", token: admin).1 as? [String: Any]
            )
            let sessions = try #require(transcripts["sessions"] as? [[String: Any]])
            #expect(sessions.map { $0["session"] as? String } == ["s1", "h1"])
            let lines = (sessions.first?["commands"] as? [[String: Any]])?.compactMap { $0["command"] as? String }
            #expect(lines == ["uname -a", "echo <script>alert(1)</script>"])

            try await client.execute(
                uri: "/api/v1/attackers/export?format=csv",
                method: .get,
                headers: [.authorization: "Bearer \(admin)"]
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/csv") == true)
                let rows = String(buffer: response.body).split(separator: "\r\n")
                #expect(rows.count == 3)
                #expect(rows.first?.hasPrefix("ip,first_seen,last_seen") == true)
                #expect(rows.contains { $0.hasPrefix("10.77.0.254,") && $0.contains("web01 -> files -> web01") })
            }
            let exported = try await client.get("/api/v1/attackers/export", token: admin).1 as? [[String: Any]]
            #expect(exported?.count == 2)
        }
    }

    @Test("Logs: filters on columns and on fields inside the event, time windows, histogram, stats")
    func logs() async throws {
        let fixture = try await APIFixture()
        _ = try await fixture.store.ingest(SampleEvents.all, cursor: nil)
        try await fixture.test { client in
            let admin = try await client.adminToken()
            func total(_ query: String) async throws -> Int? {
                int((try await client.get("/api/v1/logs?\(query)", token: admin).1 as? [String: Any])?["total"])
            }
            #expect(try await total("") == 8)
            #expect(try await total("event_type=login.failed") == 2)
            #expect(try await total("field=username:root") == 2)
            #expect(try await total("field=username:root&field=password:toor") == 1)
            #expect(try await total("field=user_agent:curl/7.88.1&service=http") == 1)
            #expect(try await total("decky=files&attacker_ip=10.77.0.9") == 1)
            #expect(try await total("since=2026-11-18T11:08:00Z") == 2)
            #expect(try await total("until=1795000011") == 3)
            let page = try #require(
                try await client.get("/api/v1/logs?event_type=login.success", token: admin).1 as? [String: Any]
            )
            let event = try #require((page["items"] as? [[String: Any]])?.first)
            #expect((event["fields"] as? [String: String])?["password"] == "toor")
            #expect(event["timestamp"] as? String == "2026-11-18T11:06:51.000000Z")

            let histogram = try #require(
                try await client.get("/api/v1/logs/histogram?interval=60&since=1794999000", token: admin).1
                    as? [String: Any]
            )
            let buckets = try #require(histogram["buckets"] as? [[String: Any]])
            // 11:06 holds the first 6 events (0 to 13 s), 11:08 one (130 s), 11:10 one (200 s).
            #expect(
                buckets.map { $0["time"] as? String } == [
                    "2026-11-18T11:06:00.000000Z", "2026-11-18T11:08:00.000000Z", "2026-11-18T11:10:00.000000Z",
                ]
            )
            #expect(buckets.compactMap { int($0["count"]) } == [6, 1, 1])

            let stats = try #require(try await client.get("/api/v1/stats", token: admin).1 as? [String: Any])
            #expect(int(stats["events"]) == 8)
            #expect(int(stats["attackers"]) == 2)
            #expect(int(stats["credentials"]) == 3)
            #expect(int(stats["traversals"]) == 1)
            #expect(int(stats["deckies_total"]) == 0)

            let health = try #require(try await client.get("/api/v1/health", token: admin).1 as? [String: Any])
            #expect(health["status"] as? String == "degraded")  // no workers run here
            #expect(((health["store"] as? [String: Any])?["ok"]) as? Bool == true)
            let components = (health["components"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(components == ["api", "engine", "workers", "bus", "forwarder", "listener"])
        }
    }

    @Test("The fleet as planned when no engine serves it")
    func plannedFleet() async throws {
        let fixture = try await APIFixture()
        var request = FleetRequest()
        request.net = Located(IPv4Network("10.77.0.0/24")!, at: .commandLine, key: "--subnet")
        request.seed = 7
        for number in 1...2 {
            var decky = DeckyRequest(name: DeckyRequest.numberedName("decky", number, of: 2), origin: .commandLine)
            decky.services = Located(["ssh", "http"], at: .commandLine, key: "--services")
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
        .write(toDirectory: fixture.directory.path)
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let body = try #require(try await client.get("/api/v1/deckies", token: admin).1 as? [String: Any])
            #expect(body["deployed"] as? Bool == false)
            #expect(body["engine_running"] as? Bool == false)
            let deckies = try #require(body["deckies"] as? [[String: Any]])
            #expect(deckies.count == 2)
            #expect(deckies.allSatisfy { $0["state"] as? String == "planned" })
            let name = try #require(deckies.first?["name"] as? String)
            let one = try #require(try await client.get("/api/v1/deckies/\(name)", token: admin).1 as? [String: Any])
            #expect(
                Set((one["services"] as? [[String: Any]])?.compactMap { $0["service"] as? String } ?? []) == [
                    "ssh", "http",
                ]
            )
            #expect(try await client.get("/api/v1/deckies/nope", token: admin).0 == .notFound)
            #expect(try await client.send(.post, "/api/v1/deckies/\(name)/stop", token: admin).0 == .conflict)
        }
    }

    @Test("The live stream sends the bus's messages that match its topic as Server-Sent Events")
    func liveStream() async throws {
        let fixture = try await APIFixture()
        let bus = fixture.server.feed.bus
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let publisher = Task {
                var sequence = 0
                while !Task.isCancelled {
                    sequence += 1
                    bus.publish(
                        BusMessage(
                            subject: try! Subject("decky.web01.state"),
                            payload: Array(#"{"state":"running"}"#.utf8)
                        )
                    )
                    bus.publish(
                        BusMessage(
                            subject: try! Subject("attacker.observed"),
                            payload: Array(#"{"attacker_ip":"10.77.0.254","n":\#(sequence)}"#.utf8)
                        )
                    )
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            defer { publisher.cancel() }
            try await client.execute(
                uri: "/api/v1/stream?topic=attacker.%3E&limit=3",
                method: .get,
                headers: [.authorization: "Bearer \(admin)"]
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                let text = String(buffer: response.body)
                #expect(text.components(separatedBy: "event: attacker.observed\n").count - 1 == 3)
                #expect(!text.contains("decky.web01.state"))
                #expect(text.contains(#"data: {"attacker_ip":"10.77.0.254","n":"#))
            }
        }
    }

    @Test("The OpenAPI document is served, is 3.1, and lists every route the API answers")
    func openAPI() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let document = try #require(try await client.get("/api/v1/openapi.json", token: admin).1 as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let expected: [(String, String)] = [
                ("post", "/api/v1/auth/login"), ("get", "/api/v1/auth/me"), ("post", "/api/v1/auth/change-password"),
                ("post", "/api/v1/auth/logout"), ("get", "/api/v1/auth/users"), ("post", "/api/v1/auth/users"),
                ("delete", "/api/v1/auth/users/{username}"), ("get", "/api/v1/attackers"),
                ("get", "/api/v1/attackers/export"), ("get", "/api/v1/attackers/{ip}"),
                ("get", "/api/v1/attackers/{ip}/events"), ("get", "/api/v1/attackers/{ip}/transcripts"),
                ("get", "/api/v1/deckies"), ("post", "/api/v1/deckies/deploy"), ("get", "/api/v1/deckies/{name}"),
                ("post", "/api/v1/deckies/{name}/{action}"), ("get", "/api/v1/logs"), ("get", "/api/v1/logs/histogram"),
                ("get", "/api/v1/stats"), ("get", "/api/v1/health"), ("get", "/api/v1/config"),
                ("get", "/api/v1/stream"), ("get", "/api/v1/openapi.json"), ("get", "/api/v1/identities"),
                ("get", "/api/v1/identities/{uuid}"), ("post", "/api/v1/identities/{uuid}/merge"),
                ("post", "/api/v1/identities/{uuid}/unmerge"), ("get", "/api/v1/campaigns"),
                ("get", "/api/v1/campaigns/{uuid}"), ("get", "/api/v1/bounty"),
                ("get", "/api/v1/attackers/{ip}/export/{format}"), ("get", "/api/v1/identities/{uuid}/export/{format}"),
                ("get", "/api/v1/campaigns/{uuid}/export/{format}"), ("get", "/api/v1/canary"),
                ("post", "/api/v1/canary"), ("get", "/api/v1/canary/triggers"), ("get", "/api/v1/canary/{id}"),
                ("delete", "/api/v1/canary/{id}"), ("get", "/api/v1/webhooks"), ("post", "/api/v1/webhooks"),
                ("delete", "/api/v1/webhooks/{uuid}"), ("post", "/api/v1/webhooks/{uuid}/test"),
                ("get", "/api/v1/webhooks/{uuid}/deliveries"), ("get", "/api/v1/swarm/hosts"),
                ("post", "/api/v1/swarm/hosts"), ("delete", "/api/v1/swarm/hosts/{name}"),
                ("get", "/api/v1/topology"), ("post", "/api/v1/topology"), ("get", "/api/v1/topology/{id}"),
                ("put", "/api/v1/topology/{id}/positions"), ("get", "/api/v1/topology/{id}/mutations/latest"),
                ("post", "/api/v1/topology/{id}/deploy"), ("post", "/api/v1/topology/{id}/teardown"),
            ]
            #expect(paths.values.reduce(0) { $0 + $1.count } == expected.count)
            for (method, path) in expected {
                #expect(paths[path]?[method] != nil, "\(method) \(path) is not documented")
                // …and the router answers it (anything but an unknown-route 404).
                let uri =
                    path.replacingOccurrences(of: "{username}", with: "nobody")
                    .replacingOccurrences(of: "{ip}", with: "10.1.1.1").replacingOccurrences(of: "{name}", with: "x")
                    .replacingOccurrences(of: "{action}", with: "stop")
                    .replacingOccurrences(of: "{uuid}", with: "00000000-0000-4000-8000-000000000001")
                    .replacingOccurrences(of: "{format}", with: "stix")
                    .replacingOccurrences(of: "{id}", with: "aaaaaaaaaaaaaaaaaaaa")
                    + (path.hasSuffix("stream") ? "?limit=1" : "")
                if path.hasSuffix("stream") { continue }  // answered in liveStream
                let (status, body) = try await client.send(
                    .init(rawValue: method.uppercased())!,
                    uri,
                    token: admin,
                    json: method == "get" ? nil : [:]
                )
                let detail = (body as? [String: Any])?["detail"] as? String
                #expect(!(status == .notFound && detail == "Not Found"), "\(method) \(uri) is not routed")
                #expect(status.code < 500, "\(method) \(uri): \(status)")
            }
        }
    }
}
