import DecnetAPI
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The canary alert on the overview, the Canary page and the Webhooks page, with hostile text in every field an
/// intruder or a careless operator chooses.
@Suite struct CanaryPageTests {
    static let hostile = "<script>alert(1)</script>"

    @Test(
        "Canary triggers top the overview; the Canary page lists tokens and triggers, escaped, with revoke for admins"
    )
    func canaryAlertAndPage() async throws {
        let fixture = try await APIFixture()
        let token = try CanaryPlanter(stateDirectory: fixture.directory.path).plant(
            kind: .url,
            decky: "decky-2",
            hostname: "files",
            label: "creds \(Self.hostile)",
            path: "/opt/app/.env",
            endpoint: CanaryPlanter.Endpoint(baseURL: "http://10.78.0.9", zone: nil)
        ).token
        try await fixture.test { client in
            let cookie = try await DashboardPageTests.cookie(client)
            func page(_ path: String, cookie: String) async throws -> String {
                try await client.execute(uri: path, method: .get, headers: [.cookie: cookie]) { response in
                    #expect(response.status == .ok, "\(path)")
                    return String(buffer: response.body)
                }
            }
            // No trigger yet: no alert.
            #expect(!(try await page("/overview", cookie: cookie)).contains("id=\"canary-alert\""))
            _ = try await fixture.store.ingest(
                [
                    APICanaryTests.trigger(
                        token,
                        at: 5,
                        from: "198.51.100.7",
                        [("method", "GET"), ("url", "/c/\(token.id)"), ("user_agent", "Mozilla \(Self.hostile)")]
                    )
                ],
                cursor: nil
            )
            let overview = try await page("/overview", cookie: cookie)
            let alert = try #require(overview.range(of: "id=\"canary-alert\""))
            // Above everything else on the page: before the heading, the cards and the chart.
            let heading = try #require(overview.range(of: "<h1>Overview</h1>"))
            #expect(alert.lowerBound < heading.lowerBound)
            #expect(overview.contains("Canary token triggered <span class=\"count\">(1)</span>"))
            #expect(overview.contains("<strong>creds &lt;script&gt;alert(1)&lt;/script&gt;</strong>"))
            #expect(overview.contains("<code>decky-2:/opt/app/.env</code>"))
            #expect(overview.contains("href=\"/attackers/198.51.100.7\""))
            #expect(!overview.contains(Self.hostile))

            let canary = try await page("/canary", cookie: cookie)
            #expect(canary.contains("id=\"canary-tokens\"") && canary.contains("id=\"canary-triggers\""))
            #expect(
                canary.contains("<code>\(token.id)</code>")
                    && canary.contains("<span class=\"state active\">active</span>")
            )
            #expect(canary.contains("data-canary-revoke=\"\(token.id)\"") && canary.contains("id=\"canary-plant\""))
            #expect(canary.contains("<code>http://10.78.0.9/c/\(token.id)</code>"))
            #expect(canary.contains("<code>GET /c/\(token.id) · Mozilla &lt;script&gt;alert(1)&lt;/script&gt;</code>"))
            #expect(!canary.contains(Self.hostile))
            #expect(canary.contains("<a href=\"/canary\" aria-current=\"page\">Canary</a>"))

            // A viewer sees the same, without the admin's buttons.
            let viewer = try await client.viewerToken(
                admin: try await client.token("admin", "a-much-better-secret").token
            )
            let viewerPage = try await page("/canary", cookie: "decnet_token=\(viewer)")
            #expect(viewerPage.contains("<code>\(token.id)</code>"))
            #expect(!viewerPage.contains("data-canary-revoke") && !viewerPage.contains("id=\"canary-plant\""))

            // Revoked: shown as such, no button.
            _ = try CanaryPlanter(stateDirectory: fixture.directory.path).revoke(token.id)
            let revoked = try await page("/canary", cookie: cookie)
            #expect(revoked.contains("<span class=\"state revoked\">revoked</span>"))
            #expect(!revoked.contains("data-canary-revoke"))
            for path in ["/canary", "/webhooks"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .seeOther && response.headers[.location] == "/login", "\(path)")
                }
            }
        }
    }

    @Test("The Webhooks page lists subscriptions and their latest deliveries, escaped, with Send test for admins")
    func webhooksPage() async throws {
        let fixture = try await APIFixture()
        let subscription = WebhookSubscription(
            name: "SOC \(Self.hostile)",
            url: "http://192.0.2.1/hook?a=1&b=2",
            format: .slack,
            topics: ["canary.>"]
        )
        try await WebhookStore.save(subscription, in: fixture.store)
        try await WebhookStore.append(
            WebhookDispatcher.Attempt(
                subscription: subscription.uuid,
                id: "msg_1",
                subject: "canary.abc.triggered",
                attempt: 2,
                status: nil,
                error: "connection refused \(Self.hostile)",
                time: SampleEvents.start,
                delivered: false
            ),
            in: fixture.store
        )
        try await fixture.test { client in
            let cookie = try await DashboardPageTests.cookie(client)
            let html = try await client.execute(uri: "/webhooks", method: .get, headers: [.cookie: cookie]) {
                #expect($0.status == .ok)
                return String(buffer: $0.body)
            }
            #expect(html.contains("id=\"webhook-\(subscription.uuid)\""))
            #expect(html.contains("SOC &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(html.contains("<code>http://192.0.2.1/hook?a=1&amp;b=2</code>"))
            #expect(html.contains("data-webhook-test=\"\(subscription.uuid)\""))
            #expect(html.contains("id=\"test-result-\(subscription.uuid)\""))
            #expect(html.contains("id=\"deliveries-\(subscription.uuid)\"") && html.contains("<code>msg_1</code>"))
            #expect(html.contains("connection refused &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!html.contains(Self.hostile) && !html.contains(subscription.secret))
            // The script the button runs is served, and is the only script (the CSP allows no inline one).
            let script = try await client.execute(uri: "/static/app.js", method: .get) { String(buffer: $0.body) }
            #expect(script.contains("\"/api/v1/webhooks/\" + encodeURIComponent(uuid) + \"/test\""))
            #expect(script.contains("\"/api/v1/canary/\" + encodeURIComponent(id)"))
            #expect(html.components(separatedBy: "<script").count - 1 == 1)
        }
    }
}
