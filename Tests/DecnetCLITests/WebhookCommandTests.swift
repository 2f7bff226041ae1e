import DecnetTesting
import Foundation
import Testing

/// `decnet webhook` as an operator runs it, end to end: a subscription made with the CLI, a signed test delivery,
/// then the profiler (a daemon beside the bus) delivering the attacker.scored messages of stored logins to the
/// receiver, retried past its first failures.
@Suite(.serialized) struct WebhookCommandTests {
    @Test(.enabled(if: ExternalTool.python3.isUsable || ExternalTool.isCI))
    func theProfilerDeliversWhatASubscriptionAsksFor() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let environment = [
            "DECNET_STATE_DIR": directory.path, "DECNET_DB_PATH": directory.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": directory.path + "/events.log",
        ]
        func decnet(_ arguments: [String]) async throws -> ProcessResult {
            try await ProcessRunner.run(binary.path, arguments, environment: environment)
        }
        defer { APIDaemonTests.kill(["profiler", "bus"], in: directory.path) }
        let receiver = try await HTTPReceiver(failures: 2)
        defer { receiver.stop() }

        let refused = try await decnet([
            "webhook", "create", "--name", "x", "--url", "ftp://host/", "--topic", "attacker.>",
        ])
        #expect(refused.status != 0 && refused.standardError.contains("url must be an http:// or https://"))
        let created = try await decnet([
            "webhook", "create", "--name", "soc", "--url", receiver.url, "--topic", "attacker.scored", "--format",
            "json",
        ])
        #expect(created.status == 0, "\(created.standardError)")
        let uuid = try #require(created.standardOutput.split(separator: " ").dropFirst().first.map(String.init))
        #expect(created.standardOutput.contains("secret: whsec_"))
        let listed = try await decnet(["webhook", "list"])
        #expect(listed.standardOutput.contains(uuid) && listed.standardOutput.contains("attacker.scored"))
        // The test button: one delivery, no retries (the receiver's first answer is a 500).
        let tested = try await decnet(["webhook", "test", uuid])
        #expect(tested.status != 0 && tested.standardError.contains("HTTP 500"), "\(tested.standardError)")

        for daemon in [["bus", "start"], ["profiler", "start", "--interval", "1"]] {
            let result = try await decnet(daemon)
            try #require(result.status == 0, "\(daemon): \(result.standardOutput)\(result.standardError)")
        }
        // The profiler's bus subscriptions are up before the logins are stored and published.
        try await Task.sleep(for: .seconds(2))
        try APIDaemonTests.botnetLog(to: directory.path + "/events.log")
        let stored = try await decnet(["workers", "start", "--once"])
        #expect(stored.status == 0, "\(stored.standardError)")
        // The receiver's requests of attacker.scored, failed attempts included, and the attackers they name. The
        // wait is for five attackers, not five requests: the first delivery's failed attempt is a request too.
        var scored: [[String: Any]] = []
        var ips: Set<String> = []
        for _ in 0..<240 where ips.count < 5 {
            try await Task.sleep(for: .milliseconds(250))
            scored = receiver.requests.filter {
                ($0["body"] as? String)?.contains("\"topic\":\"attacker.scored\"") == true
            }
            ips = Set(
                scored.compactMap { request -> String? in
                    guard let body = request["body"] as? String,
                        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                    else { return nil }
                    return (object["payload"] as? [String: Any])?["attacker_ip"] as? String
                }
            )
        }
        // Five attackers scored; the first delivery was retried past the receiver's second 500.
        #expect(ips == Set((1...5).map { "10.81.0.\($0)" }), "\(receiver.requests.count) requests: \(ips)")
        #expect(
            scored.allSatisfy { (($0["headers"] as? [String: String])?["webhook-signature"] ?? "").hasPrefix("v1,") }
        )
        // The delivery log in the store: the test's 500, the first delivery's failed attempts, then the deliveries.
        // The receiver has a request before the profiler has its answer and has logged it, so the log is polled.
        var attempts: [[String: Any]] = []
        for _ in 0..<40 {
            let log = try await decnet(["webhook", "deliveries", uuid, "--json"])
            attempts = try #require(
                try JSONSerialization.jsonObject(with: Data(log.standardOutput.utf8)) as? [[String: Any]],
                "\(log.standardError)"
            )
            if attempts.filter({ $0["delivered"] as? Bool == true }).count >= 5 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(attempts.filter { $0["delivered"] as? Bool == true }.count >= 5, "\(attempts)")
        #expect(attempts.contains { $0["subject"] as? String == "system.webhook.test" && $0["status"] as? Int == 500 })
        #expect(
            attempts.contains { $0["attempt"] as? Int == 2 && $0["delivered"] as? Bool == true },
            "a retry delivered"
        )
        #expect(try await decnet(["webhook", "delete", uuid]).status == 0)
        #expect(try await decnet(["webhook", "list"]).standardOutput.contains(uuid) == false)
        _ = try await decnet(["profiler", "stop"])
        _ = try await decnet(["bus", "stop"])
    }
}
