import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization

/// One decky's indices: a few that look like a company's data, and whatever attackers write, delete or leave as a
/// ransom note. Shared by the node's connections, bounded.
final class ElasticsearchStore: Sendable {
    struct Index: Sendable {
        var name: String
        var uuid: String
        var documents: [(id: String, source: [(String, ESJSON)])]
    }

    static let maximumIndices = 64
    static let maximumDocuments = 2_000

    let indices: Mutex<[String: Index]>

    init(domain: String) {
        var indices: [String: Index] = [:]
        let first = ["anna", "marc", "sara", "tom", "julia", "peter", "lena", "david", "nina", "omar", "ines", "paul"]
        let last = ["keller", "dubois", "lind", "baker", "moreau", "novak", "fischer", "cho", "berg", "haddad"]
        let cities = ["Berlin", "Lyon", "Oslo", "Leeds", "Graz", "Porto"]
        var customers: [(String, [(String, ESJSON)])] = []
        for index in 0..<24 {
            let name = first[index % first.count].capitalized + " " + last[(index * 7) % last.count].capitalized
            customers.append(
                (
                    String(1_000 + index),
                    [
                        ("name", .string(name)),
                        ("email", .string(name.lowercased().replacingOccurrences(of: " ", with: ".") + "@example.com")),
                        ("phone", .string("+49 30 \(5_550_100 + index * 37)")),
                        ("city", .string(cities[index % cities.count])),
                        ("customer_since", .string("20\(18 + index % 6)-0\(1 + index % 9)-1\(index % 10)")),
                    ]
                )
            )
        }
        var orders: [(String, [(String, ESJSON)])] = []
        for index in 0..<16 {
            orders.append(
                (
                    "ORD-2024-\(4_100 + index)",
                    [
                        ("customer_id", .string(String(1_000 + (index * 5) % 24))),
                        ("total_eur", .double(Double(1_250 + index * 173) / 10)),
                        ("status", .string(["paid", "shipped", "pending", "refunded"][index % 4])),
                        ("created", .string("2024-11-\(10 + index % 18)T0\(index % 10):14:00Z")),
                    ]
                )
            )
        }
        var logs: [(String, [(String, ESJSON)])] = []
        for index in 0..<12 {
            logs.append(
                (
                    String(Self.uuid("log \(index)").prefix(20)),
                    [
                        ("@timestamp", .string("2024-11-28T09:\(10 + index):03.120Z")),
                        ("level", .string(index % 5 == 0 ? "ERROR" : "INFO")),
                        ("service", .string(["billing-api", "auth", "checkout"][index % 3])),
                        (
                            "message",
                            .string(
                                index % 5 == 0
                                    ? "db connection refused: pg01.\(domain):5432"
                                    : "request handled in \(20 + index * 3) ms"
                            )
                        ),
                    ]
                )
            )
        }
        for (name, documents) in [("customers", customers), ("orders", orders), ("logs-app-2024.11", logs)] {
            indices[name] = Index(
                name: name,
                uuid: Self.uuid(name),
                documents: documents.map { (id: $0.0, source: $0.1) }
            )
        }
        self.indices = Mutex(indices)
    }

    /// Elasticsearch's 22-character base64url index UUIDs.
    static func uuid(_ seed: String) -> String {
        let digest = Data(SHA256.hash(data: Array("decnet es \(seed)".utf8)).prefix(16))
        return String(digest.base64EncodedString().prefix(22)).replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }
}

/// Elasticsearch's REST API as curl, the official clients and ransom bots use it, without I/O: the root document
/// (the persona's version, cluster and node), `_cat`, cluster health, searches over the persona's indices,
/// documents written and indices deleted (the ransom pattern: dump, delete, leave a note), with Basic, ApiKey and
/// Bearer credentials captured and, when the persona turns security on, refused as Elasticsearch refuses them.
struct ElasticsearchAPI: HTTPAPI {
    struct Configuration: Sendable {
        var version: String
        var clusterName: String
        var nodeName: String
        var security: Bool
        var users: AcceptedCredentials
    }

    struct Response: Equatable {
        var status: Int
        var headers: [(String, String)]
        var body: String

        static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
        }
    }

    let configuration: Configuration
    let store: ElasticsearchStore

    var major: Int { Int(self.configuration.version.split(separator: ".").first ?? "8") ?? 8 }
    var minor: Int { Int(self.configuration.version.split(separator: ".").dropFirst().first ?? "0") ?? 0 }

    /// Lucene's version per release line, as each root document names it.
    var luceneVersion: String {
        let table: [String: String] = [
            "7.0": "8.0.0", "7.1": "8.0.0", "7.2": "8.0.0", "7.3": "8.1.0", "7.4": "8.2.0", "7.5": "8.3.0",
            "7.6": "8.4.0", "7.7": "8.5.1", "7.8": "8.5.1", "7.9": "8.6.2", "7.10": "8.7.0", "7.11": "8.7.0",
            "7.12": "8.8.0", "7.13": "8.8.2", "7.14": "8.9.0", "7.15": "8.9.0", "7.16": "8.10.1",
            "7.17": "8.11.1", "8.0": "9.0.0", "8.1": "9.0.0", "8.2": "9.2.0", "8.3": "9.3.0", "8.4": "9.3.0",
            "8.5": "9.4.1", "8.6": "9.4.2", "8.7": "9.5.0", "8.8": "9.6.0", "8.9": "9.7.0", "8.10": "9.7.0",
            "8.11": "9.8.0", "8.12": "9.9.2", "8.13": "9.10.0", "8.14": "9.10.0", "8.15": "9.11.1",
        ]
        return table["\(self.major).\(self.minor)"] ?? (self.major >= 8 ? "9.9.2" : "8.11.1")
    }

    /// The content type and the product header (from 7.14) in the order Elasticsearch writes them.
    var headers: [(String, String)] {
        var headers: [(String, String)] = []
        if self.major > 7 || (self.major == 7 && self.minor >= 14) {
            headers.append(("X-elastic-product", "Elasticsearch"))
        }
        headers.append(("content-type", self.major >= 8 ? "application/json" : "application/json; charset=UTF-8"))
        return headers
    }

    func json(_ status: Int, _ value: ESJSON, pretty: Bool) -> Response {
        Response(
            status: status,
            headers: self.headers,
            body: (pretty ? value.pretty() : value.compact) + (pretty ? "\n" : "")
        )
    }

    func error(_ status: Int, type: String, reason: String, extra: [(String, ESJSON)] = [], pretty: Bool) -> Response {
        let cause: ESJSON = .object([("type", .string(type)), ("reason", .string(reason))] + extra)
        return self.json(
            status,
            .object([
                (
                    "error",
                    .object(
                        [("root_cause", .array([cause])), ("type", .string(type)), ("reason", .string(reason))] + extra
                    )
                ), ("status", .int(status)),
            ]),
            pretty: pretty
        )
    }

    func respond(
        method: String,
        uri: String,
        headers: [(name: String, value: String)],
        body: [UInt8]
    ) -> (Response, [(EventID, EventFields)]) {
        let (path, query) = DockerEngineAPI.split(uri)
        let pretty = query["pretty"] != nil
        var events = HTTPExchange.requestEvents(method: method, uri: uri, body: body, kind: "elasticsearch")
        if body.count < 65_536, String(decoding: body, as: UTF8.self).contains("\"script\""),
            let index = events.firstIndex(where: { $0.0 == .payloadReceived })
        {
            events[index].1.add("script", "true")
        }
        // Credentials: recorded whatever the persona's policy; refused only with security on.
        let authorization = headers.first { $0.name.lowercased() == "authorization" }?.value
        if let authorization {
            let (login, accepted) = self.credentials(authorization)
            events.append((accepted || !self.configuration.security ? .loginSuccess : .loginFailed, login))
            if self.configuration.security && !accepted {
                let user = login.fields.first { $0.name == "username" }?.value ?? ""
                return (
                    self.unauthorized(
                        "unable to authenticate user [\(user)] for REST request [\(path)]",
                        pretty: pretty
                    ), events
                )
            }
        } else if self.configuration.security {
            return (
                self.unauthorized("missing authentication credentials for REST request [\(path)]", pretty: pretty),
                events
            )
        }
        return (self.route(method, path, query, body, pretty: pretty, events: &events), events)
    }

    func unauthorized(_ reason: String, pretty: Bool) -> Response {
        let header: ESJSON = .object([
            ("WWW-Authenticate", .array([.string("Basic realm=\"security\" charset=\"UTF-8\""), .string("ApiKey")]))
        ])
        var response = self.error(
            401,
            type: "security_exception",
            reason: reason,
            extra: [("header", header)],
            pretty: pretty
        )
        response.headers.insert(("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\""), at: 0)
        response.headers.insert(("WWW-Authenticate", "ApiKey"), at: 1)
        return response
    }

    /// The login an Authorization header carries: Basic (user and password), ApiKey (its id and key) or Bearer.
    func credentials(_ header: String) -> (EventFields, Bool) {
        var fields = EventFields()
        let parts = header.split(separator: " ", maxSplits: 1).map(String.init)
        let scheme = parts.first?.lowercased() ?? "", value = parts.count > 1 ? parts[1] : ""
        switch scheme {
        case "basic":
            let decoded = Data(base64Encoded: value).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let pair = decoded.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let user = pair.first ?? "", password = pair.count > 1 ? pair[1] : ""
            fields.add("username", attackerText: user)
            fields.add("password", attackerText: password, secret: true)
            fields.add("method", "http-basic")
            return (fields, self.configuration.users.accepts(user: user, password: password))
        case "apikey":
            let decoded = Data(base64Encoded: value).map { String(decoding: $0, as: UTF8.self) } ?? value
            let pair = decoded.split(separator: ":", maxSplits: 1).map(String.init)
            fields.add("username", attackerText: pair.first ?? "")
            fields.add("password", attackerText: pair.count > 1 ? pair[1] : decoded, secret: true)
            fields.add("method", "api-key")
        default:
            fields.add("username", "")
            fields.add("password", attackerText: value, secret: true)
            fields.add("method", scheme.isEmpty ? "unknown" : "http-" + scheme)
        }
        return (fields, false)
    }

    // MARK: Routes

    func route(
        _ method: String,
        _ path: String,
        _ query: [String: String],
        _ body: [UInt8],
        pretty: Bool,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.first ?? "", parts.count) {
        case ("GET", "", 0), ("HEAD", "", 0):
            return self.json(200, self.root, pretty: true)
        case ("GET", "_cat", 2):
            return self.cat(parts[1], query)
        case ("GET", "_cluster", 2) where parts[1] == "health":
            return self.json(200, self.health, pretty: pretty)
        case ("GET", "_search", 1), ("POST", "_search", 1):
            return self.search(nil, Self.searchParameters(query, body), pretty: pretty)
        case ("GET", _, 2) where parts[1] == "_search", ("POST", _, 2) where parts[1] == "_search":
            return self.search(parts[0], Self.searchParameters(query, body), pretty: pretty)
        case ("GET", _, 1) where !parts[0].hasPrefix("_"), ("HEAD", _, 1) where !parts[0].hasPrefix("_"):
            guard let index = self.store.indices.withLock({ $0[parts[0]] }) else {
                return self.missing(parts[0], pretty: pretty)
            }
            return self.json(
                200,
                .object([
                    (
                        index.name,
                        .object([
                            ("aliases", .object([])),
                            (
                                "settings",
                                .object([
                                    (
                                        "index",
                                        .object([
                                            ("number_of_shards", .string("1")), ("number_of_replicas", .string("1")),
                                            ("uuid", .string(index.uuid)),
                                        ])
                                    )
                                ])
                            ),
                        ])
                    )
                ]),
                pretty: pretty
            )
        case ("DELETE", _, 1):
            let names = self.matching(parts[0])
            var fields = EventFields()
            fields.add("command", "index.delete")
            fields.add("args", attackerText: parts[0])
            fields.add("deleted", names.joined(separator: ","))
            events.append((.commandInput, fields))
            guard !names.isEmpty else { return self.missing(parts[0], pretty: pretty) }
            self.store.indices.withLock { indices in for name in names { indices[name] = nil } }
            return self.json(200, .object([("acknowledged", .bool(true))]), pretty: pretty)
        case ("PUT", _, 1) where !parts[0].hasPrefix("_"):
            let created = self.create(parts[0])
            guard created else {
                return self.error(
                    400,
                    type: "resource_already_exists_exception",
                    reason: "index [\(parts[0])] already exists",
                    pretty: pretty
                )
            }
            return self.json(
                200,
                .object([
                    ("acknowledged", .bool(true)), ("shards_acknowledged", .bool(true)), ("index", .string(parts[0])),
                ]),
                pretty: pretty
            )
        case ("POST", _, 2) where parts[1] == "_doc", ("PUT", _, 3) where parts[1] == "_doc",
            ("POST", _, 3) where parts[1] == "_doc":
            return self.index(
                parts[0],
                id: parts.count == 3 ? parts[2] : nil,
                body: body,
                pretty: pretty,
                events: &events
            )
        case ("GET", _, 3) where parts[1] == "_doc":
            guard let index = self.store.indices.withLock({ $0[parts[0]] }) else {
                return self.missing(parts[0], pretty: pretty)
            }
            guard let document = index.documents.first(where: { $0.id == parts[2] }) else {
                return self.json(
                    404,
                    .object([("_index", .string(index.name)), ("_id", .string(parts[2])), ("found", .bool(false))]),
                    pretty: pretty
                )
            }
            return self.json(
                200,
                .object([
                    ("_index", .string(index.name)), ("_id", .string(document.id)), ("_version", .int(1)),
                    ("_seq_no", .int(0)), ("_primary_term", .int(1)), ("found", .bool(true)),
                    ("_source", .object(document.source)),
                ]),
                pretty: pretty
            )
        case ("POST", "_bulk", 1), ("PUT", "_bulk", 1):
            return self.bulk(body, pretty: pretty, events: &events)
        default:
            return self.error(
                400,
                type: "illegal_argument_exception",
                reason: "no handler found for uri [\(path)] and method [\(method)]",
                pretty: pretty
            )
        }
    }

    var root: ESJSON {
        let build = lowerHex(SHA256.hash(data: Array("decnet es build \(self.configuration.version)".utf8)).prefix(20))
        return .object([
            ("name", .string(self.configuration.nodeName)), ("cluster_name", .string(self.configuration.clusterName)),
            ("cluster_uuid", .string(ElasticsearchStore.uuid("cluster " + self.configuration.clusterName))),
            (
                "version",
                .object([
                    ("number", .string(self.configuration.version)), ("build_flavor", .string("default")),
                    ("build_type", .string(self.major >= 8 ? "docker" : "deb")), ("build_hash", .string(build)),
                    (
                        "build_date",
                        .string(self.major >= 8 ? "2024-02-19T10:04:32.774273190Z" : "2023-01-24T13:44:44.521125096Z")
                    ),
                    ("build_snapshot", .bool(false)), ("lucene_version", .string(self.luceneVersion)),
                    ("minimum_wire_compatibility_version", .string(self.major >= 8 ? "7.17.0" : "6.8.0")),
                    ("minimum_index_compatibility_version", .string(self.major >= 8 ? "7.0.0" : "6.0.0-beta1")),
                ])
            ),
            ("tagline", .string("You Know, for Search")),
        ])
    }

    var health: ESJSON {
        let count = self.store.indices.withLock { $0.count }
        return .object([
            ("cluster_name", .string(self.configuration.clusterName)), ("status", .string("yellow")),
            ("timed_out", .bool(false)),
            ("number_of_nodes", .int(1)), ("number_of_data_nodes", .int(1)), ("active_primary_shards", .int(count)),
            ("active_shards", .int(count)), ("relocating_shards", .int(0)), ("initializing_shards", .int(0)),
            ("unassigned_shards", .int(count)), ("delayed_unassigned_shards", .int(0)),
            ("number_of_pending_tasks", .int(0)),
            ("number_of_in_flight_fetch", .int(0)), ("task_max_waiting_in_queue_millis", .int(0)),
            ("active_shards_percent_as_number", .double(count == 0 ? 100 : 50)),
        ])
    }

    func missing(_ name: String, pretty: Bool) -> Response {
        self.error(
            404,
            type: "index_not_found_exception",
            reason: "no such index [\(name)]",
            extra: [
                ("resource.type", .string("index_or_alias")), ("resource.id", .string(name)),
                ("index_uuid", .string("_na_")), ("index", .string(name)),
            ],
            pretty: pretty
        )
    }

    /// The indices a name or pattern (`*`, `_all`, `logs-*`, a comma list) names.
    func matching(_ pattern: String) -> [String] {
        let names = self.store.indices.withLock { Array($0.keys) }
        return names.filter { name in
            pattern.split(separator: ",").contains { piece in
                piece == "_all" || piece == "*" || SMBStateMachine.matches(name, pattern: String(piece))
            }
        }.sorted()
    }

    func create(_ name: String) -> Bool {
        self.store.indices.withLock { indices in
            guard indices[name] == nil, indices.count < ElasticsearchStore.maximumIndices else { return false }
            indices[name] = ElasticsearchStore.Index(
                name: name,
                uuid: ElasticsearchStore.uuid(name + UUID().uuidString),
                documents: []
            )
            return true
        }
    }

    func index(
        _ name: String,
        id: String?,
        body: [UInt8],
        pretty: Bool,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return self.error(400, type: "mapper_parsing_exception", reason: "failed to parse", pretty: pretty)
        }
        _ = self.create(name)
        let documentID = id ?? String(ElasticsearchStore.uuid(UUID().uuidString).prefix(20))
        var fields = EventFields()
        fields.add("command", "document.index")
        fields.add("args", attackerText: name + "/" + documentID)
        events.append((.commandInput, fields))
        let source = ESJSON(object)
        let stored = self.store.indices.withLock { indices -> Bool in
            guard var index = indices[name], index.documents.count < ElasticsearchStore.maximumDocuments,
                case .object(let pairs) = source
            else { return false }
            index.documents.removeAll { $0.id == documentID }
            index.documents.append((id: documentID, source: pairs))
            indices[name] = index
            return true
        }
        guard stored else {
            return self.error(
                429,
                type: "es_rejected_execution_exception",
                reason: "rejected execution",
                pretty: pretty
            )
        }
        return self.json(
            201,
            .object([
                ("_index", .string(name)), ("_id", .string(documentID)), ("_version", .int(1)),
                ("result", .string("created")),
                ("_shards", .object([("total", .int(2)), ("successful", .int(1)), ("failed", .int(0))])),
                ("_seq_no", .int(0)), ("_primary_term", .int(1)),
            ]),
            pretty: pretty
        )
    }

    func bulk(_ body: [UInt8], pretty: Bool, events: inout [(EventID, EventFields)]) -> Response {
        let lines = String(decoding: body, as: UTF8.self).split(separator: "\n")
        var items: [ESJSON] = []
        var index = 0
        while index < lines.count, items.count < 500 {
            guard
                let action = (try? JSONSerialization.jsonObject(with: Data(lines[index].utf8)))
                    as? [String: [String: Any]],
                let (verb, target) = action.first
            else { break }
            let name = target["_index"] as? String ?? "unknown"
            let id = target["_id"] as? String
            if verb == "delete" {
                index += 1
                items.append(.object([(verb, .object([("_index", .string(name)), ("status", .int(404))]))]))
                continue
            }
            guard index + 1 < lines.count else { break }
            let response = self.index(name, id: id, body: Array(lines[index + 1].utf8), pretty: false, events: &events)
            items.append(.object([(verb, .object([("_index", .string(name)), ("status", .int(response.status))]))]))
            index += 2
        }
        return self.json(
            200,
            .object([("took", .int(7)), ("errors", .bool(false)), ("items", .array(items))]),
            pretty: pretty
        )
    }

    /// `size` and `from` as Elasticsearch reads them: from the query string, else from the request body (where
    /// the official clients put them).
    static func searchParameters(_ query: [String: String], _ body: [UInt8]) -> [String: String] {
        var parameters = query
        guard !body.isEmpty, let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        else { return parameters }
        for key in ["size", "from"] where parameters[key] == nil {
            if let number = object[key] as? Int { parameters[key] = String(number) }
        }
        return parameters
    }

    func search(_ target: String?, _ query: [String: String], pretty: Bool) -> Response {
        let names = target.map(self.matching) ?? self.matching("*")
        if let target, names.isEmpty, !target.contains("*") { return self.missing(target, pretty: pretty) }
        let size = min(max(Int(query["size"] ?? "10") ?? 10, 0), 100)
        let from = min(max(Int(query["from"] ?? "0") ?? 0, 0), 10_000)
        let indices = self.store.indices.withLock { indices in names.compactMap { indices[$0] } }
        let all = indices.flatMap { index in index.documents.map { (index.name, $0) } }
        let hits: [ESJSON] = all.dropFirst(from).prefix(size).map { name, document in
            .object([
                ("_index", .string(name)), ("_id", .string(document.id)), ("_score", .double(1)),
                ("_source", .object(document.source)),
            ])
        }
        return self.json(
            200,
            .object([
                ("took", .int(3)), ("timed_out", .bool(false)),
                (
                    "_shards",
                    .object([
                        ("total", .int(indices.count)), ("successful", .int(indices.count)), ("skipped", .int(0)),
                        ("failed", .int(0)),
                    ])
                ),
                (
                    "hits",
                    .object([
                        ("total", .object([("value", .int(all.count)), ("relation", .string("eq"))])),
                        ("max_score", all.isEmpty ? .null : .double(1)), ("hits", .array(hits)),
                    ])
                ),
            ]),
            pretty: pretty
        )
    }

    /// `_cat` tables: text with columns padded as Elasticsearch pads them (numbers to the right), a header with
    /// `v`, or JSON with `format=json`.
    func cat(_ name: String, _ query: [String: String]) -> Response {
        let indices = self.store.indices.withLock { $0.values.sorted { $0.name < $1.name } }
        var header: [String] = []
        var rows: [[String]] = []
        switch name {
        case "indices":
            header = [
                "health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted", "store.size",
                "pri.store.size",
            ]
            rows = indices.map { index in
                let size = Self.size(index.documents.count * 412 + 225)
                return [
                    "yellow", "open", index.name, index.uuid, "1", "1", String(index.documents.count), "0", size, size,
                ]
            }
        case "health":
            header = [
                "epoch", "timestamp", "cluster", "status", "node.total", "node.data", "shards", "pri", "relo", "init",
                "unassign", "pending_tasks", "max_task_wait_time", "active_shards_percent",
            ]
            let now = Int(Date().timeIntervalSince1970)
            rows = [
                [
                    String(now), PosixDate.string(Date(), format: "HH:mm:ss"), self.configuration.clusterName, "yellow",
                    "1", "1", String(indices.count), String(indices.count), "0", "0", String(indices.count), "0", "-",
                    "50.0%",
                ]
            ]
        case "nodes":
            header = [
                "ip", "heap.percent", "ram.percent", "cpu", "load_1m", "load_5m", "load_15m", "node.role", "master",
                "name",
            ]
            rows = [
                ["127.0.0.1", "41", "93", "3", "0.12", "0.18", "0.21", "cdfhilmrstw", "*", self.configuration.nodeName]
            ]
        default:
            return self.error(
                400,
                type: "illegal_argument_exception",
                reason: "no handler found for uri [/_cat/\(name)] and method [GET]",
                pretty: false
            )
        }
        if query["format"] == "json" {
            let value: ESJSON = .array(rows.map { row in .object(zip(header, row).map { ($0, .string($1)) }) })
            return self.json(200, value, pretty: query["pretty"] != nil)
        }
        let table = (query["v"] != nil ? [header] : []) + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in table { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        let numeric = Set(
            header.indices.filter { column in
                rows.allSatisfy {
                    Double($0[column].trimmingCharacters(in: CharacterSet(charactersIn: "%kbmg"))) != nil
                }
            }
        )
        let text =
            table.map { row in
                row.enumerated().map { index, cell in
                    let padding = String(repeating: " ", count: widths[index] - cell.count)
                    return numeric.contains(index) ? padding + cell : cell + padding
                }.joined(separator: " ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            }.joined(separator: "\n") + "\n"
        return Response(status: 200, headers: [("content-type", "text/plain; charset=UTF-8")], body: text)
    }

    static func size(_ bytes: Int) -> String {
        bytes < 1_024
            ? "\(bytes)b"
            : bytes < 1_048_576
                ? String(format: "%.1fkb", Double(bytes) / 1_024) : String(format: "%.1fmb", Double(bytes) / 1_048_576)
    }
}
