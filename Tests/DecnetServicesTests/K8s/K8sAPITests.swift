import DecnetCore
import DecnetServiceKit
import Foundation
import Testing

@testable import DecnetServices

/// The API server's logic: /version per release, kubeadm's anonymous RBAC and its exact Forbidden wording, 401 for
/// unknown tokens (JWT claims recorded), discovery, Tables, pod creation and exec requests, hostile bodies.
@Suite struct K8sAPITests {
    static let now = 1_780_000_000

    static func api(version: String = "v1.29.2", tokens: String? = nil, anonymous: Bool = false) -> K8sAPI {
        let release = K8sRelease(persona: version)
        let cluster = K8sCluster(
            release: release,
            hostname: "k8s-master-01",
            nodeIP: "10.20.0.10",
            caPEM: "PEM",
            now: Self.now
        )
        var api = K8sAPI(
            configuration: K8sAPI.Configuration(
                release: release,
                anonymousAllowed: anonymous,
                tokens: K8sTokens(tokens),
                serverAddress: "10.20.0.10:6443",
                hostname: "k8s-master-01"
            ),
            cluster: cluster
        )
        api.now = { Self.now }
        api.auditID = { "00000000-0000-4000-8000-000000000000" }
        return api
    }

    static func call(
        _ api: K8sAPI,
        _ method: String,
        _ uri: String,
        headers: [(name: String, value: String)] = [],
        body: String = "",
        insecure: Bool = false,
        state: inout K8sAPI.ConnectionState
    ) -> (K8sAPI.Response, [(EventID, EventFields)]) {
        let request = K8sAPI.Request(
            method: method,
            uri: uri,
            headers: [(name: "Host", value: "10.20.0.10:6443")] + headers,
            body: Array(body.utf8),
            insecurePort: insecure
        )
        return api.respond(to: request, state: &state)
    }

    static func call(
        _ api: K8sAPI,
        _ method: String,
        _ uri: String,
        headers: [(name: String, value: String)] = [],
        body: String = "",
        insecure: Bool = false
    ) -> (K8sAPI.Response, [(EventID, EventFields)]) {
        var state = K8sAPI.ConnectionState()
        return Self.call(api, method, uri, headers: headers, body: body, insecure: insecure, state: &state)
    }

    static func text(_ response: K8sAPI.Response) -> String {
        guard case .bytes(let bytes) = response.body else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func field(_ events: [(EventID, EventFields)], _ id: EventID, _ name: String) -> String? {
        events.last { $0.0 == id && $0.1.fields.contains { $0.name == name } }?.1.fields.first { $0.name == name }?
            .value
    }

    static func header(_ response: K8sAPI.Response, _ name: String) -> String? {
        response.headers.first { $0.0 == name }?.1
    }

    static let bearer = [(name: "Authorization", value: "Bearer goodtoken")]

    /// A GET with the accepted token (and an Accept header, when given).
    static func get(_ api: K8sAPI, _ uri: String, accept: String? = nil) -> K8sAPI.Response {
        Self.call(api, "GET", uri, headers: Self.bearer + (accept.map { [(name: "Accept", value: $0)] } ?? [])).0
    }

    @Test func versionIsThePersonasRealBuild() throws {
        let api = Self.api()
        let (response, _) = Self.call(api, "GET", "/version?timeout=32s")
        #expect(response.status == 200)
        #expect(
            Self.text(response)
                == "{\n  \"major\": \"1\",\n  \"minor\": \"29\",\n  \"gitVersion\": \"v1.29.2\",\n  \"gitCommit\": \"4b8e819355d791d96b7e9d9efe4cbafae2311c88\",\n  \"gitTreeState\": \"clean\",\n  \"buildDate\": \"2024-02-14T10:32:40Z\",\n  \"goVersion\": \"go1.21.7\",\n  \"compiler\": \"gc\",\n  \"platform\": \"linux/amd64\"\n}"
        )
        #expect(Self.text(response).utf8.count == 263, "the length a real v1.29.2 sends")
        #expect(
            response.headers.map(\.0) == [
                "Audit-Id", "Cache-Control", "Content-Type", "X-Kubernetes-Pf-Flowschema-Uid",
                "X-Kubernetes-Pf-Prioritylevel-Uid",
            ]
        )
        let other = K8sRelease(persona: "1.31.0")
        #expect(other.gitCommit == "9edcffcde5595e8a5b1a35f88c421764e575afce" && other.goVersion == "go1.22.5")
        let unknown = K8sRelease(persona: "v1.29.7")
        #expect(unknown.gitVersion == "v1.29.7" && unknown.minor == 29 && unknown.goVersion == "go1.21.7")
        #expect(K8sRelease(persona: "garbage").gitVersion.hasPrefix("v"))
    }

    @Test func anonymousMayReadOnlyTheHealthAndVersionPaths() {
        let api = Self.api()
        for path in ["/version", "/healthz", "/livez", "/readyz", "/readyz?verbose"] {
            #expect(Self.call(api, "GET", path).0.status == 200, "\(path)")
        }
        #expect(Self.text(Self.call(api, "GET", "/healthz").0) == "ok")
        #expect(Self.text(Self.call(api, "GET", "/readyz?verbose").0).hasSuffix("readyz check passed\n"))
        #expect(Self.call(api, "GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info").0.status == 200)
        for path in ["/", "/api", "/apis", "/healthz/etcd", "/metrics", "/api/v1/namespaces/default/secrets"] {
            #expect(Self.call(api, "GET", path).0.status == 403, "\(path)")
        }
        #expect(Self.call(api, "HEAD", "/version").0.status == 403, "RBAC grants get, not head")
        #expect(Self.call(Self.api(anonymous: true), "GET", "/api/v1/secrets").0.status == 200)
    }

    @Test func forbiddenIsWordedAsTheAuthorizationFilterWordsIt() {
        let api = Self.api()
        #expect(
            Self.text(Self.call(api, "GET", "/").0)
                == "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"forbidden: User \\\"system:anonymous\\\" cannot get path \\\"/\\\"\",\"reason\":\"Forbidden\",\"details\":{},\"code\":403}\n"
        )
        #expect(
            Self.text(Self.call(api, "GET", "/api/v1/pods?limit=500").0)
                == "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"pods is forbidden: User \\\"system:anonymous\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" at the cluster scope\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}\n"
        )
        #expect(
            Self.text(Self.call(api, "GET", "/api/v1/namespaces/x/pods").0).contains(
                "pods is forbidden: User \\\"system:anonymous\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" in the namespace \\\"x\\\""
            )
        )
        let deployment = Self.text(Self.call(api, "GET", "/apis/apps/v1/namespaces/default/deployments/web").0)
        #expect(
            deployment.contains(
                "deployments.apps \\\"web\\\" is forbidden: User \\\"system:anonymous\\\" cannot get resource \\\"deployments\\\" in API group \\\"apps\\\" in the namespace \\\"default\\\""
            )
        )
        #expect(deployment.contains("\"details\":{\"name\":\"web\",\"group\":\"apps\",\"kind\":\"deployments\"}"))
        #expect(
            Self.text(Self.call(api, "POST", "/api/v1/namespaces/default/pods/web-1/exec?command=id").0).contains(
                "pods \\\"web-1\\\" is forbidden: User \\\"system:anonymous\\\" cannot create resource \\\"pods/exec\\\""
            )
        )
        let (refused, refusedEvents) = Self.call(
            api,
            "GET",
            "/api/v1/namespaces/kube-system/pods/etcd-1/exec?command=cat&command=%2Fetc%2Fkubernetes%2Fadmin.conf&stdout=1"
        )
        #expect(
            refused.status == 403
                && Self.field(refusedEvents, .commandInput, "args") == "cat /etc/kubernetes/admin.conf"
        )
        #expect(
            Self.field(refusedEvents, .commandInput, "pod") == "kube-system/etcd-1",
            "the command is kept though refused"
        )
        #expect(Self.text(Self.call(api, "GET", "/api/v1/watch/pods").0).contains("cannot watch resource \\\"pods\\\""))
        #expect(Self.text(Self.call(api, "GET", "/api/v1/pods?watch=true").0).contains("cannot watch resource"))
        #expect(
            Self.text(Self.call(api, "DELETE", "/api/v1/namespaces/default/pods").0).contains("cannot deletecollection")
        )
        #expect(Self.text(Self.call(api, "POST", "/apis/x").0).contains("cannot post path \\\"/apis/x\\\""))
    }

    @Test func unknownTokensAre401AndTheirClaimsAreRecorded() throws {
        let api = Self.api(tokens: "goodtoken")
        let header = Data(#"{"alg":"RS256","kid":"k1"}"#.utf8).base64EncodedString().replacingOccurrences(
            of: "=",
            with: ""
        )
        let claims = Data(
            #"{"aud":["https://kubernetes.default.svc.cluster.local"],"exp":1700000000,"iss":"https://kubernetes.default.svc.cluster.local","kubernetes.io":{"namespace":"kube-system","pod":{"name":"web-1"},"serviceaccount":{"name":"default"}},"sub":"system:serviceaccount:kube-system:default"}"#
                .utf8
        ).base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        let jwt = "\(header).\(claims).c2lnbmF0dXJl"
        var state = K8sAPI.ConnectionState()
        let (response, events) = Self.call(
            api,
            "GET",
            "/api/v1/pods",
            headers: [(name: "Authorization", value: "Bearer " + jwt)],
            state: &state
        )
        #expect(response.status == 401)
        #expect(
            Self.text(response)
                == "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n"
        )
        #expect(
            response.headers.map(\.0) == ["Audit-Id", "Cache-Control", "Content-Type"],
            "401 never reaches flow control"
        )
        #expect(
            Self.field(events, .loginFailed, "password") == jwt
                && Self.field(events, .loginFailed, "method") == "bearer"
        )
        #expect(Self.field(events, .loginFailed, "jwt_sub") == "system:serviceaccount:kube-system:default")
        #expect(Self.field(events, .loginFailed, "jwt_iss") == "https://kubernetes.default.svc.cluster.local")
        #expect(Self.field(events, .loginFailed, "jwt_exp") == "1700000000")
        #expect(
            Self.field(events, .loginFailed, "sa_namespace") == "kube-system"
                && Self.field(events, .loginFailed, "sa_pod") == "web-1"
        )
        // The same token again on this connection is not recorded twice; /version is 401 too with a bad token.
        let (again, more) = Self.call(
            api,
            "GET",
            "/version",
            headers: [(name: "Authorization", value: "Bearer " + jwt)],
            state: &state
        )
        #expect(again.status == 401 && !more.contains { $0.0 == .loginFailed })
        let (accepted, acceptedEvents) = Self.call(api, "GET", "/api/v1/namespaces", headers: Self.bearer)
        #expect(accepted.status == 200 && Self.field(acceptedEvents, .loginSuccess, "username") == "kubernetes-admin")
        #expect(
            Self.call(
                Self.api(tokens: "*"),
                "GET",
                "/api/v1/pods",
                headers: [(name: "Authorization", value: "Bearer " + jwt)]
            ).0.status == 200
        )
        // Basic is ignored since 1.19: the request is anonymous, the credentials are recorded.
        let basic = "Basic " + Data("admin:hunter2".utf8).base64EncodedString()
        let (anonymous, basicEvents) = Self.call(
            api,
            "GET",
            "/api/v1/pods",
            headers: [(name: "Authorization", value: basic)]
        )
        #expect(anonymous.status == 403 && Self.field(basicEvents, .loginFailed, "password") == "hunter2")
        #expect(
            Self.call(api, "GET", "/api/v1/pods", headers: [(name: "Authorization", value: "Bearer ")]).0.status == 403
        )
    }

    @Test func jwtGarbageIsNotAJWT() {
        for garbage in [
            "", ".", "..", "a.b.c", "e30.e30", "e30.e30.", "!!!.###.$$$", "eyJhbGciOiJub25lIn0", "eyJ.eyJ.x",
            String(repeating: "A", count: 40_000), "e30.W10.x", "bnVsbA.bnVsbA.x", "e30.e30.e30",
        ] {
            #expect(K8sJWT(garbage) == nil, "\(garbage.prefix(20))")
        }
        let deep = Data((String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)).utf8)
            .base64EncodedString()
        #expect(K8sJWT("e30.\(deep).x") == nil)
        let minimal = K8sJWT("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.x")
        #expect(minimal?.subject == "bob" && minimal?.algorithm == "HS256")
    }

    @Test func anAcceptedTokenSeesTheClusterAsKubectlAsksForIt() throws {
        let api = Self.api(tokens: "goodtoken")
        let discovery =
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        let core = Self.get(api, "/api?timeout=32s", accept: discovery)
        #expect(
            Self.header(core, "Content-Type")
                == "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            "1.29 serves v2beta1 only"
        )
        #expect(
            Self.text(core).contains(
                "\"resource\":\"pods\",\"responseKind\":{\"group\":\"\",\"version\":\"\",\"kind\":\"Pod\"},\"scope\":\"Namespaced\""
            )
        )
        let newer = Self.api(version: "v1.32.0", tokens: "goodtoken")
        #expect(
            Self.header(
                Self.get(newer, "/apis", accept: discovery),
                "Content-Type"
            )?.contains("v=v2;") == true
        )
        #expect(
            Self.text(Self.get(api, "/api")).hasPrefix(
                "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]"
            )
        )
        let resources = Self.text(Self.get(api, "/api/v1"))
        #expect(resources.contains("\"name\":\"pods\",\"singularName\":\"pod\",\"namespaced\":true,\"kind\":\"Pod\""))
        #expect(resources.contains("\"storageVersionHash\":\"xPOwRZ+Yhw8=\""), "derived as the API server derives it")
        #expect(
            resources.contains(
                "{\"name\":\"pods/exec\",\"singularName\":\"\",\"namespaced\":true,\"kind\":\"PodExecOptions\",\"verbs\":[\"create\",\"get\"]}"
            )
        )
        #expect(
            Self.text(Self.get(api, "/apis/apps/v1")).hasPrefix(
                "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":\"apps/v1\""
            )
        )
        let table =
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        let pods = Self.get(api, "/api/v1/pods?limit=500", accept: table)
        #expect(
            pods.status == 200 && Self.header(pods, "Content-Type") == "application/json;as=Table;v=v1;g=meta.k8s.io"
        )
        let document = try #require(K8sJSON.parse(Array(Self.text(pods).utf8)))
        guard case .array(let rows) = document["rows"] ?? .null else {
            Issue.record("no rows")
            return
        }
        let names = rows.compactMap { row -> String? in
            guard case .array(let cells) = row["cells"] ?? .null else { return nil }
            return cells.first?.stringValue
        }
        #expect(names.contains("kube-apiserver-k8s-master-01") && names.contains("etcd-k8s-master-01"))
        #expect(rows.first?["object"]?["kind"]?.stringValue == "PartialObjectMetadata")
        let list = Self.text(Self.get(api, "/api/v1/namespaces/default/secrets"))
        #expect(list.hasPrefix("{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"))
        #expect(
            list.contains("\"name\":\"db-credentials\"") && !list.contains("\"kind\":\"Secret\","),
            "list items carry no kind"
        )
        let (_, secretEvents) = Self.call(
            api,
            "GET",
            "/api/v1/namespaces/default/secrets/db-credentials",
            headers: Self.bearer
        )
        #expect(Self.field(secretEvents, .commandInput, "args") == "default/db-credentials")
        let missing = Self.get(api, "/api/v1/namespaces/default/pods/nope")
        #expect(
            missing.status == 404
                && Self.text(missing).contains(
                    "\"message\":\"pods \\\"nope\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"nope\",\"kind\":\"pods\"}"
                )
        )
        #expect(Self.get(api, "/api/v1/frobs").status == 404)
        #expect(Self.get(api, "/").status == 200)
        let index = Self.text(Self.get(api, "/openapi/v3?timeout=32s"))
        #expect(index.contains("\"api/v1\":{\"serverRelativeURL\":\"/openapi/v3/api/v1?hash="))
        let apps = Self.text(Self.get(api, "/openapi/v3/apis/apps/v1?hash=X"))
        #expect(apps.contains("\"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}\""))
        #expect(
            apps.contains(
                "\"x-kubernetes-group-version-kind\":{\"group\":\"apps\",\"version\":\"v1\",\"kind\":\"DaemonSet\"}"
            )
        )
        #expect(Self.get(api, "/openapi/v3/apis/nope/v9").status == 404)
        // A watch from "now" sends nothing at first, and never lasts longer than the cap.
        let watch = Self.get(api, "/api/v1/pods?watch=true&resourceVersion=5&timeoutSeconds=99999")
        guard case .watch(let events, let seconds) = watch.body else {
            Issue.record("not a watch")
            return
        }
        #expect(events.isEmpty && seconds == 30)
        let fresh = Self.get(api, "/api/v1/namespaces/monitoring/pods?watch=1&timeoutSeconds=2")
        guard case .watch(let initial, 2) = fresh.body else {
            Issue.record("not a bounded watch")
            return
        }
        #expect(
            initial.count == 2
                && String(decoding: initial[0], as: UTF8.self).hasPrefix(
                    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\""
                )
        )
    }

    @Test func aPodCreationIsRecordedWithItsSpecAndAnsweredAsCreated() throws {
        let api = Self.api(tokens: "goodtoken")
        let pod =
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"evil"},"spec":{"hostPID":true,"hostNetwork":true,"containers":[{"name":"evil","image":"alpine:3.19","command":["nsenter","-t","1","-m","--","sh"],"securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}},"volumeMounts":[{"name":"host","mountPath":"/host"}]}],"volumes":[{"name":"host","hostPath":{"path":"/"}}]}}"#
        let (created, events) = Self.call(
            api,
            "POST",
            "/api/v1/namespaces/default/pods?fieldManager=kubectl-run",
            headers: Self.bearer,
            body: pod
        )
        #expect(created.status == 201)
        #expect(Self.text(created).contains("\"status\":{\"phase\":\"Pending\",\"qosClass\":\"BestEffort\"}"))
        #expect(Self.field(events, .commandInput, "command") == "pod.create")
        #expect(
            Self.field(events, .commandInput, "image") == "alpine:3.19"
                && Self.field(events, .commandInput, "args") == "nsenter -t 1 -m -- sh"
        )
        #expect(
            Self.field(events, .commandInput, "host_path") == "/"
                && Self.field(events, .commandInput, "privileged") == "true"
        )
        #expect(
            Self.field(events, .commandInput, "host_pid") == "true"
                && Self.field(events, .commandInput, "capabilities") == "SYS_ADMIN"
        )
        #expect(events.contains { $0.0 == .payloadReceived })
        #expect(
            Self.call(api, "POST", "/api/v1/namespaces/default/pods", headers: Self.bearer, body: pod).0.status == 409
        )
        #expect(
            Self.call(api, "POST", "/api/v1/namespaces/nowhere/pods", headers: Self.bearer, body: pod).0.status == 404
        )
        let running = Self.text(Self.get(api, "/api/v1/namespaces/default/pods/evil"))
        #expect(running.contains("\"phase\":\"Running\""))
        // exec over a WebSocket: the command comes from the query string.
        let websocket: [(name: String, value: String)] =
            Self.bearer + [
                (name: "Connection", value: "Upgrade"), (name: "Upgrade", value: "websocket"),
                (name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ=="),
                (name: "Sec-WebSocket-Version", value: "13"),
                (name: "Sec-WebSocket-Protocol", value: "v5.channel.k8s.io"),
            ]
        let (exec, execEvents) = Self.call(
            api,
            "GET",
            "/api/v1/namespaces/default/pods/evil/exec?command=sh&command=-c&command=id%3B%20uname%20-a&container=evil&stdout=true&stderr=true",
            headers: websocket
        )
        guard case .exec(let request) = exec.body else {
            Issue.record("no exec: \(Self.text(exec))")
            return
        }
        #expect(
            request.command == ["sh", "-c", "id; uname -a"]
                && request.transport == .websocket(protocolName: "v5.channel.k8s.io", key: "dGhlIHNhbXBsZSBub25jZQ==")
        )
        #expect(
            Self.field(execEvents, .commandInput, "args") == "sh -c id; uname -a"
                && Self.field(execEvents, .commandInput, "pod") == "default/evil"
        )
        var session = K8sExecSession(request: request, profile: K8sWireTests.shellProfile)
        let result = session.run()
        #expect(
            String(decoding: result.output, as: UTF8.self).hasPrefix(
                "uid=0(root) gid=0(root) groups=0(root)\nLinux evil "
            )
        )
        #expect(
            result.status == .success
                && String(decoding: result.status.document, as: UTF8.self) == "{\"metadata\":{},\"status\":\"Success\"}"
        )
        #expect(
            String(decoding: K8sExitStatus.exitCode(3, command: ["sh", "-c", "exit 3"]).document, as: UTF8.self)
                .contains(
                    "\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]}"
                )
        )
        // Without an upgrade the command is still recorded, and answered as the server does.
        let (plain, plainEvents) = Self.call(
            api,
            "POST",
            "/api/v1/namespaces/default/pods/evil/exec?command=cat&command=/etc/shadow&stdout=true",
            headers: Self.bearer
        )
        #expect(plain.status == 400 && Self.text(plain).contains("Upgrade request required"))
        #expect(Self.field(plainEvents, .commandInput, "args") == "cat /etc/shadow")
        // The legacy insecure port needs no credentials.
        #expect(Self.call(api, "DELETE", "/api/v1/namespaces/default/pods/evil", insecure: true).0.status == 200)
    }

    /// Restart counts are int32 in Kubernetes, but a client's PUT keeps whatever it sent: summed for kubectl's
    /// table they must not overflow (found reading the code for the fuzzer's kind of finding).
    @Test func restartCountsPastInt32AreShownAndNeverOverflow() throws {
        let api = Self.api(tokens: "goodtoken")
        let pod =
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"alpine"}]}}"#
        #expect(
            Self.call(api, "POST", "/api/v1/namespaces/default/pods", headers: Self.bearer, body: pod).0.status == 201
        )
        let updated =
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"a","image":"alpine"}]},"status":{"phase":"Running","containerStatuses":[{"restartCount":9223372036854775807},{"restartCount":1}]}}"#
        let put = Self.call(api, "PUT", "/api/v1/namespaces/default/pods/p", headers: Self.bearer, body: updated).0
        #expect(put.status == 200, "\(Self.text(put))")
        let table = Self.get(
            api,
            "/api/v1/namespaces/default/pods",
            accept: "application/json;as=Table;v=v1;g=meta.k8s.io"
        )
        #expect(table.status == 200)
        #expect(Self.text(table).contains("2147483648"), "\(Self.text(table))")
    }

    @Test func hostileBodiesGetTheServersErrors() {
        let api = Self.api(tokens: "goodtoken")
        let pods = "/api/v1/namespaces/default/pods"
        let (open, _) = Self.call(api, "POST", pods, headers: Self.bearer, body: "{")
        #expect(open.status == 400 && Self.text(open).contains("json parse error: unexpected end of JSON input"))
        let (junk, _) = Self.call(api, "POST", pods, headers: Self.bearer, body: "xyz")
        #expect(Self.text(junk).contains("invalid character 'x' looking for beginning of value"))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(Self.call(api, "POST", pods, headers: Self.bearer, body: deep).0.status == 400)
        #expect(Self.call(api, "POST", pods, headers: Self.bearer, body: "{\"metadata\":{}}").0.status == 422)
        #expect(Self.call(api, "POST", pods, headers: Self.bearer, body: "{\"a\":1e999999}").0.status == 400)
        #expect(Self.call(api, "POST", pods, headers: Self.bearer, body: "{\"a\":\"\\ud800\"}").0.status == 422)
        #expect(
            Self.call(api, "PATCH", pods + "/nope", headers: Self.bearer, body: "[{\"op\":\"add\"}]").0.status == 404
        )
        var request = K8sAPI.Request(
            method: "POST",
            uri: pods,
            headers: [(name: "Authorization", value: "Bearer goodtoken")],
            bodyTooLarge: true
        )
        var state = K8sAPI.ConnectionState()
        let (large, _) = api.respond(to: request, state: &state)
        #expect(large.status == 413 && Self.text(large).contains("Request entity too large: limit is 3145728"))
        request.uri = "/api/v1/%ZZ/\u{0}/..//pods?x=%&&=&watch"
        #expect(api.respond(to: request, state: &state).0.status >= 400)
        // A kubectl typed client's protobuf (a SelfSubjectRulesReview) still gets its answer.
        let protobuf = String(decoding: K8sProtobuf.magic + [0x0A, 0x02, 0x76, 0x31, 0x12, 0x00], as: UTF8.self)
        let (review, _) = Self.call(
            api,
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            headers: Self.bearer,
            body: protobuf
        )
        #expect(review.status == 201 && Self.text(review).contains("\"resourceRules\""))
        #expect(K8sProtobuf.strings(K8sProtobuf.magic + [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).isEmpty)
        #expect(K8sProtobuf.strings(K8sProtobuf.magic + [0x0A, 0x04] + Array("kube".utf8)) == ["kube"])
    }

    @Test func requestInfoResolvesPathsAsTheServerDoes() {
        let info = K8sRequestInfo(method: "GET", path: "/api/v1/namespaces/default", query: [:])
        #expect(
            info.isResource && info.resource == "namespaces" && info.name == "default" && info.namespace == "default"
        )
        let status = K8sRequestInfo(method: "PUT", path: "/api/v1/namespaces/x/status", query: [:])
        #expect(status.resource == "namespaces" && status.subresource == "status" && status.verb == "update")
        let selector = K8sRequestInfo(
            method: "GET",
            path: "/api/v1/namespaces/a/pods",
            query: ["fieldSelector": ["metadata.name=b"], "watch": ["true"]]
        )
        #expect(selector.verb == "watch" && selector.name == "b")
        #expect(!K8sRequestInfo(method: "GET", path: "/apis/apps/v1", query: [:]).isResource)
        #expect(!K8sRequestInfo(method: "GET", path: "/api/v1/watch", query: [:]).isResource)
        #expect(K8sTime.human(45) == "45s" && K8sTime.human(150) == "2m30s" && K8sTime.human(600) == "10m")
        #expect(
            K8sTime.human(5 * 3600 + 600) == "5h10m" && K8sTime.human(20 * 3600) == "20h"
                && K8sTime.human(3 * 86_400 + 7200) == "3d2h"
        )
        #expect(K8sTime.human(228 * 86_400) == "228d" && K8sTime.human(800 * 86_400) == "2y70d")
        #expect(
            K8sTime.iso(1_707_400_625) == "2024-02-08T13:57:05Z"
                && K8sTime.unix("2024-02-08T13:57:05Z") == 1_707_400_625
        )
        #expect(K8sCluster.workerNames("k8s-master-01") == ("k8s-worker-01", "k8s-worker-02"))
        #expect(K8sCluster.workerNames("kube") == ("kube-worker-1", "kube-worker-2"))
    }
}
