import DecnetAPI
import DecnetCore
import DecnetStore
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// An API server on a fresh SQLite file, with a cheap bcrypt cost (the hashing is the same, only faster).
struct APIFixture {
    let directory: URL
    let store: SQLiteEventStore
    let server: APIServer

    static let adminPassword = "first-admin-password"

    init(loginAttempts: Int = 5, configure: (inout APISettings) -> Void = { _ in }) async throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "decnet-api-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        self.store = try SQLiteEventStore(path: self.directory.appendingPathComponent("decnet.db").path)
        var settings = APISettings(
            host: "127.0.0.1",
            port: 0,
            secret: APISecret.random(),
            stateDirectory: self.directory.path,
            adminUser: "admin",
            adminPassword: Self.adminPassword,
            dashboard: true
        )
        settings.bcryptCost = 4
        settings.loginAttempts = loginAttempts
        configure(&settings)
        self.server = try await APIServer(settings: settings, store: self.store)
    }

    func remove() { try? FileManager.default.removeItem(at: self.directory) }

    /// Runs `body` against the router (no sockets), then removes the fixture's files.
    func test<Value>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        defer { self.remove() }
        let application = Application(router: self.server.router())
        return try await application.test(.router, body)
    }
}

extension TestClientProtocol {
    /// JSON body of a request.
    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    /// Logs in and returns the token (the login must succeed).
    func token(_ username: String, _ password: String) async throws -> (token: String, mustChange: Bool) {
        try await self.execute(
            uri: "/api/v1/auth/login",
            method: .post,
            headers: [.contentType: "application/json"],
            body: Self.json(["username": username, "password": password])
        ) { response in
            #expect(response.status == .ok, "login \(username): \(String(buffer: response.body))")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            )
            return (
                try #require(object["access_token"] as? String), try #require(object["must_change_password"] as? Bool)
            )
        }
    }

    /// The first admin with the password changed: a token that reaches every route.
    func adminToken() async throws -> String {
        let (first, mustChange) = try await self.token("admin", APIFixture.adminPassword)
        #expect(mustChange)
        try await self.execute(
            uri: "/api/v1/auth/change-password",
            method: .post,
            headers: [.authorization: "Bearer \(first)", .contentType: "application/json"],
            body: Self.json(["old_password": APIFixture.adminPassword, "new_password": "a-much-better-secret"])
        ) { response in
            #expect(response.status == .ok, "\(String(buffer: response.body))")
        }
        return try await self.token("admin", "a-much-better-secret").token
    }

    /// GET with a token; returns status and JSON body (nil when not JSON).
    func get(_ uri: String, token: String?) async throws -> (HTTPResponse.Status, Any?) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await self.execute(uri: uri, method: .get, headers: headers) { response in
            (response.status, try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)))
        }
    }

    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String?,
        json: [String: Any]? = nil
    ) async throws -> (HTTPResponse.Status, Any?) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await self.execute(uri: uri, method: method, headers: headers, body: json.map(Self.json)) {
            response in
            (response.status, try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)))
        }
    }
}

/// Events as the services would log them: two attackers, one moving across two deckies.
enum SampleEvents {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T11:06:40Z

    static func event(
        _ id: EventID,
        _ offset: TimeInterval,
        ip: String,
        decky: String,
        service: ServiceKind,
        session: String,
        _ fields: [(String, String)] = []
    ) -> LogEntry {
        LogEntry(
            HoneypotEvent(
                time: Self.start.addingTimeInterval(offset),
                id: id,
                decky: decky,
                hostname: decky + "-host",
                service: service,
                session: session,
                source: Endpoint(ip: ip, port: 40_000),
                destination: Endpoint(ip: "10.77.0.11", port: service == "ssh" ? 22 : 80),
                fields: fields.map { EventField($0.0, $0.1) }
            )
        )
    }

    static let all: [LogEntry] = [
        event(.connectionOpen, 0, ip: "10.77.0.254", decky: "web01", service: "http", session: "h1"),
        event(
            .commandInput,
            1,
            ip: "10.77.0.254",
            decky: "web01",
            service: "http",
            session: "h1",
            [("command", "GET"), ("args", "/admin"), ("user_agent", "curl/7.88.1")]
        ),
        event(
            .loginFailed,
            10,
            ip: "10.77.0.254",
            decky: "files",
            service: "ssh",
            session: "s1",
            [("username", "root"), ("password", "123456")]
        ),
        event(
            .loginSuccess,
            11,
            ip: "10.77.0.254",
            decky: "files",
            service: "ssh",
            session: "s1",
            [("username", "root"), ("password", "toor")]
        ),
        event(
            .commandInput,
            12,
            ip: "10.77.0.254",
            decky: "files",
            service: "ssh",
            session: "s1",
            [("command", "uname"), ("args", "-a")]
        ),
        event(
            .commandInput,
            13,
            ip: "10.77.0.254",
            decky: "files",
            service: "ssh",
            session: "s1",
            [("command", "echo"), ("args", "<script>alert(1)</script>")]
        ),
        event(.connectionOpen, 130, ip: "10.77.0.254", decky: "web01", service: "http", session: "h2"),
        event(
            .loginFailed,
            200,
            ip: "10.77.0.9",
            decky: "files",
            service: "ssh",
            session: "s2",
            [("username", "=cmd|' /C calc'!A0"), ("password", "x")]
        ),
    ]
}
