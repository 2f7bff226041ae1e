import DecnetAPI
import DecnetCore
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("REST API routes (router level)")
struct APIRouteTests {
    @Test("Every route but login answers 401 without a valid token, with a JSON detail")
    func tokensAreRequired() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            for uri in [
                "/api/v1/health", "/api/v1/attackers", "/api/v1/deckies", "/api/v1/logs", "/api/v1/stats",
                "/api/v1/config", "/api/v1/stream", "/api/v1/openapi.json", "/api/v1/auth/users",
            ] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                    let body =
                        try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    #expect((body?["detail"] as? String)?.isEmpty == false, "\(uri)")
                }
            }
            for bad in ["Bearer nonsense", "Bearer a.b.c", "Basic YWRtaW46YWRtaW4=", "Bearer "] {
                try await client.execute(uri: "/api/v1/health", method: .get, headers: [.authorization: bad]) {
                    #expect($0.status == .unauthorized, "\(bad)")
                }
            }
            // A token signed with another key is refused.
            let other = try await APIFixture()
            let foreign = try await Application(router: other.server.router()).test(.router) { otherClient in
                try await otherClient.token("admin", APIFixture.adminPassword).token
            }
            other.remove()
            #expect(try await client.get("/api/v1/auth/me", token: foreign).0 == .unauthorized)
        }
    }

    @Test("The first admin must change the password before anything else; old tokens die with the old password")
    func firstLoginForcesAPasswordChange() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let wrong = try await client.send(
                .post,
                "/api/v1/auth/login",
                token: nil,
                json: ["username": "admin", "password": "admin"]
            )
            #expect(wrong.0 == .unauthorized)
            let (first, mustChange) = try await client.token("admin", APIFixture.adminPassword)
            #expect(mustChange)
            let blocked = try await client.get("/api/v1/attackers", token: first)
            #expect(blocked.0 == .forbidden)
            #expect(((blocked.1 as? [String: Any])?["detail"] as? String)?.contains("change") == true)
            #expect(try await client.get("/api/v1/auth/me", token: first).0 == .ok)
            let badOld = try await client.send(
                .post,
                "/api/v1/auth/change-password",
                token: first,
                json: ["old_password": "guess", "new_password": "long-enough-password"]
            )
            #expect(badOld.0 == .badRequest)
            let short = try await client.send(
                .post,
                "/api/v1/auth/change-password",
                token: first,
                json: ["old_password": APIFixture.adminPassword, "new_password": "short"]
            )
            #expect(short.0 == .badRequest)
            #expect(((short.1 as? [String: Any])?["detail"] as? String)?.contains("8 characters") == true)
            let changed = try await client.send(
                .post,
                "/api/v1/auth/change-password",
                token: first,
                json: ["old_password": APIFixture.adminPassword, "new_password": "long-enough-password"]
            )
            #expect(changed.0 == .ok)
            #expect(try await client.get("/api/v1/auth/me", token: first).0 == .unauthorized)
            let (second, stillMust) = try await client.token("admin", "long-enough-password")
            #expect(!stillMust)
            #expect(try await client.get("/api/v1/attackers", token: second).0 == .ok)
            let stored = try #require(try await fixture.store.user(named: "admin"))
            #expect(stored.passwordHash.hasPrefix("$2b$") || stored.passwordHash.hasPrefix("$2a$"))
            #expect(!stored.passwordHash.contains("long-enough-password"))
        }
    }

    @Test("Failed logins are rate limited per address with 429 and Retry-After; a right password does not reset it")
    func loginsAreRateLimited() async throws {
        let fixture = try await APIFixture(loginAttempts: 3)
        try await fixture.test { client in
            for _ in 0..<3 {
                let answer = try await client.send(
                    .post,
                    "/api/v1/auth/login",
                    token: nil,
                    json: ["username": "admin", "password": "nope"]
                )
                #expect(answer.0 == .unauthorized)
            }
            try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"username":"admin","password":"\#(APIFixture.adminPassword)"}"#)
            ) { response in
                #expect(response.status == .tooManyRequests)
                let wait = Int(response.headers[.retryAfter] ?? "") ?? 0
                #expect((1...60).contains(wait))
            }
        }
    }

    @Test("Tokens expire: after their lifetime (cached or not) they answer 401")
    func tokensExpire() async throws {
        // Long enough for the first admin's login and password change on a loaded CI machine (1.5 s was not).
        let fixture = try await APIFixture { $0.tokenLifetime = 6 }
        try await fixture.test { client in
            let admin = try await client.adminToken()
            #expect(try await client.get("/api/v1/auth/me", token: admin).0 == .ok)
            try await Task.sleep(for: .milliseconds(6_300))
            let (status, body) = try await client.get("/api/v1/auth/me", token: admin)
            #expect(status == .unauthorized)
            #expect(((body as? [String: Any])?["detail"] as? String)?.contains("expired") == true)
        }
    }

    @Test("A viewer reads but cannot act; an admin manages users")
    func viewersCannotAct() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let admin = try await client.adminToken()
            let created = try await client.send(
                .post,
                "/api/v1/auth/users",
                token: admin,
                json: ["username": "analyst", "password": "viewer-password-1", "role": "viewer"]
            )
            #expect(created.0 == .created)
            let duplicate = try await client.send(
                .post,
                "/api/v1/auth/users",
                token: admin,
                json: ["username": "analyst", "password": "viewer-password-1", "role": "viewer"]
            )
            #expect(duplicate.0 == .conflict)
            let badRole = try await client.send(
                .post,
                "/api/v1/auth/users",
                token: admin,
                json: ["username": "x", "password": "viewer-password-1", "role": "root"]
            )
            #expect(badRole.0 == .badRequest)
            let (first, mustChange) = try await client.token("analyst", "viewer-password-1")
            #expect(mustChange)
            #expect(
                try await client.send(
                    .post,
                    "/api/v1/auth/change-password",
                    token: first,
                    json: ["old_password": "viewer-password-1", "new_password": "viewer-password-2"]
                ).0 == .ok
            )
            let viewer = try await client.token("analyst", "viewer-password-2").token
            #expect(try await client.get("/api/v1/attackers", token: viewer).0 == .ok)
            #expect(try await client.get("/api/v1/deckies", token: viewer).0 == .ok)
            #expect(try await client.get("/api/v1/auth/users", token: viewer).0 == .forbidden)
            #expect(try await client.send(.post, "/api/v1/deckies/web01/stop", token: viewer).0 == .forbidden)
            #expect(
                try await client.send(.post, "/api/v1/deckies/deploy", token: viewer, json: ["config": "[x]"]).0
                    == .forbidden
            )
            #expect(try await client.send(.delete, "/api/v1/auth/users/admin", token: viewer).0 == .forbidden)
            #expect(
                try await client.send(
                    .post,
                    "/api/v1/auth/users",
                    token: viewer,
                    json: ["username": "mine", "password": "whatever-password", "role": "admin"]
                ).0 == .forbidden
            )
            // The admin sees both users, cannot delete itself, deletes the viewer, whose token then stops working.
            let users = try await client.get("/api/v1/auth/users", token: admin)
            #expect((users.1 as? [[String: Any]])?.compactMap { $0["username"] as? String } == ["admin", "analyst"])
            #expect(try await client.send(.delete, "/api/v1/auth/users/admin", token: admin).0 == .badRequest)
            #expect(try await client.send(.delete, "/api/v1/auth/users/analyst", token: admin).0 == .noContent)
            #expect(try await client.send(.delete, "/api/v1/auth/users/analyst", token: admin).0 == .notFound)
            #expect(try await client.get("/api/v1/attackers", token: viewer).0 == .unauthorized)
        }
    }

    @Test("The dashboard's cookie authenticates reads; a write with only the cookie needs X-Requested-With")
    func cookieSessions() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            _ = try await client.adminToken()
            let cookie = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"username":"admin","password":"a-much-better-secret"}"#)
            ) { response in
                let setCookie = try #require(response.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
                return String(try #require(setCookie.split(separator: ";").first))
            }
            try await client.execute(uri: "/api/v1/stats", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: [.cookie: cookie]) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(
                uri: "/api/v1/auth/logout",
                method: .post,
                headers: [.cookie: cookie, .init("X-Requested-With")!: "decnet"]
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
        }
    }

    @Test("Bad input gets 400 with a message naming what is wrong, never a 500")
    func badInput() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let admin = try await client.adminToken()
            try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "{not json")
            ) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("detail"))
            }
            let missing = try await client.send(.post, "/api/v1/auth/login", token: nil, json: ["username": "admin"])
            #expect(missing.0 == .badRequest)
            let cases: [(String, String)] = [
                ("/api/v1/attackers?limit=0", "limit"), ("/api/v1/attackers?limit=abc", "limit"),
                ("/api/v1/attackers?sort=sideways", "sort"), ("/api/v1/attackers?traversal=maybe", "traversal"),
                ("/api/v1/logs?since=yesterday", "since"), ("/api/v1/logs?field=nocolon", "field"),
                ("/api/v1/logs/histogram?interval=0", "interval"), ("/api/v1/stream?topic=a..b", "topic"),
                ("/api/v1/attackers/not%20an%20ip", "IP"), ("/api/v1/attackers/export?format=xml", "format"),
                ("/api/v1/logs?offset=-1", "offset"),
            ]
            for (uri, word) in cases {
                let (status, body) = try await client.get(uri, token: admin)
                #expect(status == .badRequest, "\(uri)")
                #expect(
                    ((body as? [String: Any])?["detail"] as? String)?.contains(word) == true,
                    "\(uri): \(String(describing: body))"
                )
            }
            let (notFound, body) = try await client.get("/api/v1/nothing-here", token: admin)
            #expect(notFound == .notFound)
            #expect((body as? [String: Any])?["detail"] != nil)
            #expect(try await client.get("/api/v1/attackers/10.9.9.9", token: admin).0 == .notFound)
            #expect(try await client.send(.post, "/api/v1/deckies/web01/explode", token: admin).0 == .badRequest)
            #expect(try await client.send(.post, "/api/v1/deckies/web01/stop", token: admin).0 == .conflict)
            #expect(
                try await client.send(.post, "/api/v1/deckies/deploy", token: admin, json: ["config": "[decky]"]).0
                    == .forbidden
            )
            // Hostile strings in filters are bound, never spliced.
            let (status, _) = try await client.get(
                "/api/v1/logs?field=x%27)%20OR%201%3D1%20--:y&decky=%27%3B%20DROP%20TABLE%20logs",
                token: admin
            )
            #expect(status == .ok)
            #expect(try await fixture.store.counts()["logs"] == 0)
        }
    }
}

/// Fetches a JSON object field as Int (JSONSerialization gives NSNumber).
func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
