import DecnetAPI
import DecnetCore
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Dashboard pages (router level)")
struct DashboardPageTests {
    /// The session cookie of an admin whose password is changed.
    static func cookie(_ client: some TestClientProtocol) async throws -> String {
        _ = try await client.adminToken()
        return try await client.execute(
            uri: "/api/v1/auth/login",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"username":"admin","password":"a-much-better-secret"}"#)
        ) { String(try #require($0.headers[.setCookie]?.split(separator: ";").first)) }
    }

    @Test("Without a session every page sends the browser to the login page; the login page needs no session")
    func pagesNeedASession() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            for path in ["/", "/overview", "/deckies", "/attackers", "/attackers/10.1.2.3", "/logs", "/password"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .seeOther, "\(path)")
                    #expect(response.headers[.location] == "/login", "\(path)")
                }
            }
            try await client.execute(uri: "/login", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("id=\"login-form\""))
                let policy = response.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
            }
            for asset in ["/static/app.js", "/static/app.css"] {
                try await client.execute(uri: asset, method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test("The first admin's session is sent to the password page until the password is changed")
    func firstSessionGoesToPassword() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            let cookie = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"username":"admin","password":"\#(APIFixture.adminPassword)"}"#)
            ) { String(try #require($0.headers[.setCookie]?.split(separator: ";").first)) }
            try await client.execute(uri: "/overview", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .seeOther)
                #expect($0.headers[.location] == "/password")
            }
            try await client.execute(uri: "/password", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains("first login"))
            }
        }
    }

    @Test("Pages render the stored data, and attacker text is escaped, never markup")
    func pagesRenderEscapedData() async throws {
        let fixture = try await APIFixture()
        _ = try await fixture.store.ingest(SampleEvents.all, cursor: nil)
        try await fixture.test { client in
            let cookie = try await Self.cookie(client)
            func page(_ path: String) async throws -> String {
                try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                    return String(buffer: response.body)
                }
            }
            let overview = try await page("/overview")
            #expect(overview.contains("id=\"events-chart\"") && overview.contains("id=\"live-feed\""))
            #expect(overview.contains("<div class=\"value\" id=\"stat-attackers\">2</div>"))
            let attackers = try await page("/attackers")
            #expect(attackers.contains("href=\"/attackers/10.77.0.254\""))
            #expect(attackers.contains("web01 -&gt; files -&gt; web01"))
            let detail = try await page("/attackers/10.77.0.254")
            #expect(detail.contains("<svg id=\"traversal\""))
            #expect(detail.components(separatedBy: "class=\"hop\"").count - 1 == 2)
            #expect(detail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!detail.contains("<script>alert(1)</script>"))
            #expect(detail.contains("<code>toor</code>"))
            let logs = try await page("/logs?field=username:root")
            #expect(logs.contains("(2 matching)"))
            let other = try await page("/attackers/10.77.0.9")
            #expect(other.contains("=cmd|&#039; /C calc&#039;!A0"))
            let fleet = try await page("/deckies")
            #expect(fleet.contains("No fleet is deployed"))
        }
    }
}
