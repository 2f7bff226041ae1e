import DecnetCore
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `decnet api` and `decnet web` as an operator runs them: the refusals before start, a live API checked by
/// curl and by schemathesis against its own OpenAPI document, and the dashboard in a real browser.
@Suite(.serialized) struct APIDaemonTests {
    static let schemathesis = ExternalTool("schemathesis", package: "schemathesis (PyPI; .ci/run pip-installs it)")
    static let chromium = ExternalTool("chromium", package: "chromium chromium-driver")
    static let sshpass = ExternalTool("sshpass", package: "sshpass")
    static let secret = "3f0c1b5e9d7a2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"

    static func environment(_ directory: TemporaryDirectory, secret: String?) -> [String: String] {
        var environment = [
            "DECNET_STATE_DIR": directory.path, "DECNET_DB_PATH": directory.path + "/decnet.db",
            "DECNET_INGEST_LOG_FILE": directory.path + "/events.log", "DECNET_ADMIN_PASSWORD": "first-login-pw",
        ]
        environment["DECNET_JWT_SECRET"] = secret ?? ""
        return environment
    }

    static func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
        let curl = try #require(ExternalTool.curl.path, "\(ExternalTool.curl.missingMessage)")
        let result = try await ProcessRunner.run(curl, ["-s", "-m", "20", "-w", "\n%{http_code}"] + arguments)
        let lines = result.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// Logs in with the first password, changes it, logs in again: the token of a ready admin.
    static func readyAdmin(_ base: String) async throws -> String {
        let first = try await Self.curl([
            "-X", "POST", "\(base)/api/v1/auth/login", "-H", "Content-Type: application/json",
            "-d", #"{"username":"admin","password":"first-login-pw"}"#,
        ])
        #expect(first.status == 200, "\(first.body)")
        let firstToken = try #require(Self.json(first.body)["access_token"] as? String)
        #expect(Self.json(first.body)["must_change_password"] as? Bool == true)
        let changed = try await Self.curl([
            "-X", "POST", "\(base)/api/v1/auth/change-password", "-H", "Content-Type: application/json",
            "-H", "Authorization: Bearer \(firstToken)",
            "-d", #"{"old_password":"first-login-pw","new_password":"second-login-pw"}"#,
        ])
        #expect(changed.status == 200, "\(changed.body)")
        let second = try await Self.curl([
            "-X", "POST", "\(base)/api/v1/auth/login", "-H", "Content-Type: application/json",
            "-d", #"{"username":"admin","password":"second-login-pw"}"#,
        ])
        return try #require(Self.json(second.body)["access_token"] as? String)
    }

    /// Ends the daemons a test started (by their pid files), also when an expectation failed on the way.
    static func kill(_ names: [String], in directory: String) {
        for name in names {
            if let text = try? String(contentsOfFile: "\(directory)/decnet-\(name).pid", encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
                Glibc.kill(pid, 0) == 0
            {
                Glibc.kill(pid, SIGKILL)
            }
        }
    }

    /// Four addresses working through one credential list with one client, and a fifth with the same list from
    /// another client (in the botnet's campaign, not its identity), as RFC 5424 lines.
    static func botnetLog(to path: String) throws {
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        var lines: [String] = []
        for host in 1...5 {
            let ip = "10.81.0.\(host)"
            let hassh = host == 5 ? "a704be057881f0b1d623cd263e477a8b" : "be31134219a24899a8a0c29c7797ba94"
            func event(_ id: EventID, _ offset: Double, _ fields: [(String, String)]) -> String {
                RFC5424Formatter.line(
                    for: HoneypotEvent(
                        time: start.addingTimeInterval(offset),
                        id: id,
                        decky: "web01",
                        hostname: "web01",
                        service: "ssh",
                        session: "s\(offset)",
                        source: Endpoint(ip: ip, port: 40_000 + host),
                        destination: Endpoint(ip: "10.77.0.11", port: 22),
                        fields: fields.map { EventField($0.0, $0.1) }
                    )
                )
            }
            lines.append(
                event(
                    .clientFingerprint,
                    0,
                    [
                        ("client_version", host == 5 ? "SSH-2.0-paramiko_2.12.0" : "SSH-2.0-libssh_0.10.6"),
                        ("hassh", hassh),
                    ]
                )
            )
            for index in 0..<8 {
                lines.append(
                    event(
                        .loginFailed,
                        1 + Double(index),
                        [("username", "user\(index)"), ("password", "Pass\(index)!")]
                    )
                )
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `DECNET_EMBED_PROFILER=true`: the API process runs the profiler itself, and an admin's unmerge applies at
    /// once (the API wakes it).
    @Test(.enabled(if: ExternalTool.curl.isUsable))
    func theAPIRunsTheProfilerItselfWhenAsked() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var environment = Self.environment(directory, secret: Self.secret)
        environment["DECNET_EMBED_PROFILER"] = "true"
        try Self.botnetLog(to: directory.path + "/events.log")
        let ingested = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once"],
            environment: environment
        )
        #expect(ingested.status == 0, "\(ingested.standardError)")
        let port = LoopbackPort.unused()
        let started = try await ProcessRunner.run(
            binary.path,
            ["api", "start", "--port", String(port), "--no-deploy", "--response-cache", "0"],
            environment: environment
        )
        #expect(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        defer { Self.kill(["api"], in: directory.path) }
        let base = "http://127.0.0.1:\(port)"
        let token = try await Self.readyAdmin(base)
        func identities() async throws -> [[String: Any]] {
            let listed = try await Self.curl(["-H", "Authorization: Bearer \(token)", "\(base)/api/v1/identities"])
            return Self.json(listed.body)["items"] as? [[String: Any]] ?? []
        }
        var found: [[String: Any]] = []
        for _ in 0..<60 where found.isEmpty {
            found = try await identities()
            if found.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        }
        let botnet = try #require(found.first, "the embedded profiler formed no identity")
        #expect(botnet["member_count"] as? Int == 4)
        let uuid = try #require(botnet["uuid"] as? String)
        let split = try await Self.curl([
            "-X", "POST", "\(base)/api/v1/identities/\(uuid)/unmerge", "-H", "Authorization: Bearer \(token)",
            "-H", "Content-Type: application/json", "-d", #"{"attackers":["10.81.0.3","10.81.0.4"]}"#,
        ])
        #expect(split.status == 202, "\(split.body)")
        // Woken by the API, not after its 5 s interval.
        let clock = ContinuousClock()
        let asked = clock.now
        var counts: [Int] = []
        while counts != [2, 2] && clock.now - asked < .seconds(4) {
            counts = try await identities().compactMap { $0["member_count"] as? Int }.sorted()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counts == [2, 2], "\(counts)")
        let stopped = try await ProcessRunner.run(binary.path, ["api", "stop"], environment: environment)
        #expect(stopped.standardOutput.contains("stopped"))
    }

    @Test func theAPIRefusesToStartWithoutARealSecret() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = String(LoopbackPort.unused())
        for (secret, message) in [
            (nil, "DECNET_JWT_SECRET is not set"), ("supersecretkey12345", "published example"),
            ("change-me-to-64-hex-chars", "published example"), ("short-secret", "at least 32"),
        ] as [(String?, String)] {
            let result = try await ProcessRunner.run(
                binary.path,
                ["api", "start", "--port", port],
                environment: Self.environment(directory, secret: secret)
            )
            #expect(result.status != 0)
            #expect(result.standardError.contains(message), "\(secret ?? "none"): \(result.standardError)")
        }
        #expect(!LoopbackPort.accepts(Int(port)!))
    }

    /// The served OpenAPI document against the live server: schemathesis generates requests for every operation
    /// (the endless event stream aside, which `liveStream` and the browser test cover) and checks that no answer
    /// is a server error or strays from the document.
    @Test(.enabled(if: schemathesis.isUsable && ExternalTool.curl.isUsable))
    func aLiveAPIPassesSchemathesis() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let schemathesis = try #require(Self.schemathesis.path, "\(Self.schemathesis.missingMessage)")
        let directory = try TemporaryDirectory()
        let environment = Self.environment(directory, secret: Self.secret)
        defer { directory.remove() }
        // Something for the intelligence routes to serve: a botnet's logins, ingested and profiled as the
        // workers and `decnet profiler start --once` do it.
        try Self.botnetLog(to: directory.path + "/events.log")
        let ingested = try await ProcessRunner.run(
            binary.path,
            ["workers", "start", "--once"],
            environment: environment
        )
        #expect(ingested.status == 0, "\(ingested.standardError)")
        let profiled = try await ProcessRunner.run(
            binary.path,
            ["profiler", "start", "--once"],
            environment: environment
        )
        #expect(profiled.status == 0, "\(profiled.standardError)")
        #expect(
            profiled.standardOutput.contains("profiled 5 attacker(s): 1 identity, 1 campaign(s)"),
            "\(profiled.standardOutput)"
        )
        let port = LoopbackPort.unused()
        let started = try await ProcessRunner.run(
            binary.path,
            ["api", "start", "--port", String(port), "--no-deploy"],
            environment: environment
        )
        #expect(started.status == 0, "\(started.standardOutput)\(started.standardError)")
        defer { Self.kill(["api"], in: directory.path) }
        #expect(started.standardOutput.contains("http://127.0.0.1:\(port)/api/v1/"))
        let base = "http://127.0.0.1:\(port)"
        #expect(try await Self.curl(["\(base)/api/v1/health"]).status == 401)
        let token = try await Self.readyAdmin(base)
        let health = try await Self.curl(["-H", "Authorization: Bearer \(token)", "\(base)/api/v1/health"])
        #expect(health.status == 200 && Self.json(health.body)["version"] != nil, "\(health.body)")
        let status = try await ProcessRunner.run(binary.path, ["api", "status"], environment: environment)
        #expect(status.status == 0 && status.standardOutput.contains("api: running"), "\(status.standardOutput)")

        let schema = directory.path + "/openapi.json"
        let fetched = try await Self.curl([
            "-H", "Authorization: Bearer \(token)", "-o", schema, "\(base)/api/v1/openapi.json",
        ])
        #expect(fetched.status == 200)
        let run = try await ProcessRunner.run(
            schemathesis,
            [
                "run", schema, "--url", base, "-H", "Authorization: Bearer \(token)",
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
                "--exclude-operation-id", "stream", "--max-examples", "40", "--seed", "7",
                "--suppress-health-check", "all", "--no-color",
            ],
            in: directory.url,
            environment: ["SCHEMATHESIS_HOOKS": "", "HOME": directory.path]
        )
        #expect(run.status == 0, "schemathesis:\n\(run.standardOutput.suffix(6000))\n\(run.standardError.suffix(2000))")
        #expect(run.standardOutput.contains("passed"), "\(run.standardOutput.suffix(3000))")

        let stopped = try await ProcessRunner.run(binary.path, ["api", "stop"], environment: environment)
        #expect(stopped.standardOutput.contains("stopped"))
        #expect(!LoopbackPort.accepts(port))
    }

    /// Fleet actions through the API on a real engine: deploy from an INI file (on loopback addresses), then stop
    /// and start the decky, each answer carrying the decky's new state.
    @Test(.enabled(if: getuid() == 0 || ExternalTool.isCI, "a loopback decky on port 6379 needs root"))
    func theAPIDeploysAndActsOnTheFleet() async throws {
        try #require(getuid() == 0, "a loopback decky on port 6379 needs root")
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        try await NativeFleetHarness.with { harness in
            var environment = harness.environment
            environment["DECNET_JWT_SECRET"] = Self.secret
            environment["DECNET_ADMIN_PASSWORD"] = "first-login-pw"
            environment["DECNET_DB_PATH"] = harness.directory.path + "/decnet.db"
            defer { Self.kill(["api", "web"], in: harness.directory.path) }
            let port = LoopbackPort.unused()
            let started = try await ProcessRunner.run(
                binary.path,
                ["api", "start", "--port", String(port)],
                in: harness.directory.url,
                environment: environment
            )
            try #require(started.status == 0, "\(started.standardOutput)\(started.standardError)")
            let base = "http://127.0.0.1:\(port)"
            let token = try await Self.readyAdmin(base)
            let subnet = "127.82.\(Int.random(in: 1...250))"
            let ini = "[general]\nnet = \(subnet).0/24\n\n[api-decky]\nip = \(subnet).10\nservices = redis\n"
            let body = harness.directory.path + "/deploy.json"
            try JSONSerialization.data(withJSONObject: ["config": ini, "network": "loopback"]).write(
                to: URL(fileURLWithPath: body)
            )
            let auth = ["-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json"]
            let deploy = try await Self.curl(
                auth + ["-X", "POST", "--data-binary", "@\(body)", "\(base)/api/v1/deckies/deploy"]
            )
            #expect(deploy.status == 200, "\(deploy.body)")
            #expect(Self.json(deploy.body)["ok"] as? Bool == true)
            let fleet = Self.json(try await Self.curl(auth + ["\(base)/api/v1/deckies"]).body)
            #expect(fleet["engine_running"] as? Bool == true, "\(fleet)")
            let decky = (fleet["deckies"] as? [[String: Any]])?.first
            #expect(decky?["name"] as? String == "api-decky" && decky?["state"] as? String == "running", "\(fleet)")
            #expect(decky?["ip"] as? String == "\(subnet).10")

            // Another API on the decky's own address is refused.
            let onDecky = try await ProcessRunner.run(
                binary.path,
                ["web", "start", "--host", "\(subnet).10", "--port", String(LoopbackPort.unused())],
                in: harness.directory.url,
                environment: environment
            )
            #expect(
                onDecky.status != 0 && onDecky.standardError.contains("decky api-decky"),
                "\(onDecky.standardError)"
            )

            let stop = try await Self.curl(auth + ["-X", "POST", "\(base)/api/v1/deckies/api-decky/stop"])
            #expect(stop.status == 200, "\(stop.body)")
            #expect((Self.json(stop.body)["decky"] as? [String: Any])?["state"] as? String == "stopped", "\(stop.body)")
            let start = try await Self.curl(auth + ["-X", "POST", "\(base)/api/v1/deckies/api-decky/start"])
            #expect(start.status == 200, "\(start.body)")
            #expect(
                (Self.json(start.body)["decky"] as? [String: Any])?["state"] as? String == "running",
                "\(start.body)"
            )
            let unknown = try await Self.curl(auth + ["-X", "POST", "\(base)/api/v1/deckies/nope/stop"])
            #expect(unknown.status == 404, "\(unknown.body)")
            _ = try await ProcessRunner.run(
                binary.path,
                ["teardown", "--all"],
                in: harness.directory.url,
                environment: environment
            )
        }
    }

    /// The issue's browser run: `decnet web` with the bus, the workers and a loopback decky serving SSH; headless
    /// Chromium logs in (changing the first password), sees the fleet, and the SSH login of a real client shows
    /// up in the live feed of the same page. Screenshots of every page go to `.build/dashboard-screenshots`.
    @Test(.enabled(if: (getuid() == 0 && chromium.path != nil && sshpass.path != nil) || ExternalTool.isCI))
    func theDashboardShowsALoginAsItHappens() async throws {
        try #require(getuid() == 0, "the loopback decky binds port 22: needs root")
        _ = try #require(Self.chromium.path, "\(Self.chromium.missingMessage)")
        let sshpass = try #require(Self.sshpass.path, "\(Self.sshpass.missingMessage)")
        let python = try #require(ExternalTool.python3.path)
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        try await NativeFleetHarness.with { harness in
            var environment = harness.environment
            environment["DECNET_JWT_SECRET"] = Self.secret
            environment["DECNET_ADMIN_PASSWORD"] = "first-login-pw"
            environment["DECNET_DB_PATH"] = harness.directory.path + "/decnet.db"
            func decnet(_ arguments: [String]) async throws -> ProcessResult {
                try await ProcessRunner.run(binary.path, arguments, in: harness.directory.url, environment: environment)
            }
            defer { Self.kill(["web", "profiler", "workers", "bus"], in: harness.directory.path) }
            let subnet = "127.81.\(Int.random(in: 1...250))"
            let deploy = try await decnet([
                "deploy", "--loopback", "-n", "1", "--services", "ssh", "--subnet", "\(subnet).0/24", "--ip-start",
                "\(subnet).10",
            ])
            try #require(deploy.status == 0, "\(deploy.standardOutput)\(deploy.standardError)")
            // A canary token planted on the decky (its web server named by hand: this fleet has no canary decky),
            // and a webhook for the dashboard's test button.
            let planted = try await decnet([
                "canary", "plant", "--type", "url", "--decky", "decky-01", "--label", "payroll <export>", "--base-url",
                "http://\(subnet).10", "--json",
            ])
            try #require(planted.status == 0, "\(planted.standardError)")
            let token = try #require(Self.json(planted.standardOutput)["id"] as? String)
            let receiver = try await HTTPReceiver()
            defer { receiver.stop() }
            let hook = try await decnet([
                "webhook", "create", "--name", "soc", "--url", receiver.url, "--topic", "canary.>",
            ])
            try #require(hook.status == 0, "\(hook.standardError)")
            // A botnet's logins from before and the token's trigger, stored; then the bus, the workers and the
            // profiler as daemons.
            let botnet = harness.directory.path + "/botnet.log"
            try Self.botnetLog(to: botnet)
            let trigger = HoneypotEvent(
                time: Date(),
                id: .canaryTriggered,
                decky: "decky-01",
                hostname: "decky-01",
                service: "canary",
                session: "c1",
                source: Endpoint(ip: "10.81.0.9", port: 50_000),
                destination: Endpoint(ip: "\(subnet).10", port: 80),
                fields: [
                    EventField("token", token), EventField("token_kind", "url"),
                    EventField("label", "payroll <export>"),
                    EventField("planted_decky", "decky-01"), EventField("planted_path", "/opt/app/.env"),
                    EventField("via", "http"), EventField("user_agent", "curl/7.88.1"),
                ]
            )
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: botnet))
            handle.seekToEndOfFile()
            handle.write(Data((RFC5424Formatter.line(for: trigger) + "\n").utf8))
            try handle.close()
            let stored = try await decnet(["workers", "start", "--once", "--log-file", botnet])
            try #require(stored.status == 0, "\(stored.standardError)")
            for daemon in [["bus", "start"], ["workers", "start"], ["profiler", "start", "--interval", "1"]] {
                let result = try await decnet(daemon)
                try #require(result.status == 0, "\(daemon): \(result.standardOutput)\(result.standardError)")
            }
            // The profiler has found the botnet (its status says so) and is woken by what the workers store.
            var status = ""
            for _ in 0..<60 where !status.contains("identities: 1") {
                status = try await decnet(["profiler", "status"]).standardOutput
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(status.contains("profiler: running") && status.contains("identities: 1"), "\(status)")
            let (subscriber, directory, subscriberEnvironment) = (binary.path, harness.directory.url, environment)
            let scored = Task {
                try await ProcessRunner.run(
                    "/usr/bin/timeout",
                    ["120", subscriber, "bus", "sub", "attacker.scored", "--count", "1"],
                    in: directory,
                    environment: subscriberEnvironment
                )
            }
            let port = LoopbackPort.unused()
            let web = try await decnet(["web", "start", "--port", String(port)])
            try #require(web.status == 0, "\(web.standardOutput)\(web.standardError)")
            let shots = PackageLayout.root.appendingPathComponent(".build/dashboard-screenshots").path
            try? FileManager.default.removeItem(atPath: shots)
            let browser = try await ProcessRunner.run(
                python,
                [
                    PackageLayout.root.appendingPathComponent("Tests/DecnetCLITests/Scripts/dashboard_browser.py").path,
                    "http://127.0.0.1:\(port)", "first-login-pw", "second-login-pw", "decky-01", shots, "--",
                    sshpass, "-p", "toor", "ssh", "-o", "StrictHostKeyChecking=no", "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o",
                    "ConnectTimeout=10",
                    "-o", "LogLevel=ERROR", "root@\(subnet).10", "uname -a",
                ]
            )
            let seen = Self.json(browser.standardOutput.split(separator: "\n").last.map(String.init) ?? "")
            #expect(browser.status == 0, "\(browser.standardOutput)\(browser.standardError.suffix(3000))")
            #expect(seen["fleet_lists_decky"] as? Bool == true && seen["fleet_running"] as? Bool == true, "\(seen)")
            #expect((seen["feed_row"] as? String)?.contains("decky-01") == true, "\(seen)")
            #expect(seen["same_page"] as? Bool == true, "the event arrived without a reload")
            #expect(
                seen["attacker"] as? String == "127.0.0.1" || (seen["attacker"] as? String)?.hasPrefix("127.") == true
            )
            #expect((seen["credentials"] as? String)?.contains("toor") == true, "\(seen)")
            #expect((seen["identity_members"] as? String)?.contains("10.81.0.4") == true, "\(seen)")
            #expect((seen["identity_reasons"] as? String)?.contains("credential-list") == true, "\(seen)")
            #expect((seen["campaign_actors"] as? String)?.contains("10.81.0.5") == true, "\(seen)")
            #expect((seen["bounty_leaders"] as? String)?.contains("10.81.0.") == true, "\(seen)")
            let alert = seen["canary_alert"] as? String ?? ""
            #expect(
                alert.contains("payroll <export>") && alert.contains("10.81.0.9"),
                "escaped, shown as text: \(alert)"
            )
            #expect((seen["canary_tokens"] as? String)?.contains(token) == true, "\(seen)")
            #expect((seen["canary_revoked"] as? String)?.contains("revoked") == true, "\(seen)")
            #expect((seen["webhook_test"] as? String)?.hasPrefix("delivered (HTTP 200)") == true, "\(seen)")
            #expect((seen["webhook_deliveries"] as? String)?.contains("system.webhook.test") == true, "\(seen)")
            #expect(receiver.requests.contains { ($0["body"] as? String)?.contains("system.webhook.test") == true })
            // The ssh login the browser watched was profiled too: scored on the bus, woken by the workers.
            let message = try await scored.value
            #expect(message.standardOutput.hasPrefix("attacker.scored {"), "\(message.standardOutput)")
            #expect(message.standardOutput.contains("\"attacker_ip\":\"127."), "\(message.standardOutput)")
            for page in [
                "login", "password", "deckies", "overview", "attackers", "attacker", "logs", "identity", "campaign",
                "bounty", "canary-alert", "canary", "webhooks",
            ] {
                #expect(FileManager.default.fileExists(atPath: "\(shots)/\(page).png"), "screenshot \(page)")
            }
            #expect(try await decnet(["profiler", "stop"]).standardOutput.contains("stopped"))
            _ = try await decnet(["teardown", "--all"])
        }
    }
}
