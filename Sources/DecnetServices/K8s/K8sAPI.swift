import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization

/// The Kubernetes API server's logic without I/O: authentication (bearer tokens, client certificates, Basic,
/// anonymous), RBAC-like authorization with the real Forbidden wording, discovery, the fake cluster's objects,
/// creations and exec requests. One request in, one response and its events out.
struct K8sAPI: Sendable {
    struct Configuration: Sendable {
        var release: K8sRelease
        /// `k8s_anonymous`: anonymous requests may do anything (the `cluster-admin` to `system:anonymous` binding).
        var anonymousAllowed = false
        /// `k8s_tokens`.
        var tokens = K8sTokens(nil)
        /// Where the server says it lives (`/api`'s serverAddressByClientCIDRs).
        var serverAddress: String
        /// Longest a watch is held open, in seconds.
        var watchSeconds = 30
        /// Seed for the per-cluster flow-schema uids.
        var hostname: String
    }

    /// A request as the connection assembled it.
    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [(name: String, value: String)]
        var body: [UInt8] = []
        var bodyTooLarge = false
        /// The client certificate presented in the TLS handshake, if any.
        var clientCertificate: K8sClientCertificate?
        /// Served on the legacy insecure port (no authentication, no authorization).
        var insecurePort = false

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }

        var path: String { String(self.uri.prefix { $0 != "?" }) }

        var query: [String: [String]] { K8sAPI.query(self.uri) }
    }

    /// What goes back: the handler's headers (the writer sorts them and adds Date and the framing, as Go does).
    struct Response: Sendable {
        enum Body: Sendable {
            case bytes([UInt8])
            /// A watch: these events now, then the stream is held open up to `seconds`.
            case watch(events: [[UInt8]], seconds: Int)
            /// A remote command over an upgraded connection.
            case exec(K8sExecRequest)
        }

        var status: Int
        var headers: [(String, String)]
        var body: Body
    }

    /// What a connection remembers between requests: credentials already recorded.
    struct ConnectionState: Sendable {
        var reported: Set<String> = []
    }

    let configuration: Configuration
    let cluster: K8sCluster
    let discovery: K8sDiscovery
    /// Unix time now.
    var now: @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }
    /// A fresh audit id per request.
    var auditID: @Sendable () -> String = { UUID().uuidString.lowercased() }

    init(configuration: Configuration, cluster: K8sCluster) {
        self.configuration = configuration
        self.cluster = cluster
        self.discovery = K8sDiscovery(release: configuration.release)
    }

    // MARK: Entry

    func respond(to request: Request, state: inout ConnectionState) -> (Response, [(EventID, EventFields)]) {
        var events: [(EventID, EventFields)] = []
        let identity = self.authenticate(request, state: &state, events: &events)
        var fields = EventFields()
        fields.add("command", attackerText: request.method)
        fields.add("args", attackerText: request.uri)
        if let agent = request.header("User-Agent") { fields.add("user_agent", attackerText: agent) }
        fields.add("user", attackerText: identity == .rejected ? "(unauthorized)" : identity.name)
        events.insert((.commandInput, fields), at: 0)
        if !request.body.isEmpty {
            var payload = EventFields()
            payload.add("kind", "k8s-api")
            payload.add("size", String(request.body.count))
            payload.add("sha256", ArtifactStore.sha256(request.body))
            payload.add("preview", attackerBytes: request.body.prefix(400))
            events.append((.payloadReceived, payload))
        }
        let info = K8sRequestInfo(method: request.method, path: request.path, query: request.query)
        guard identity != .rejected else {
            if Self.isExec(info) { events.append(Self.execEvent(info, request: request)) }
            let status = Self.status(401, "Unauthorized", "Unauthorized", details: nil)
            return (self.json(401, status, request: request, identity: identity, flowControl: false), events)
        }
        if !self.authorized(identity, info) {
            if Self.isExec(info) { events.append(Self.execEvent(info, request: request)) }
            return (self.forbidden(info, identity: identity, request: request), events)
        }
        if request.bodyTooLarge {
            let tooLarge = self.failure(
                413,
                "RequestEntityTooLarge",
                "Request entity too large: limit is 3145728",
                details: nil,
                request: request,
                identity: identity
            )
            return (tooLarge, events)
        }
        let response =
            info.isResource
            ? self.resource(info, request: request, identity: identity, events: &events)
            : self.nonResource(info, request: request, identity: identity)
        return (response, events)
    }

    // MARK: Authentication

    /// The identity, recording each credential once per connection.
    func authenticate(
        _ request: Request,
        state: inout ConnectionState,
        events: inout [(EventID, EventFields)]
    ) -> K8sIdentity {
        let credential = K8sCredential(header: request.header("Authorization"))
        var accepted: K8sIdentity?
        var presentedToken = false
        switch credential {
        case .bearer(let token):
            presentedToken = true
            let claims = K8sJWT(token)
            let user =
                self.configuration.tokens.user(for: token, claims: claims)
                ?? self.cluster.mintedUser(token)
            if let user { accepted = .user(name: user.name, groups: user.groups) }
            if state.reported.insert("bearer " + token).inserted {
                var fields = EventFields()
                fields.add("username", attackerText: user?.name ?? claims?.subject ?? "")
                fields.add("password", attackerText: token, secret: true)
                fields.add("method", "bearer")
                if let claims { Self.add(claims, to: &fields) }
                events.append((user != nil ? .loginSuccess : .loginFailed, fields))
            }
        case .basic(let user, let password):
            if state.reported.insert("basic \(user):\(password)").inserted {
                var fields = EventFields()
                fields.add("username", attackerText: user)
                fields.add("password", attackerText: password, secret: true)
                fields.add("method", "http-basic")
                events.append((.loginFailed, fields))
            }
        case .other(let header):
            if state.reported.insert("other " + header).inserted {
                var fields = EventFields()
                fields.add("username", "")
                fields.add("password", attackerText: header, secret: true)
                fields.add("method", "authorization-header")
                events.append((.loginFailed, fields))
            }
        case .none: break
        }
        if let certificate = request.clientCertificate, state.reported.insert("x509 " + certificate.sha256).inserted {
            var fields = EventFields()
            fields.add("username", attackerText: certificate.commonName)
            fields.add("password", "")
            fields.add("method", "x509")
            fields.add("groups", attackerText: certificate.organizations.joined(separator: ","))
            fields.add("issuer", attackerText: certificate.issuer)
            fields.add("cert_sha256", certificate.sha256)
            events.append((.loginFailed, fields))
        }
        if request.insecurePort { return .insecure }
        if let accepted { return accepted }
        // A token or certificate the cluster does not know fails the request; it is never anonymous.
        if presentedToken || request.clientCertificate != nil { return .rejected }
        return .anonymous
    }

    static func add(_ claims: K8sJWT, to fields: inout EventFields) {
        if let issuer = claims.issuer { fields.add("jwt_iss", attackerText: issuer) }
        if let subject = claims.subject { fields.add("jwt_sub", attackerText: subject) }
        if !claims.audience.isEmpty { fields.add("jwt_aud", attackerText: claims.audience.joined(separator: ",")) }
        if let expires = claims.expires { fields.add("jwt_exp", String(expires)) }
        if let issued = claims.issuedAt { fields.add("jwt_iat", String(issued)) }
        if let algorithm = claims.algorithm { fields.add("jwt_alg", attackerText: algorithm) }
        if let keyID = claims.keyID { fields.add("jwt_kid", attackerText: keyID) }
        if let namespace = claims.namespace { fields.add("sa_namespace", attackerText: namespace) }
        if let account = claims.serviceAccount { fields.add("sa_name", attackerText: account) }
        if let pod = claims.pod { fields.add("sa_pod", attackerText: pod) }
    }

    // MARK: Authorization

    /// What kubeadm's default RBAC lets anonymous do: `system:public-info-viewer` (GET on the health and version
    /// paths) and reading the `cluster-info` config map in `kube-public`. Everyone else here is an admin.
    func authorized(_ identity: K8sIdentity, _ info: K8sRequestInfo) -> Bool {
        guard identity == .anonymous, !self.configuration.anonymousAllowed else { return true }
        if !info.isResource {
            return info.verb == "get" && ["/healthz", "/livez", "/readyz", "/version", "/version/"].contains(info.path)
        }
        return info.verb == "get" && info.group == "" && info.resource == "configmaps"
            && info.namespace == "kube-public"
            && info.name == "cluster-info" && info.subresource.isEmpty
    }

    /// 403 in the authorization filter's words.
    func forbidden(_ info: K8sRequestInfo, identity: K8sIdentity, request: Request) -> Response {
        let user = identity.name
        let message: String
        var details: [(String, K8sJSON)] = []
        if !info.isResource {
            message = "forbidden: User \"\(user)\" cannot \(info.verb) path \"\(info.path)\""
        } else {
            let resource = info.subresource.isEmpty ? info.resource : "\(info.resource)/\(info.subresource)"
            let scope =
                info.namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(info.namespace)\""
            let reason =
                "User \"\(user)\" cannot \(info.verb) resource \"\(resource)\" in API group \"\(info.group)\" \(scope)"
            let qualified = info.qualifiedResource
            message =
                info.name.isEmpty
                ? "\(qualified) is forbidden: \(reason)" : "\(qualified) \"\(info.name)\" is forbidden: \(reason)"
            if !info.name.isEmpty { details.append(("name", .string(info.name))) }
            if !info.group.isEmpty { details.append(("group", .string(info.group))) }
            details.append(("kind", .string(info.resource)))
        }
        return self.failure(403, "Forbidden", message, details: .object(details), request: request, identity: identity)
    }

    // MARK: Responses

    /// A `Status` as `apierrors` builds it.
    static func status(_ code: Int, _ reason: String, _ message: String, details: K8sJSON?) -> K8sJSON {
        var fields: [(String, K8sJSON)] = [
            ("kind", "Status"), ("apiVersion", "v1"), ("metadata", .empty), ("status", "Failure"),
            ("message", .string(message)), ("reason", .string(reason)),
        ]
        if let details { fields.append(("details", details)) }
        fields.append(("code", .int(code)))
        return .object(fields)
    }

    /// A `Status` of success (`metav1.Status{Status: Success}`), with any further fields after it.
    static func successStatus(_ more: [(String, K8sJSON)] = []) -> K8sJSON {
        .object([("kind", "Status"), ("apiVersion", "v1"), ("metadata", .empty), ("status", "Success")] + more)
    }

    /// The `command.input` record of an action on the cluster: the command and its arguments.
    static func commandRecord(_ name: String, args: String) -> (EventID, EventFields) {
        var fields = EventFields()
        fields.add("command", name)
        fields.add("args", attackerText: args)
        return (.commandInput, fields)
    }

    static func details(name: String = "", group: String = "", kind: String) -> K8sJSON {
        var fields: [(String, K8sJSON)] = []
        if !name.isEmpty { fields.append(("name", .string(name))) }
        if !group.isEmpty { fields.append(("group", .string(group))) }
        fields.append(("kind", .string(kind)))
        return .object(fields)
    }

    /// The headers the server's filters set: an audit id, no caching, and (once past authentication) the
    /// flow-control schema and priority level the request was classified into.
    func headers(
        _ contentType: String,
        request: Request,
        identity: K8sIdentity,
        flowControl: Bool = true
    )
        -> [(String, String)]
    {
        if request.insecurePort { return [("Cache-Control", "no-cache, private"), ("Content-Type", contentType)] }
        var headers = [
            ("Audit-Id", self.auditID()), ("Cache-Control", "no-cache, private"), ("Content-Type", contentType),
        ]
        if flowControl {
            let probe = ["/healthz", "/livez", "/readyz"].contains { request.path.hasPrefix($0) }
            let (schema, level): (String, String)
            if probe {
                (schema, level) = ("probes", "exempt")
            } else if identity.groups.contains("system:masters") {
                (schema, level) = ("exempt", "exempt")
            } else if identity.groups.contains("system:serviceaccounts") {
                (schema, level) = ("service-accounts", "workload-low")
            } else {
                (schema, level) = ("global-default", "global-default")
            }
            let objects = self.cluster.objects
            headers.append(("X-Kubernetes-Pf-Flowschema-Uid", objects.uid("flowschema " + schema)))
            headers.append(("X-Kubernetes-Pf-Prioritylevel-Uid", objects.uid("prioritylevel " + level)))
        }
        return headers
    }

    /// An error as the API server answers it: a `Status` whose code is the response's.
    func failure(
        _ code: Int,
        _ reason: String,
        _ message: String,
        details: K8sJSON?,
        request: Request,
        identity: K8sIdentity
    ) -> Response {
        self.json(code, Self.status(code, reason, message, details: details), request: request, identity: identity)
    }

    func json(
        _ code: Int,
        _ value: K8sJSON,
        request: Request,
        identity: K8sIdentity,
        contentType: String = "application/json",
        flowControl: Bool = true
    ) -> Response {
        Response(
            status: code,
            headers: self.headers(contentType, request: request, identity: identity, flowControl: flowControl),
            body: .bytes(value.encoded)
        )
    }

    /// The content type of a `meta.k8s.io/v1` Table (`kubectl get`'s server-side printing).
    static let tableContentType = "application/json;as=Table;v=v1;g=meta.k8s.io"

    /// The stored object a named request is about (nil: the caller's 404).
    func stored(_ info: K8sRequestInfo, _ definition: K8sDiscovery.Resource, namespace: String?) -> K8sCluster.Stored? {
        self.cluster.get(group: definition.group, resource: definition.name, namespace: namespace, name: info.name)
    }

    func text(_ code: Int, _ text: String, request: Request, identity: K8sIdentity) -> Response {
        var headers = self.headers("text/plain; charset=utf-8", request: request, identity: identity)
        headers.append(("X-Content-Type-Options", "nosniff"))
        return Response(status: code, headers: headers, body: .bytes(Array(text.utf8)))
    }

    func notFound(_ request: Request, identity: K8sIdentity) -> Response {
        self.failure(
            404,
            "NotFound",
            "the server could not find the requested resource",
            details: .empty,
            request: request,
            identity: identity
        )
    }

    // MARK: Non-resource paths

    func nonResource(_ info: K8sRequestInfo, request: Request, identity: K8sIdentity) -> Response {
        let path = info.path
        let accept = request.header("Accept") ?? ""
        guard info.verb == "get" || info.verb == "head" else {
            return self.methodNotAllowed(request, identity: identity)
        }
        switch path {
        case "/version", "/version/":
            return Response(
                status: 200,
                headers: self.headers("application/json", request: request, identity: identity),
                body: .bytes(self.configuration.release.versionDocument.indented)
            )
        case "/healthz", "/livez", "/readyz":
            guard request.query["verbose"] != nil else {
                return self.text(200, "ok", request: request, identity: identity)
            }
            return self.text(200, Self.verboseHealth(path), request: request, identity: identity)
        case let health where ["/healthz/", "/livez/", "/readyz/"].contains { health.hasPrefix($0) }:
            return self.text(200, "ok", request: request, identity: identity)
        case "/api", "/api/":
            if let version = self.discovery.aggregatedVersion(accept: accept) {
                return self.aggregated(core: true, version: version, request: request, identity: identity)
            }
            return self.json(
                200,
                self.discovery.apiVersions(serverAddress: self.configuration.serverAddress),
                request: request,
                identity: identity
            )
        case "/apis", "/apis/":
            if let version = self.discovery.aggregatedVersion(accept: accept) {
                return self.aggregated(core: false, version: version, request: request, identity: identity)
            }
            return self.json(200, self.discovery.apiGroupList, request: request, identity: identity)
        case "/":
            let paths =
                ["/.well-known/openid-configuration", "/api", "/api/v1", "/apis", "/apis/"]
                + self.discovery.groups.flatMap { group in
                    ["/apis/\(group.name)"] + group.versions.map { "/apis/\(group.name)/\($0)" }
                }
                + ["/healthz", "/livez", "/metrics", "/openid/v1/jwks", "/readyz", "/version"]
            return Response(
                status: 200,
                headers: self.headers("application/json", request: request, identity: identity),
                body: .bytes(K8sJSON.object([("paths", .strings(paths))]).indented)
            )
        case "/openapi/v3", "/openapi/v3/":
            return self.json(200, self.discovery.openAPIIndex, request: request, identity: identity)
        case let document where document.hasPrefix("/openapi/v3/api"):
            let parts = document.dropFirst("/openapi/v3/".count).split(separator: "/").map(String.init)
            let (group, version) =
                parts.count == 2 && parts[0] == "api"
                ? ("", parts[1]) : parts.count == 3 ? (parts[1], parts[2]) : ("-", "-")
            guard self.discovery.servesGroupVersion(group, version) else {
                return self.notFound(request, identity: identity)
            }
            return self.json(
                200,
                self.discovery.openAPIDocument(group: group, version: version),
                request: request,
                identity: identity
            )
        case "/metrics":
            return self.text(200, self.metrics, request: request, identity: identity)
        case "/.well-known/openid-configuration":
            let document = K8sJSON.object([
                ("issuer", "https://kubernetes.default.svc.cluster.local"),
                ("jwks_uri", .string("https://\(self.configuration.serverAddress)/openid/v1/jwks")),
                ("response_types_supported", .strings(["id_token"])), ("subject_types_supported", .strings(["public"])),
                ("id_token_signing_alg_values_supported", .strings(["RS256"])),
            ])
            return self.json(200, document, request: request, identity: identity)
        default:
            let parts = path.split(separator: "/").map(String.init)
            if parts.count == 2, parts[0] == "api", parts[1] == "v1",
                let list = self.discovery.resourceList(group: "", version: "v1")
            {
                return self.json(200, list, request: request, identity: identity)
            }
            if parts.count == 2, parts[0] == "apis", let group = self.discovery.apiGroup(parts[1]) {
                return self.json(200, group, request: request, identity: identity)
            }
            if parts.count == 3, parts[0] == "apis",
                let list = self.discovery.resourceList(group: parts[1], version: parts[2])
            {
                return self.json(200, list, request: request, identity: identity)
            }
            return self.notFound(request, identity: identity)
        }
    }

    func aggregated(core: Bool, version: String, request: Request, identity: K8sIdentity) -> Response {
        let document = self.discovery.aggregated(core: core, version: version).encoded
        var headers = self.headers(
            "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList",
            request: request,
            identity: identity
        )
        headers.append(("Etag", "\"\(ArtifactStore.sha256(document).prefix(64).uppercased())\""))
        headers.append(("Vary", "Accept"))
        return Response(status: 200, headers: headers, body: .bytes(document))
    }

    static func verboseHealth(_ path: String) -> String {
        var checks = ["ping", "log", "etcd"]
        if path == "/readyz" { checks += ["etcd-readiness", "informer-sync"] }
        checks += [
            "poststarthook/start-apiserver-admission-initializer", "poststarthook/generic-apiserver-start-informers",
            "poststarthook/priority-and-fairness-config-consumer", "poststarthook/start-apiextensions-informers",
            "poststarthook/start-apiextensions-controllers", "poststarthook/crd-informer-synced",
            "poststarthook/bootstrap-controller", "poststarthook/rbac/bootstrap-roles",
            "poststarthook/scheduling/bootstrap-system-priority-classes",
            "poststarthook/start-cluster-authentication-info-controller",
            "poststarthook/aggregator-reload-proxy-client-cert", "poststarthook/apiservice-registration-controller",
            "poststarthook/apiservice-status-available-controller", "autoregister-completion",
            "poststarthook/apiservice-openapi-controller",
        ]
        if path == "/readyz" { checks.append("shutdown") }
        let name = path.dropFirst()
        return checks.map { "[+]\($0) ok\n" }.joined() + "\(name) check passed\n"
    }

    var metrics: String {
        let version = self.configuration.release
        return """
            # HELP apiserver_storage_objects [STABLE] Number of stored objects at the time of last check split by kind.
            # TYPE apiserver_storage_objects gauge
            apiserver_storage_objects{resource="pods"} \(self.cluster.list(group: "", resource: "pods", namespace: nil).items.count)
            # HELP kubernetes_build_info [ALPHA] A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.
            # TYPE kubernetes_build_info gauge
            kubernetes_build_info{build_date="\(version.buildDate)",compiler="gc",git_commit="\(version.gitCommit)",git_tree_state="clean",git_version="\(version.gitVersion)",go_version="\(version.goVersion)",major="\(version.major)",minor="\(version.minor)",platform="linux/amd64"} 1

            """
    }

    /// The query's parameters, percent-decoded (`+` is a space), each name with all its values in order.
    static func query(_ uri: String) -> [String: [String]] {
        guard let mark = uri.firstIndex(of: "?") else { return [:] }
        var result: [String: [String]] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&").prefix(256) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            result[decode(parts[0]), default: []].append(parts.count > 1 ? decode(parts[1]) : "")
        }
        return result
    }
}

/// What the API server's request-info resolver makes of a path (`k8s.io/apiserver/pkg/endpoints/request`).
struct K8sRequestInfo: Equatable, Sendable {
    var isResource = false
    var path: String
    var verb: String
    var group = ""
    var version = ""
    var namespace = ""
    var resource = ""
    var subresource = ""
    var name = ""

    /// `pods`, `deployments.apps`: the resource as errors name it.
    var qualifiedResource: String { self.group.isEmpty ? self.resource : "\(self.resource).\(self.group)" }

    init(method: String, path: String, query: [String: [String]]) {
        self.path = path
        let method = method.uppercased()
        self.verb = method.lowercased()
        var parts = path.split(separator: "/").map(String.init)
        let resourceVerb: String
        switch method {
        case "GET", "HEAD": resourceVerb = "get"
        case "POST": resourceVerb = "create"
        case "PUT": resourceVerb = "update"
        case "PATCH": resourceVerb = "patch"
        case "DELETE": resourceVerb = "delete"
        default: resourceVerb = ""
        }
        if parts.first == "api", parts.count >= 3 {
            self.version = parts[1]
            parts.removeFirst(2)
        } else if parts.first == "apis", parts.count >= 4 {
            self.group = parts[1]
            self.version = parts[2]
            parts.removeFirst(3)
        } else {
            return
        }
        self.isResource = true
        self.verb = resourceVerb
        if ["watch", "proxy"].contains(parts[0]) {
            guard parts.count >= 2 else {
                self.isResource = false
                self.verb = method.lowercased()
                return
            }
            self.verb = parts[0]
            parts.removeFirst()
        }
        if parts[0] == "namespaces" {
            if parts.count > 1 {
                self.namespace = parts[1]
                if parts.count > 2 && !["status", "finalize"].contains(parts[2]) { parts.removeFirst(2) }
            }
        }
        self.resource = parts[0]
        if parts.count >= 2 { self.name = parts[1] }
        if parts.count >= 3, !["watch", "proxy"].contains(self.verb) { self.subresource = parts[2] }
        if self.name.isEmpty && self.verb == "get" {
            let watch = query["watch"]?.last.map { $0 == "true" || $0 == "1" } ?? false
            self.verb = watch ? "watch" : "list"
            for selector in (query["fieldSelector"] ?? []).flatMap({ $0.split(separator: ",") })
            where selector.hasPrefix("metadata.name=") {
                self.name = String(selector.dropFirst("metadata.name=".count))
            }
        }
        if self.name.isEmpty && self.verb == "delete" { self.verb = "deletecollection" }
    }
}
