import DecnetCore
import DecnetPipeline
import DecnetTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /api/v1/swarm/hosts` over a real swarm register and the master's real listener (the binary's
/// `listener start --swarm`): each host with its pinned certificate and the state the listener sees.
@Suite struct APISwarmTests {
    @Test("The swarm's hosts with their pins and state; unknown without a listener, never seen with one")
    func hostsAndTheirState() async throws {
        let binary = try #require(PackageLayout.decnetBinary, "build the decnet product first (swift build)")
        let fixture = try await APIFixture()
        defer { fixture.remove() }
        let state = fixture.directory.path
        let authority = CertificateAuthority(directory: state + "/pki")
        try authority.initialize()
        let edge = try authority.issue(
            name: "edge-01",
            roles: [.client, .server],
            subjectAlternativeNames: ["10.0.0.2"]
        )
        let added = try SwarmRegistry(stateDirectory: state).add(
            name: "edge-01",
            address: "10.0.0.2:8765",
            certificatePath: edge.certificatePath
        )
        try await fixture.test { client in
            let token = try await client.adminToken()
            let schema = try await OpenAPIConformance(client, token: token)
            let (status, body) = try await client.get("/api/v1/swarm/hosts", token: token)
            #expect(status == .ok)
            schema.expect(body, isArrayOf: "SwarmHost")
            let host = try #require((body as? [[String: Any]])?.first)
            #expect(host["name"] as? String == "edge-01" && host["address"] as? String == "10.0.0.2:8765")
            #expect(host["fingerprint"] as? String == added.fingerprint && host["subject"] as? String == "edge-01")
            #expect(host["state"] as? String == "unknown" && host["last_seen"] is NSNull)
            let (anonymous, _) = try await client.get("/api/v1/swarm/hosts", token: nil)
            #expect(anonymous == .unauthorized)

            // With the master's listener running (nobody connected yet): never seen.
            let port = LoopbackPort.unused()
            let environment = ["DECNET_STATE_DIR": state, "DECNET_INGEST_LOG_FILE": state + "/decnet.log"]
            let started = try await ProcessRunner.run(
                binary.path,
                ["listener", "start", "--swarm", "--bind", "127.0.0.1:\(port)"],
                environment: environment
            )
            try #require(started.status == 0, "\(started.standardError)")
            defer { APIDaemonKill.kill("listener", in: state) }
            var seen = "unknown"
            for _ in 0..<100 where seen == "unknown" {
                try await Task.sleep(for: .milliseconds(50))
                let (_, again) = try await client.get("/api/v1/swarm/hosts", token: token)
                seen = ((again as? [[String: Any]])?.first?["state"] as? String) ?? "?"
            }
            #expect(seen == "never seen")

            // The dashboard's Swarm page: the host, its state, its address escaped (free text on `swarm add`).
            try SwarmRegistry(stateDirectory: state).add(
                name: "edge-02",
                address: "<script>alert(1)</script>",
                certificatePath: try authority.issue(name: "edge-02", roles: [.client]).certificatePath
            )
            // The session cookie of the admin whose password adminToken() changed.
            let cookie = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"username":"admin","password":"a-much-better-secret"}"#)
            ) { String(try #require($0.headers[.setCookie]?.split(separator: ";").first)) }
            let html = try await client.execute(uri: "/swarm", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
            #expect(html.contains("id=\"swarm-hosts\"") && html.contains("<strong>edge-01</strong>"))
            #expect(html.contains("<span class=\"state swarm-never-seen\">never seen</span>"))
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert(1)"))
            #expect(html.contains("<a href=\"/swarm\" aria-current=\"page\">Swarm</a>"))
            try await client.execute(uri: "/swarm", method: .get) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login")
            }
        }
    }
}

extension APISwarmTests {
    @Test("An admin adds a host through the API (identity issued and pinned) and removes it (refused from then on)")
    func hostsAreAddedAndRemoved() async throws {
        let fixture = try await APIFixture()
        defer { fixture.remove() }
        let state = fixture.directory.path
        try await fixture.test { client in
            let token = try await client.adminToken()
            let schema = try await OpenAPIConformance(client, token: token)
            let (created, body) = try await client.send(
                .post,
                "/api/v1/swarm/hosts",
                token: token,
                json: ["name": "edge-03", "address": "10.0.0.3:8765"]
            )
            #expect(created == .created, "\(String(describing: body))")
            schema.expect(body, matches: "NewSwarmHost")
            let answer = try #require(body as? [String: Any])
            let identity = try #require(answer["identity"] as? String)
            #expect(identity == state + "/pki/edge-03")
            for file in ["cert.pem", "key.pem", "ca.crt", ReleaseSigning.publicKeyFile] {
                #expect(FileManager.default.fileExists(atPath: identity + "/" + file), "\(file)")
            }
            let pinned = try #require(try SwarmRegistry(stateDirectory: state).hosts().first { $0.name == "edge-03" })
            let host = try #require(answer["host"] as? [String: Any])
            #expect(host["fingerprint"] as? String == pinned.fingerprint && host["state"] as? String == "never seen")
            // Refused: the same name again, a name with a slash, an address with a space; not for a viewer either.
            for (json, reason) in [
                (["name": "edge-03", "address": "10.0.0.4"], "edge-03"),
                (["name": "../x", "address": "10.0.0.4"], "host name"), (["name": "e", "address": "a b"], "address"),
                // What schemathesis sent once (a 500 then: the CA refused it as a SAN).
                (["name": "api", "address": "\u{9a}\u{1d}e\u{db}\u{97}\u{da}\u{ec}\u{fa}"], "address"),
                (["name": "e", "address": "10.0.0.4:0"], "port"), (["name": "e", "address": "[::1"], "IPv6"),
            ] {
                let (status, refused) = try await client.send(.post, "/api/v1/swarm/hosts", token: token, json: json)
                #expect(status == .badRequest, "\(json)")
                #expect(
                    ((refused as? [String: Any])?["detail"] as? String)?.contains(reason) == true,
                    "\(String(describing: refused))"
                )
            }
            for address in ["agent.example.org:8765", "[fd00::5]:8765", "10.0.0.9"] {
                #expect(SwarmEnrolment.addressProblem(address) == nil, "\(address)")
            }
            let (removed, gone) = try await client.send(.delete, "/api/v1/swarm/hosts/edge-03", token: token)
            #expect(removed == .ok && (gone as? [String: Any])?["state"] as? String == "removed")
            #expect(try SwarmRegistry(stateDirectory: state).hosts().isEmpty)
            let (again, _) = try await client.send(.delete, "/api/v1/swarm/hosts/edge-03", token: token)
            #expect(again == .notFound)
            let (anonymous, _) = try await client.send(.delete, "/api/v1/swarm/hosts/edge-03", token: nil)
            #expect(anonymous == .unauthorized)
        }
    }
}

/// Ends a daemon a test started, by the pid it wrote in the state directory.
enum APIDaemonKill {
    static func kill(_ name: String, in directory: String) {
        if let text = try? String(contentsOfFile: "\(directory)/decnet-\(name).pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        {
            Glibc.kill(pid, SIGKILL)
        }
    }
}
