import DecnetCore
import DecnetIntel
import DecnetPipeline
import DecnetRuntime
import DecnetStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// How an API process is set up.
public struct APISettings: Sendable {
    public var host: String
    public var port: Int
    /// The HS256 key (checked by `APISecret.resolve`).
    public var secret: String
    public var tokenLifetime: TimeInterval = 8 * 3600
    /// bcrypt's cost for new hashes (2^cost rounds).
    public var bcryptCost: UInt8 = 12
    public var stateDirectory: String
    public var adminUser: String
    public var adminPassword: String
    /// Also serve the dashboard pages (`decnet web`); the API alone otherwise (`decnet api`).
    public var dashboard: Bool
    /// What `GET /config` shows: the runtime configuration, secrets left out.
    public var configuration: [String: String]
    public var databaseBackend: String
    /// Failed logins per client address (and per username) within `loginWindow` before 429.
    public var loginAttempts = 5
    public var loginWindow: TimeInterval = 60
    /// How long the read routes the dashboard polls may answer from the micro-cache (0: never).
    public var responseCacheLifetime: Duration = .seconds(1)
    /// The bus broker's socket the live stream listens to (default: the state directory's).
    public var busSocket: String?
    /// Runs `decnet deploy` with these arguments (`--config FILE`, and `--lab` or `--loopback` when asked) for
    /// `POST /deckies/deploy`; nil answers 403.
    public var deployer: (@Sendable (_ arguments: [String]) async throws -> (ok: Bool, output: [String]))?
    /// Runs `decnet` with these arguments (`topology deploy|teardown --id …`) for the topology mutations; nil
    /// answers 403.
    public var runner: (@Sendable (_ arguments: [String]) async throws -> (ok: Bool, output: [String]))?
    /// The location database attackers' addresses are looked up in (default: `$DECNET_GEOIP_DB` or Debian's);
    /// nil or unreadable: attackers are shown without a location.
    public var geoDatabase: String? = LocationDatabase.defaultPath()
    /// Wakes the profiler running in this process (`DECNET_EMBED_PROFILER`), so an operator's merge or unmerge
    /// applies at once; a profiler of its own picks it up on its next check.
    public var profilerWake: (@Sendable () -> Void)?

    public init(
        host: String,
        port: Int,
        secret: String,
        stateDirectory: String,
        adminUser: String,
        adminPassword: String,
        dashboard: Bool,
        configuration: [String: String] = [:],
        databaseBackend: String = "sqlite"
    ) {
        self.host = host
        self.port = port
        self.secret = secret
        self.stateDirectory = stateDirectory
        self.adminUser = adminUser
        self.adminPassword = adminPassword
        self.dashboard = dashboard
        self.configuration = configuration
        self.databaseBackend = databaseBackend
    }
}

/// The REST API under `/api/v1` (and, for `decnet web`, the dashboard) on Hummingbird: one router, the store,
/// tokens, users, the fleet and the live feed.
public final class APIServer: Sendable {
    public let settings: APISettings
    let store: any EventStore
    let tokens: TokenService
    let users: UserDirectory
    let limiter: LoginLimiter
    let fleet: FleetAccess
    public let feed: LiveFeed
    let cache: ResponseCache
    /// Country, network and autonomous system of attacker addresses, looked up as they are shown (microseconds
    /// each, and always from the database installed now).
    let geo: LocationDatabase?
    let started = Date()
    static let version = "0.7.0"

    /// Prepares the server: migrates the store and creates the first admin if there is no user yet.
    public init(settings: APISettings, store: any EventStore) async throws {
        self.settings = settings
        self.store = store
        try await store.migrate()
        self.tokens = await TokenService(secret: settings.secret, lifetime: settings.tokenLifetime)
        self.users = UserDirectory(store: store, cost: settings.bcryptCost)
        self.limiter = LoginLimiter(attempts: settings.loginAttempts, window: settings.loginWindow)
        self.fleet = FleetAccess(stateDirectory: settings.stateDirectory, deployer: settings.deployer)
        self.cache = ResponseCache(lifetime: settings.responseCacheLifetime)
        self.geo = settings.geoDatabase.flatMap { try? LocationDatabase(path: $0) }
        self.feed = LiveFeed(
            socketPath: settings.busSocket ?? BusTopics.socket(stateDirectory: settings.stateDirectory)
        )
        _ = try await self.users.bootstrap(admin: settings.adminUser, password: settings.adminPassword)
    }

    /// Every route, in the order the OpenAPI document lists them.
    public func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        let v1 = router.group("api/v1")
        self.addLogin(to: v1)
        let protected = v1.group().add(middleware: AuthenticationMiddleware(tokens: self.tokens, users: self.users))
        self.addAuth(to: protected)
        self.addAttackers(to: protected)
        self.addIntelligence(to: protected)
        self.addDeckies(to: protected)
        self.addLogs(to: protected)
        self.addOverview(to: protected)
        self.addStream(to: protected)
        self.addCanary(to: protected)
        self.addSwarm(to: protected)
        self.addTopology(to: protected)
        self.addWebhooks(to: protected)
        protected.get("openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
            )
        }
        if self.settings.dashboard { self.addDashboard(to: router) }
        return router
    }

    /// The application bound to the settings' address.
    public func application(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    )
        -> some ApplicationProtocol
    {
        var logger = Logger(label: self.settings.dashboard ? "decnet.web" : "decnet.api")
        logger.logLevel = .notice
        return Application(
            router: self.router(),
            configuration: .init(
                address: .hostname(self.settings.host, port: self.settings.port),
                serverName: nil,
                backlog: 4096
            ),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }

    /// Serves until cancelled (or SIGTERM/SIGINT), with the live feed listening to the bus.
    public func run(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) async throws {
        let feed = Task { await self.feed.run() }
        defer { feed.cancel() }
        try await self.application(onServerRunning: onServerRunning).runService()
    }
}

/// Header names HTTPTypes does not predefine, made once rather than per request.
enum APIHeaders {
    static let requestedWith = HTTPField.Name("X-Requested-With")!
    static let frameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
}

/// Headers every answer carries: no sniffing, no framing, no referrer leaks; pages only run our own scripts.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[APIHeaders.frameOptions] = "DENY"
        response.headers[APIHeaders.referrerPolicy] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.headers[.contentSecurityPolicy] =
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        }
        return response
    }
}

/// Live messages from the bus broker, fanned out to every stream client through a bounded in-process bus: a slow
/// browser loses messages (counted), it never slows the others or the broker.
public final class LiveFeed: Sendable {
    public let bus = MessageBus(queueCapacity: 1_000)
    let socketPath: String

    init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Listens to everything on the broker, reconnecting every second while it is away, until cancelled.
    func run() async {
        while !Task.isCancelled {
            if FileManager.default.fileExists(atPath: self.socketPath) {
                try? await BusConnection.subscribe(self.socketPath, pattern: ">", name: "decnet-api") {
                    subject,
                    payload in
                    guard let subject = try? Subject(subject) else { return true }
                    self.bus.publish(BusMessage(subject: subject, payload: Array(payload.readableBytesView)))
                    return !Task.isCancelled
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
