import DecnetCore
import Foundation

extension K8sAPI {
    // MARK: Subresources

    func subresource(
        _ info: K8sRequestInfo,
        _ definition: K8sDiscovery.Resource,
        namespace: String?,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        switch (definition.name, info.subresource) {
        case ("pods", "exec"), ("pods", "attach"):
            return self.exec(
                info,
                namespace: namespace ?? "default",
                request: request,
                identity: identity,
                events: &events
            )
        case ("pods", "log"):
            guard let pod = self.cluster.get(group: "", resource: "pods", namespace: namespace, name: info.name) else {
                return self.missing(info, request: request, identity: identity)
            }
            events.append(Self.commandRecord("pod.log", args: "\(namespace ?? "")/\(info.name)"))
            let image = Self.containers(pod.object).first?.image ?? ""
            var headers = self.headers("text/plain", request: request, identity: identity)
            headers.removeAll { $0.0 == "X-Content-Type-Options" }
            return Response(
                status: 200,
                headers: headers,
                body: .bytes(Array(Self.logs(image: image, started: pod.created).utf8))
            )
        case ("pods", "portforward"), (_, "proxy"):
            return self.proxy(info, request: request, identity: identity, events: &events)
        case ("serviceaccounts", "token") where info.verb == "create":
            guard self.cluster.get(group: "", resource: "serviceaccounts", namespace: namespace, name: info.name) != nil
            else {
                return self.missing(info, request: request, identity: identity)
            }
            return self.mint(
                account: info.name,
                namespace: namespace ?? "default",
                request: request,
                identity: identity,
                events: &events
            )
        case ("pods", "eviction"), ("pods", "binding"):
            events.append(Self.commandRecord("pod.\(info.subresource)", args: "\(namespace ?? "")/\(info.name)"))
            return self.json(201, Self.successStatus([("code", 201)]), request: request, identity: identity)
        case (_, "status"), (_, "scale"), (_, "ephemeralcontainers"), (_, "finalize"), (_, "approval"):
            guard let stored = self.stored(info, definition, namespace: namespace) else {
                return self.missing(info, request: request, identity: identity)
            }
            return self.json(200, stored.object, request: request, identity: identity)
        default:
            return self.notFound(request, identity: identity)
        }
    }

    static func containers(_ pod: K8sJSON) -> [(name: String, image: String)] {
        guard case .array(let list) = pod["spec"]?["containers"] ?? .null else { return [] }
        return list.map { ($0["name"]?.stringValue ?? "", $0["image"]?.stringValue ?? "") }
    }

    static func flag(_ query: [String: [String]], _ name: String) -> Bool {
        guard let value = query[name]?.last?.lowercased() else { return false }
        return value == "true" || value == "1" || value.isEmpty
    }

    func badRequest(_ message: String, request: Request, identity: K8sIdentity) -> Response {
        self.failure(400, "BadRequest", message, details: nil, request: request, identity: identity)
    }

    /// `pods/exec` and `pods/attach`: the command is recorded from the query string whatever happens next; an
    /// upgrade (WebSocket or SPDY) runs it in the fake shell.
    func exec(
        _ info: K8sRequestInfo,
        namespace: String,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        let query = request.query
        let command = query["command"] ?? []
        let attach = info.subresource == "attach"
        let upgrade = (request.header("Upgrade") ?? "").lowercased()
        let transportName = upgrade == "websocket" ? "websocket" : upgrade.hasPrefix("spdy/") ? "spdy" : "none"
        events.append(Self.execEvent(info, request: request))
        guard let pod = self.cluster.get(group: "", resource: "pods", namespace: namespace, name: info.name) else {
            return self.missing(info, request: request, identity: identity)
        }
        let containers = Self.containers(pod.object)
        let containerName = query["container"]?.last ?? containers.first?.name ?? ""
        guard let container = containers.first(where: { $0.name == containerName }) else {
            return self.badRequest(
                "container \(containerName) is not valid for pod \(info.name)",
                request: request,
                identity: identity
            )
        }
        if !attach && command.isEmpty {
            return self.badRequest("you must specify at least 1 command", request: request, identity: identity)
        }
        let (stdin, stdout, stderr, tty) = (
            Self.flag(query, "stdin"), Self.flag(query, "stdout"), Self.flag(query, "stderr"), Self.flag(query, "tty")
        )
        if !stdin && !stdout && !stderr {
            return self.badRequest(
                "you must specify at least one of stdin, stdout, stderr",
                request: request,
                identity: identity
            )
        }
        let transport: K8sExecRequest.Transport
        let connection = (request.header("Connection") ?? "").lowercased()
        if transportName == "websocket" && connection.contains("upgrade") {
            let offered = request.headers.filter {
                $0.name.caseInsensitiveCompare("Sec-WebSocket-Protocol") == .orderedSame
            }
            .flatMap { $0.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            var supported = [
                "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io",
                "base64.channel.k8s.io", "v4.base64.channel.k8s.io",
            ]
            if self.configuration.release.minor >= 29 { supported.insert("v5.channel.k8s.io", at: 0) }
            guard let key = request.header("Sec-WebSocket-Key"), (Data(base64Encoded: key)?.count ?? 0) == 16 else {
                return self.badRequest(
                    "websocket: the client is not using the websocket protocol: 'Sec-WebSocket-Key' header is missing or invalid",
                    request: request,
                    identity: identity
                )
            }
            let chosen = offered.isEmpty ? "channel.k8s.io" : offered.first(where: { supported.contains($0) })
            guard let chosen else {
                return self.badRequest(
                    "requested protocol(s) are not supported: \(offered); supports \(supported)",
                    request: request,
                    identity: identity
                )
            }
            transport = .websocket(protocolName: chosen, key: key)
        } else if transportName == "spdy" && connection.contains("upgrade") {
            let offered = request.headers.filter {
                $0.name.caseInsensitiveCompare("X-Stream-Protocol-Version") == .orderedSame
            }
            .flatMap { $0.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let supported = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
            guard let chosen = offered.isEmpty ? "channel.k8s.io" : offered.first(where: { supported.contains($0) })
            else {
                return self.badRequest(
                    "unable to upgrade: unable to negotiate protocol: client supports \(offered), server supports \(supported)",
                    request: request,
                    identity: identity
                )
            }
            transport = .spdy(protocolName: chosen)
        } else {
            return self.badRequest("Upgrade request required", request: request, identity: identity)
        }
        let exec = K8sExecRequest(
            namespace: namespace,
            pod: info.name,
            container: container.name,
            command: command,
            stdin: stdin,
            stdout: stdout,
            stderr: stderr,
            tty: tty,
            attach: attach,
            transport: transport,
            image: container.image,
            podIP: pod.object["status"]?["podIP"]?.stringValue ?? "10.244.1.5"
        )
        return Response(status: 101, headers: [], body: .exec(exec))
    }

    /// The record of an exec or attach: its command (from the query string), pod, container, terminal and transport;
    /// made whether the request is then answered, refused (401, 403) or fails.
    static func execEvent(_ info: K8sRequestInfo, request: Request) -> (EventID, EventFields) {
        let query = request.query
        let upgrade = (request.header("Upgrade") ?? "").lowercased()
        var fields = EventFields()
        fields.add("command", info.subresource == "attach" ? "pod.attach" : "pod.exec")
        fields.add("args", attackerText: (query["command"] ?? []).joined(separator: " "))
        fields.add("pod", attackerText: "\(info.namespace.isEmpty ? "default" : info.namespace)/\(info.name)")
        if let container = query["container"]?.last { fields.add("container", attackerText: container) }
        fields.add("tty", Self.flag(query, "tty") ? "true" : "false")
        fields.add("stdin", Self.flag(query, "stdin") ? "true" : "false")
        fields.add("transport", upgrade == "websocket" ? "websocket" : upgrade.hasPrefix("spdy/") ? "spdy" : "none")
        return (.commandInput, fields)
    }

    static func isExec(_ info: K8sRequestInfo) -> Bool {
        info.isResource && info.group.isEmpty && info.resource == "pods"
            && (info.subresource == "exec" || info.subresource == "attach")
    }

    /// Proxies and port forwards reach a kubelet or a pod that never answers.
    func proxy(
        _ info: K8sRequestInfo,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        events.append(
            Self.commandRecord(
                info.subresource == "portforward" ? "pod.portforward" : "\(info.resource).proxy",
                args: request.uri
            )
        )
        let target: String
        if info.resource == "nodes" {
            let node = self.cluster.nodes.first { $0.name == info.name.split(separator: ":").first.map(String.init) }
            target = "\(node?.ip ?? self.cluster.nodes[0].ip):10250"
        } else {
            target = "\(self.cluster.nodes[1].ip):10250"
        }
        return self.failure(
            500,
            "InternalError",
            "error dialing backend: dial tcp \(target): i/o timeout",
            details: nil,
            request: request,
            identity: identity
        )
    }

    /// `serviceaccounts/<name>/token`: a bound token that this cluster then accepts.
    func mint(
        account: String,
        namespace: String,
        request: Request,
        identity: K8sIdentity,
        events: inout [(EventID, EventFields)]
    ) -> Response {
        let now = self.now()
        let body = K8sJSON.parse(request.body)
        var expiration = 3600
        if case .int(let seconds) = body?["spec"]?["expirationSeconds"] ?? .null {
            expiration = max(600, min(seconds, 86_400 * 365))
        }
        var audiences = ["https://kubernetes.default.svc.cluster.local"]
        if case .array(let list) = body?["spec"]?["audiences"] ?? .null, !list.isEmpty {
            audiences = list.compactMap(\.stringValue).prefix(8).map { $0 }
        }
        let subject = "system:serviceaccount:\(namespace):\(account)"
        let objects = self.cluster.objects
        let header = K8sJSON.object([("alg", "RS256"), ("kid", .string(objects.secret("kid", length: 43)))])
        let claims = K8sJSON.object([
            ("aud", .strings(audiences)), ("exp", .int(now + expiration)), ("iat", .int(now)),
            ("iss", "https://kubernetes.default.svc.cluster.local"),
            (
                "kubernetes.io",
                .object([
                    ("namespace", .string(namespace)),
                    (
                        "serviceaccount",
                        .object([("name", .string(account)), ("uid", .string(objects.uid("\(namespace)/\(account)")))])
                    ),
                ])
            ),
            ("nbf", .int(now)), ("sub", .string(subject)),
        ])
        var random = SystemRandomNumberGenerator()
        let signature = (0..<256).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = [
            Self.base64URL(Array(header.encoded.dropLast())), Self.base64URL(Array(claims.encoded.dropLast())),
            Self.base64URL(signature),
        ]
        .joined(separator: ".")
        self.cluster.mint(token, for: subject)
        events.append(Self.commandRecord("token.create", args: subject))
        let reply = K8sJSON.object([
            ("kind", "TokenRequest"), ("apiVersion", "authentication.k8s.io/v1"),
            (
                "metadata",
                .object([("name", .string(account)), ("namespace", .string(namespace)), ("creationTimestamp", .null)])
            ),
            (
                "spec",
                .object([
                    ("audiences", .strings(audiences)), ("expirationSeconds", .int(expiration)),
                    ("boundObjectRef", .null),
                ])
            ),
            (
                "status",
                .object([("token", .string(token)), ("expirationTimestamp", .string(K8sTime.iso(now + expiration)))])
            ),
        ])
        return self.json(201, reply, request: request, identity: identity)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/",
            with: "_"
        )
        .replacingOccurrences(of: "=", with: "")
    }

    /// What a container's log shows, by the image it runs.
    static func logs(image: String, started: Int) -> String {
        let stamp = K8sTime.iso(started + 2).replacingOccurrences(of: "-", with: "/").replacingOccurrences(
            of: "T",
            with: " "
        )
        .replacingOccurrences(of: "Z", with: "")
        if image.contains("nginx") {
            return "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration\n"
                + "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/\n"
                + "/docker-entrypoint.sh: Configuration complete; ready for start up\n"
                + "\(stamp) [notice] 1#1: using the \"epoll\" event method\n\(stamp) [notice] 1#1: nginx/1.25.4\n"
                + "\(stamp) [notice] 1#1: start worker processes\n"
                + "10.244.0.1 - - [\(stamp)] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.29\" \"-\"\n"
        }
        if image.contains("redis") {
            return "1:C \(stamp) * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n1:M \(stamp) * Server initialized\n"
                + "1:M \(stamp) * Ready to accept connections tcp\n"
        }
        if image.contains("postgres") {
            return "\(stamp) UTC [1] LOG:  starting PostgreSQL 15.6 (Debian 15.6-1.pgdg120+2) on x86_64-pc-linux-gnu\n"
                + "\(stamp) UTC [1] LOG:  database system is ready to accept connections\n"
        }
        return ""
    }
}
