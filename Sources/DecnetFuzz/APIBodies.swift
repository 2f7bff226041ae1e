import DecnetAPI
import DecnetConfig
import DecnetCore
import DecnetStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import Synchronization

/// The `api-json` target: the REST API's JSON request bodies, through the API's own router (its middleware, the
/// admin's bearer token, the route's decoding and checks, the SQLite store behind it), without sockets. The
/// input's first byte chooses the route, the rest is the body. No body may get a 500: a bad one is a 4xx that
/// says what is wrong, so a 500 traps (a finding), as a crash does.
public enum APIBodies {
    /// The routes with JSON bodies, by the input's first byte (modulo their count). `{topology}` is the id of a
    /// topology the fixture made, `{identity}` one that does not exist.
    static let routes: [(method: HTTPRequest.Method, path: String, token: Bool)] = [
        (.post, "/api/v1/auth/login", false),
        (.post, "/api/v1/auth/change-password", true),
        (.post, "/api/v1/auth/users", true),
        (.post, "/api/v1/deckies/deploy", true),
        (.post, "/api/v1/identities/{identity}/merge", true),
        (.post, "/api/v1/identities/{identity}/unmerge", true),
        (.post, "/api/v1/canary", true),
        (.post, "/api/v1/swarm/hosts", true),
        (.post, "/api/v1/topology", true),
        (.put, "/api/v1/topology/{topology}/positions", true),
        (.post, "/api/v1/webhooks", true),
    ]

    /// Each fixture serves this many inputs, then a fresh one (a new state directory and store) takes over, so
    /// what the accepted bodies create (users, webhooks, canary files, swarm certificates) stays bounded.
    static let inputsPerFixture = 256

    static func run(_ bytes: [UInt8]) {
        guard let answer = Self.answer(bytes) else { return }
        if answer.code == 500 {
            fatalError("\(answer.route) answered 500 to a body of \(bytes.count - 1) bytes: \(answer.detail)")
        }
    }

    /// The route an input chose and the API's answer to it (nil for the empty input).
    public static func answer(_ bytes: [UInt8]) -> (route: String, code: Int, detail: String)? {
        let fixture = Self.state.withLock { state -> Fixture in
            if state.fixture == nil || state.served >= Self.inputsPerFixture {
                if state.fixture == nil { Self.removeAtExit() }
                state.fixture?.remove()
                state.fixture = Self.blocking { try! await Fixture.make() }
                state.served = 0
            }
            state.served += 1
            return state.fixture!
        }
        return Self.answer(bytes, from: fixture)
    }

    /// The answers to `inputs`, in order, from a fixture of their own (removed after).
    public static func answers(_ inputs: [[UInt8]]) -> [(route: String, code: Int, detail: String)?] {
        let fixture = Self.blocking { try! await Fixture.make() }
        defer { fixture.remove() }
        return inputs.map { Self.answer($0, from: fixture) }
    }

    static func answer(_ bytes: [UInt8], from fixture: Fixture) -> (route: String, code: Int, detail: String)? {
        guard let selector = bytes.first else { return nil }
        let route = Self.routes[Int(selector) % Self.routes.count]
        let body = Array(bytes.dropFirst())
        let (status, detail) = Self.blocking {
            await fixture.send(route.method, route.path, body: body, token: route.token ? fixture.token : nil)
        }
        return ("\(route.method) \(route.path)", status.code, detail)
    }

    struct State: Sendable {
        var fixture: Fixture?
        var served = 0
    }
    static let state = Mutex(State())

    /// An API server on a SQLite file of its own, with the first admin logged in and their password changed.
    final class Fixture: Sendable {
        let directory: String
        let responder: RouterResponder<APIRequestContext>
        let token: String
        let topology: String
        /// The channel the requests' contexts name (only its peer address is read): one for the process, as an
        /// unclosed testing channel holds itself through its pipeline and would be a leak per fixture.
        static let channel = NIOAsyncTestingChannel()
        let logger: Logger = {
            var logger = Logger(label: "decnet.fuzz.api")
            // Only the error middleware's account of a 500 is wanted, just before the trap.
            logger.logLevel = .error
            return logger
        }()

        private init(directory: String, responder: RouterResponder<APIRequestContext>, token: String, topology: String)
        {
            self.directory = directory
            self.responder = responder
            self.token = token
            self.topology = topology
        }

        static func make() async throws -> Fixture {
            let directory = NSTemporaryDirectory() + "decnet-fuzz-api-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            APIBodies.current.withLock { $0 = directory }
            let store = try SQLiteEventStore(path: directory + "/decnet.db")
            var settings = APISettings(
                host: "127.0.0.1",
                port: 0,
                secret: APISecret.random(),
                stateDirectory: directory,
                adminUser: "admin",
                adminPassword: "fuzz-first-password",
                dashboard: false
            )
            settings.bcryptCost = 4
            settings.loginAttempts = Int.max
            settings.geoDatabase = nil
            settings.responseCacheLifetime = .zero
            settings.busSocket = directory + "/no-bus.sock"
            // The deploy route hands its fleet file to `decnet deploy`; here the file is only read, as the
            // deploy's first step does, and removed.
            settings.deployer = { arguments in
                let path = arguments[arguments.index(after: arguments.firstIndex(of: "--config")!)]
                defer { try? FileManager.default.removeItem(atPath: path) }
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                let request = FleetFileLoader.request(from: text, path: path)
                return (!request.deckies.isEmpty, ["\(request.deckies.count) decky(s) read"])
            }
            let server = try await APIServer(settings: settings, store: store)
            let bootstrap = Fixture(
                directory: directory,
                responder: server.router().buildResponder(),
                token: "",
                topology: ""
            )
            let first = try await bootstrap.login("fuzz-first-password")
            let changed = await bootstrap.send(
                .post,
                "/api/v1/auth/change-password",
                body: Array(#"{"old_password":"fuzz-first-password","new_password":"fuzz-second-password"}"#.utf8),
                token: first
            )
            guard changed.status == .ok else { throw Failure(description: "change-password: \(changed.detail)") }
            let token = try await bootstrap.login("fuzz-second-password")
            let config = "[subnet:dmz]\nnet = 10.80.1.0/24\n\n[web]\nsubnet = dmz\nip = 10.80.1.10\nservices = http\n"
            let body = try JSONSerialization.data(withJSONObject: ["name": "fuzz", "config": config])
            let made = await bootstrap.send(.post, "/api/v1/topology", body: Array(body), token: token)
            guard made.status == .created, let id = Self.field("id", of: made.detail) else {
                throw Failure(description: "topology: \(made.status) \(made.detail)")
            }
            return Fixture(directory: directory, responder: bootstrap.responder, token: token, topology: id)
        }

        struct Failure: Error, CustomStringConvertible {
            let description: String
        }

        func login(_ password: String) async throws -> String {
            let body = #"{"username":"admin","password":"\#(password)"}"#
            let answer = await self.send(.post, "/api/v1/auth/login", body: Array(body.utf8), token: nil)
            guard answer.status == .ok, let token = Self.field("access_token", of: answer.detail) else {
                throw Failure(description: "login: \(answer.status) \(answer.detail)")
            }
            return token
        }

        static func field(_ key: String, of json: String) -> String? {
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            return object?[key] as? String
        }

        /// One request through the router; the status and the body of the answer.
        func send(
            _ method: HTTPRequest.Method,
            _ path: String,
            body: [UInt8],
            token: String?
        ) async -> (status: HTTPResponse.Status, detail: String) {
            var fields: HTTPFields = [.contentType: "application/json"]
            if let token { fields[.authorization] = "Bearer \(token)" }
            let resolved = path.replacingOccurrences(of: "{topology}", with: self.topology)
                .replacingOccurrences(of: "{identity}", with: "00000000-0000-4000-8000-000000000000")
            let head = HTTPRequest(
                method: method,
                scheme: "http",
                authority: "127.0.0.1",
                path: resolved,
                headerFields: fields
            )
            let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
            let context = APIRequestContext(
                source: ApplicationRequestContextSource(channel: Self.channel, logger: self.logger)
            )
            do {
                let response = try await self.responder.respond(to: request, context: context)
                let collected = Collected()
                try await response.body.write(Collector(into: collected))
                return (response.status, String(buffer: collected.buffer.withLock { $0 }))
            } catch {
                // What the error middleware lets through is Hummingbird's to answer: never a 500 for a body.
                return ((error as? any HTTPResponseError)?.status ?? .internalServerError, "\(error)")
            }
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: self.directory)
        }
    }

    /// The fixture's state directory in use, removed when the process exits.
    static let current = Mutex<String?>(nil)

    static func removeAtExit() {
        atexit {
            if let directory = APIBodies.current.withLock({ $0 }) {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    final class Collected: Sendable {
        let buffer = Mutex(ByteBuffer())
    }

    struct Collector: ResponseBodyWriter {
        let into: Collected

        mutating func write(_ buffer: ByteBuffer) async throws {
            var buffer = buffer
            self.into.buffer.withLock { _ = $0.writeBuffer(&buffer) }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    /// Runs `body` to its end on the target's own thread and returns its value: libFuzzer calls targets
    /// synchronously, and under `swift test` the caller may itself hold one of the few cooperative threads.
    static func blocking<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Value {
        let result = Outcome<Value>()
        let done = DispatchSemaphore(value: 0)
        Task(executorPreference: Self.executor) {
            let value = await body()
            result.value.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.value.withLock { $0! }
    }

    /// Where `blocking` leaves its task's value (a class: a Mutex cannot be captured by the task's closure).
    final class Outcome<Value: Sendable>: Sendable {
        let value = Mutex<Value?>(nil)
    }

    static let executor = ThreadExecutor()
}

/// A task executor on a thread of its own: the API fixture's work runs there, not on the cooperative pool.
final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "decnet-fuzz-api"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.condition.lock()
        self.jobs.append(job)
        self.condition.signal()
        self.condition.unlock()
    }

    private func loop() {
        while true {
            self.condition.lock()
            while self.jobs.isEmpty { self.condition.wait() }
            let job = self.jobs.removeFirst()
            self.condition.unlock()
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
