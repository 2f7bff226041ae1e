import DecnetCore
import Foundation

/// A remote command (`pods/exec`, `pods/attach`) the client asked for, and how its streams travel.
struct K8sExecRequest: Sendable, Equatable {
    enum Transport: Sendable, Equatable {
        /// RFC 6455 with a channel subprotocol (`v5.channel.k8s.io` …) and the client's key.
        case websocket(protocolName: String, key: String)
        /// SPDY/3.1 with a stream protocol version (`v4.channel.k8s.io` …).
        case spdy(protocolName: String)
    }

    var namespace: String
    var pod: String
    var container: String
    var command: [String]
    var stdin: Bool
    var stdout: Bool
    var stderr: Bool
    var tty: Bool
    var attach = false
    var transport: Transport
    var image: String
    var podIP: String
}

/// A client certificate's identity as the x509 authenticator reads it.
struct K8sClientCertificate: Sendable, Equatable {
    var commonName: String
    var organizations: [String]
    var issuer: String
    var sha256: String
}

extension K8sAPI {
    // MARK: Resources

    func resource(
        _ info: K8sRequestInfo,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        guard let definition = self.discovery.resource(group: info.group, version: info.version, name: info.resource),
            definition.namespaced || info.namespace.isEmpty || info.resource == "namespaces"
        else { return self.notFound(request, identity: identity) }
        let namespace: String? = definition.namespaced && !info.namespace.isEmpty ? info.namespace : nil
        let accept = request.header("Accept") ?? ""
        let table = accept.contains("as=Table") && accept.contains("g=meta.k8s.io")
        if !info.subresource.isEmpty && (info.verb == "get" || info.verb == "create") {
            return self.subresource(
                info,
                definition,
                namespace: namespace,
                request: request,
                identity: identity,
                events: &events
            )
        }
        switch info.verb {
        case "list", "watch":
            guard definition.verbs.contains(info.verb) else {
                return self.methodNotAllowed(request, identity: identity)
            }
            return self.list(
                info,
                definition,
                namespace: namespace,
                table: table,
                request: request,
                identity: identity,
                events: &events
            )
        case "get":
            guard let stored = self.stored(info, definition, namespace: namespace) else {
                return self.missing(info, request: request, identity: identity)
            }
            self.noteSecrets([stored], info: info, events: &events)
            if table {
                return self.json(
                    200,
                    K8sTables.table(
                        definition.name,
                        [stored],
                        now: self.now(),
                        includeObject: request.query["includeObject"]?.last,
                        resourceVersion: Self.resourceVersion(stored)
                    ),
                    request: request,
                    identity: identity,
                    contentType: Self.tableContentType
                )
            }
            return self.json(200, stored.object, request: request, identity: identity)
        case "create":
            guard definition.verbs.contains("create") else { return self.methodNotAllowed(request, identity: identity) }
            return self.create(
                info,
                definition,
                namespace: namespace,
                request: request,
                identity: identity,
                events: &events
            )
        case "update", "patch":
            return self.update(
                info,
                definition,
                namespace: namespace,
                request: request,
                identity: identity,
                events: &events
            )
        case "delete":
            events.append(
                Self.commandRecord(
                    "k8s.delete",
                    args: "\(definition.name) \(namespace.map { $0 + "/" } ?? "")\(info.name)"
                )
            )
            guard
                let removed = self.cluster.delete(
                    group: definition.group,
                    resource: definition.name,
                    namespace: namespace,
                    name: info.name
                )
            else {
                return self.missing(info, request: request, identity: identity)
            }
            if definition.name == "pods" {
                let metadata = (removed.object["metadata"] ?? .empty).setting(
                    "deletionTimestamp",
                    .string(K8sTime.iso(self.now() + 30))
                )
                .setting("deletionGracePeriodSeconds", 30)
                return self.json(
                    200,
                    removed.object.setting("metadata", metadata),
                    request: request,
                    identity: identity
                )
            }
            return self.json(
                200,
                Self.success(
                    name: info.name,
                    group: definition.group,
                    kind: definition.name,
                    uid: removed.object["metadata"]?["uid"]?.stringValue
                ),
                request: request,
                identity: identity
            )
        case "deletecollection":
            return self.json(200, Self.successStatus(), request: request, identity: identity)
        case "proxy":
            return self.proxy(info, request: request, identity: identity, events: &events)
        default:
            return self.methodNotAllowed(request, identity: identity)
        }
    }

    static func success(name: String, group: String, kind: String, uid: String?) -> K8sJSON {
        var details: [(String, K8sJSON)] = [("name", .string(name))]
        if !group.isEmpty { details.append(("group", .string(group))) }
        details.append(("kind", .string(kind)))
        if let uid { details.append(("uid", .string(uid))) }
        return Self.successStatus([("details", .object(details))])
    }

    static func resourceVersion(_ stored: K8sCluster.Stored) -> Int {
        Int(stored.object["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0
    }

    func methodNotAllowed(_ request: Request, identity: K8sIdentity) -> Response {
        self.failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            details: .empty,
            request: request,
            identity: identity
        )
    }

    /// 404 for a named object: `pods "x" not found`.
    func missing(_ info: K8sRequestInfo, request: Request, identity: K8sIdentity) -> Response {
        self.failure(
            404,
            "NotFound",
            "\(info.qualifiedResource) \"\(info.name)\" not found",
            details: Self.details(name: info.name, group: info.group, kind: info.resource),
            request: request,
            identity: identity
        )
    }

    /// Reading secrets is worth its own record: which ones left the cluster.
    func noteSecrets(_ items: [K8sCluster.Stored], info: K8sRequestInfo, events: inout [(EventID, EventFields)]) {
        guard info.resource == "secrets", info.group.isEmpty, !items.isEmpty else { return }
        events.append(
            Self.commandRecord(
                "secret.read",
                args: items.map { "\($0.namespace ?? "")/\($0.name)" }.joined(separator: ",")
            )
        )
    }

    func list(
        _ info: K8sRequestInfo,
        _ definition: K8sDiscovery.Resource,
        namespace: String?,
        table: Bool,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        var (items, resourceVersion) = self.cluster.list(
            group: definition.group,
            resource: definition.name,
            namespace: namespace
        )
        let query = request.query
        for selector in (query["labelSelector"] ?? []).flatMap({ $0.split(separator: ",") }) {
            let pair = selector.split(separator: "=", omittingEmptySubsequences: true)
            guard pair.count == 2 else { continue }
            items = items.filter { $0.object["metadata"]?["labels"]?[String(pair[0])]?.stringValue == String(pair[1]) }
        }
        for selector in (query["fieldSelector"] ?? []).flatMap({ $0.split(separator: ",") }) {
            let pair = selector.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "metadata.name": items = items.filter { $0.name == pair[1] }
            case "metadata.namespace": items = items.filter { $0.namespace == pair[1] }
            case "spec.nodeName": items = items.filter { $0.object["spec"]?["nodeName"]?.stringValue == pair[1] }
            default: break
            }
        }
        self.noteSecrets(items, info: info, events: &events)
        let includeObject = query["includeObject"]?.last
        let now = self.now()
        if info.verb == "watch" {
            // A watch from a resourceVersion sends only what changes after it; without one (or from "0") the
            // current objects come first as ADDED.
            let from = query["resourceVersion"]?.last ?? ""
            if !from.isEmpty && from != "0" { items = [] }
            let events: [[UInt8]] = items.enumerated().map { index, item in
                let object =
                    table
                    ? K8sTables.table(
                        definition.name,
                        [item],
                        now: now,
                        includeObject: includeObject,
                        resourceVersion: Self.resourceVersion(item),
                        withColumns: index == 0
                    )
                    : item.object
                return K8sJSON.object([("type", "ADDED"), ("object", object)]).encoded
            }
            let requested = query["timeoutSeconds"]?.last.flatMap { Int($0) } ?? self.configuration.watchSeconds
            var headers = self.headers(
                table ? Self.tableContentType : "application/json",
                request: request,
                identity: identity
            )
            headers.removeAll { $0.0 == "Cache-Control" }
            headers.append(("Cache-Control", "no-cache, private"))
            return Response(
                status: 200,
                headers: headers,
                body: .watch(events: events, seconds: max(0, min(requested, self.configuration.watchSeconds)))
            )
        }
        if table {
            return self.json(
                200,
                K8sTables.table(
                    definition.name,
                    items,
                    now: now,
                    includeObject: includeObject,
                    resourceVersion: resourceVersion
                ),
                request: request,
                identity: identity,
                contentType: Self.tableContentType
            )
        }
        let listItems: [K8sJSON] = items.map { item in
            guard case .object(let pairs) = item.object else { return item.object }
            return .object(pairs.filter { $0.0 != "kind" && $0.0 != "apiVersion" })
        }
        let list = K8sJSON.object([
            ("kind", .string(definition.kind + "List")),
            ("apiVersion", .string(definition.groupVersion)),
            ("metadata", .object([("resourceVersion", .string(String(resourceVersion)))])),
            ("items", .array(listItems)),
        ])
        return self.json(200, list, request: request, identity: identity)
    }

    // MARK: Writes

    func create(
        _ info: K8sRequestInfo,
        _ definition: K8sDiscovery.Resource,
        namespace: String?,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        // kubectl's typed clients send protobuf (`k8s\0` and a runtime.Unknown): reviews and token requests
        // need nothing from it; for anything else its strings are recorded.
        let protobuf = K8sProtobuf.isEnvelope(request.body)
        if protobuf || request.body.isEmpty, let review = self.review(definition, object: .empty, identity: identity) {
            var fields = EventFields()
            fields.add("command", "k8s.create")
            fields.add("resource", definition.qualifiedName)
            events.append((.commandInput, fields))
            return self.json(201, review, request: request, identity: identity)
        }
        let parsed = protobuf ? K8sProtobuf.object(request.body, kind: definition.kind) : K8sJSON.parse(request.body)
        guard let object = parsed, case .object = object else {
            return self.badBody(definition, request: request, identity: identity)
        }
        let now = self.now()
        var name = object["metadata"]?["name"]?.stringValue ?? ""
        if name.isEmpty, let prefix = object["metadata"]?["generateName"]?.stringValue, !prefix.isEmpty {
            name = prefix + self.cluster.objects.suffix("generated \(now) \(prefix) \(self.auditID())", length: 5)
        }
        var fields = Self.describe(object, definition: definition, command: Self.commandName(definition))
        fields.add("namespace", attackerText: namespace ?? "")
        fields.add("name", attackerText: name)
        if protobuf { fields.add("strings", attackerText: K8sProtobuf.strings(request.body).joined(separator: " ")) }
        events.append((.commandInput, fields))
        // Reviews answer at once and are never stored.
        if let review = self.review(definition, object: object, identity: identity) {
            return self.json(201, review, request: request, identity: identity)
        }
        guard !name.isEmpty else {
            return self.failure(
                422,
                "Invalid",
                "\(definition.kind) \"\" is invalid: metadata.name: Required value: name or generateName is required",
                details: .object([
                    ("kind", .string(definition.kind)),
                    (
                        "causes",
                        .array([
                            .object([
                                ("reason", "FieldValueRequired"),
                                ("message", "Required value: name or generateName is required"),
                                ("field", "metadata.name"),
                            ])
                        ])
                    ),
                ]),
                request: request,
                identity: identity
            )
        }
        if let namespace, self.cluster.get(group: "", resource: "namespaces", namespace: nil, name: namespace) == nil {
            return self.failure(
                404,
                "NotFound",
                "namespaces \"\(namespace)\" not found",
                details: Self.details(name: namespace, kind: "namespaces"),
                request: request,
                identity: identity
            )
        }
        var stored = object.setting("kind", .string(definition.kind)).setting(
            "apiVersion",
            .string(definition.groupVersion)
        )
        var answer: K8sJSON?
        if definition.name == "pods" {
            (stored, answer) = self.scheduled(stored, name: name, namespace: namespace ?? "default", now: now)
        }
        if request.query["dryRun"] != nil {
            return self.json(201, answer ?? stored, request: request, identity: identity)
        }
        switch self.cluster.store(
            group: definition.group,
            resource: definition.name,
            namespace: namespace,
            name: name,
            object: stored,
            now: now,
            replace: false
        ) {
        case .success(let saved):
            let reply = answer.map { $0.setting("metadata", saved["metadata"] ?? .empty) } ?? saved
            return self.json(201, reply, request: request, identity: identity)
        case .failure(.alreadyExists):
            return self.failure(
                409,
                "AlreadyExists",
                "\(definition.qualifiedName) \"\(name)\" already exists",
                details: Self.details(name: name, group: definition.group, kind: definition.name),
                request: request,
                identity: identity
            )
        case .failure(.full):
            return self.failure(
                403,
                "Forbidden",
                "\(definition.name) \"\(name)\" is forbidden: exceeded quota: compute-resources, requested: count/\(definition.name)=1, used: count/\(definition.name)=\(K8sCluster.maximumCreated), limited: count/\(definition.name)=\(K8sCluster.maximumCreated)",
                details: Self.details(name: name, group: definition.group, kind: definition.name),
                request: request,
                identity: identity
            )
        }
    }

    /// A new pod as the scheduler and kubelet leave it (stored Running on a worker), and the Pending pod the
    /// create call itself returns.
    func scheduled(_ pod: K8sJSON, name: String, namespace: String, now: Int) -> (stored: K8sJSON, reply: K8sJSON) {
        let node = self.cluster.nodes[1 + Int(self.cluster.objects.bytes("node \(name)")[0]) % 2]
        let ip = "10.244.\(node.name.hasSuffix("1") ? 1 : 2).\(self.cluster.objects.number("ip \(name)", 20...250))"
        var spec = pod["spec"] ?? .empty
        let pending = pod.setting("status", .object([("phase", "Pending"), ("qosClass", "BestEffort")]))
        spec = spec.setting("nodeName", .string(spec["nodeName"]?.stringValue ?? node.name))
        var statuses: [K8sJSON] = []
        if case .array(let containers) = spec["containers"] ?? .null {
            for container in containers.prefix(16) {
                statuses.append(
                    .object([
                        ("name", container["name"] ?? ""),
                        ("state", .object([("running", .object([("startedAt", .string(K8sTime.iso(now + 4)))]))])),
                        ("lastState", .empty), ("ready", true), ("restartCount", 0),
                        ("image", container["image"] ?? ""),
                        (
                            "containerID",
                            .string("containerd://" + self.cluster.objects.hex("container \(namespace)/\(name) \(now)"))
                        ), ("started", true),
                    ])
                )
            }
        }
        let hostNetwork = spec["hostNetwork"] == .bool(true)
        let running = pod.setting("spec", spec).setting(
            "status",
            .object([
                ("phase", "Running"), ("hostIP", .string(node.ip)), ("podIP", .string(hostNetwork ? node.ip : ip)),
                ("startTime", .string(K8sTime.iso(now))), ("containerStatuses", .array(statuses)),
                ("qosClass", "BestEffort"),
            ])
        )
        return (running, pending)
    }

    func badBody(_ definition: K8sDiscovery.Resource, request: Request, identity: K8sIdentity) -> Response {
        let detail: String
        if let first = request.body.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            let character =
                first >= 0x20 && first < 0x7F ? String(UnicodeScalar(first)) : String(format: "\\x%02x", first)
            detail =
                first == 0x7B || first == 0x5B
                ? "unexpected end of JSON input" : "invalid character '\(character)' looking for beginning of value"
        } else {
            detail = "unexpected end of JSON input"
        }
        return self.failure(
            400,
            "BadRequest",
            "the object provided is unrecognized (must be of type \(definition.kind)): couldn't get version/kind; json parse error: \(detail)",
            details: nil,
            request: request,
            identity: identity
        )
    }

    func update(
        _ info: K8sRequestInfo,
        _ definition: K8sDiscovery.Resource,
        namespace: String?,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        guard let patch = K8sJSON.parse(request.body) else {
            return self.badBody(definition, request: request, identity: identity)
        }
        var fields = Self.describe(patch, definition: definition, command: "k8s.\(info.verb)")
        fields.add("namespace", attackerText: namespace ?? "")
        fields.add("name", attackerText: info.name)
        fields.add("verb", info.verb)
        events.append((.commandInput, fields))
        guard let existing = self.stored(info, definition, namespace: namespace) else {
            return self.missing(info, request: request, identity: identity)
        }
        let merged = info.verb == "update" ? patch : Self.mergePatch(existing.object, patch)
        switch self.cluster.store(
            group: definition.group,
            resource: definition.name,
            namespace: namespace,
            name: info.name,
            object: merged,
            now: self.now(),
            replace: true
        ) {
        case .success(let saved): return self.json(200, saved, request: request, identity: identity)
        case .failure: return self.json(200, existing.object, request: request, identity: identity)
        }
    }

    /// RFC 7386 JSON merge patch (strategic merge patches are treated alike; JSON patch arrays change nothing).
    static func mergePatch(_ target: K8sJSON, _ patch: K8sJSON, depth: Int = 0) -> K8sJSON {
        guard case .object(let changes) = patch, depth < 32 else { return depth == 0 && patch.isArray ? target : patch }
        var result = target
        if case .object = target {} else { result = .empty }
        for (key, value) in changes {
            if value == .null {
                if case .object(let pairs) = result { result = .object(pairs.filter { $0.0 != key }) }
            } else {
                result = result.setting(key, Self.mergePatch(result[key] ?? .null, value, depth: depth + 1))
            }
        }
        return result
    }

    // MARK: Reviews

    func review(_ definition: K8sDiscovery.Resource, object: K8sJSON, identity: K8sIdentity) -> K8sJSON? {
        let base = object.setting("kind", .string(definition.kind)).setting(
            "apiVersion",
            .string(definition.groupVersion)
        )
        .setting("metadata", .object([("creationTimestamp", .null)]))
        switch definition.name {
        case "selfsubjectaccessreviews", "subjectaccessreviews", "localsubjectaccessreviews":
            return base.setting(
                "status",
                .object([
                    ("allowed", true),
                    (
                        "reason",
                        "RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\""
                    ),
                ])
            )
        case "selfsubjectrulesreviews":
            return base.setting(
                "status",
                .object([
                    (
                        "resourceRules",
                        .array([
                            .object([
                                ("verbs", .strings(["*"])), ("apiGroups", .strings(["*"])),
                                ("resources", .strings(["*"])),
                            ])
                        ])
                    ),
                    (
                        "nonResourceRules",
                        .array([.object([("verbs", .strings(["*"])), ("nonResourceURLs", .strings(["*"]))])])
                    ),
                    ("incomplete", false),
                ])
            )
        case "selfsubjectreviews":
            return base.setting(
                "status",
                .object([
                    (
                        "userInfo",
                        .object([("username", .string(identity.name)), ("groups", .strings(identity.groups))])
                    )
                ])
            )
        case "tokenreviews":
            return base.setting(
                "status",
                .object([("user", .empty), ("audiences", .strings(["https://kubernetes.default.svc.cluster.local"]))])
            )
        default:
            return nil
        }
    }
}

extension K8sJSON {
    var isArray: Bool {
        if case .array = self { return true }
        return false
    }
}
