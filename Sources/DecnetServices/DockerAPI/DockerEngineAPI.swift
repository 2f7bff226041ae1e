import Crypto
import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization

/// What one decky's fake Docker daemon holds: its images and containers (a few it has been running for weeks, and
/// whatever attackers create), and the execs started in them. Shared by the daemon's connections, bounded.
final class DockerEngineState: Sendable {
    struct Container: Sendable {
        var id: String
        var name: String
        var image: String
        var command: [String]
        var created: Int
        var running: Bool
        /// When it was last started and stopped (nil: never): `docker ps -a` says Created or Exited … ago.
        var started: Int?
        var finished: Int?
    }

    struct Exec: Sendable {
        var id: String
        var container: String
        var command: [String]
        var output: String
        var exitCode: Int32
    }

    struct State: Sendable {
        var images: [String: Int] = [:]
        var containers: [Container] = []
        var execs: [String: Exec] = [:]
    }

    static let maximumContainers = 64
    static let maximumExecs = 256

    let state: Mutex<State>

    /// `seeded` false: an engine that has just been installed, without images or containers. `host` makes the
    /// long-running containers' ids the decky's own (an image's id is its content's, the same everywhere).
    init(started: Int, seeded: Bool = true, host: String = "") {
        var state = State()
        guard seeded else {
            self.state = Mutex(state)
            return
        }
        state.images = [
            "nginx:1.25": started - 40 * 86_400, "redis:7.2": started - 40 * 86_400,
            "postgres:15": started - 38 * 86_400,
        ]
        state.containers = [
            Container(
                id: Self.id(host + "web"),
                name: "web",
                image: "nginx:1.25",
                command: ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
                created: started - 21 * 86_400,
                running: true,
                started: started - 21 * 86_400
            ),
            Container(
                id: Self.id(host + "cache"),
                name: "cache",
                image: "redis:7.2",
                command: ["docker-entrypoint.sh", "redis-server"],
                created: started - 21 * 86_400,
                running: true,
                started: started - 21 * 86_400
            ),
            Container(
                id: Self.id(host + "db"),
                name: "db",
                image: "postgres:15",
                command: ["docker-entrypoint.sh", "postgres"],
                created: started - 20 * 86_400,
                running: true,
                started: started - 20 * 86_400
            ),
        ]
        self.state = Mutex(state)
    }

    /// A 64-hex-digit id, stable for the baseline containers and random for new ones.
    static func id(_ seed: String? = nil) -> String {
        if let seed { return lowerHex(SHA256.hash(data: Array("decnet docker \(seed)".utf8))) }
        var generator = SystemRandomNumberGenerator()
        return lowerHex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// The Docker Engine API (v1.12 onwards, paths with or without their `/v1.NN` prefix) as the `docker` CLI, nmap and
/// cryptomining bots use it, without I/O: ping and version negotiation, version, info, container and image
/// lists, create (the whole payload recorded: image, command, mounts, privileged, host namespaces), image pulls
/// (registry credentials recorded), start, exec with output from a fake shell, logs, wait, inspect and removal.
/// Nothing is ever run: the containers only appear to.
struct DockerEngineAPI: HTTPAPI {
    struct Configuration: Sendable {
        var version: String
        var apiVersion: String
        var gitCommit: String
        var goVersion: String
        var kernelVersion: String
        var hostname: String
        var operatingSystem: String
        var profile: ShellProfile
        /// What the build reports beside the engine: its platform name, build time, containerd, runc, init.
        var release = Release.upstream
        /// The engine's id in `/info` (twelve groups of four base32 letters, stable per decky).
        var engineID = ""
        /// `/info`'s warnings: the one every daemon exposed on plain TCP prints.
        var warnings: [String] = []
    }

    /// A build's components. Docker's own packages ("Docker Engine - Community") and Debian's docker.io (its
    /// versions carry `+dfsg`) differ in all of them.
    struct Release: Sendable {
        var platform: String
        var buildTime: String
        var containerd: (version: String, commit: String)
        var runc: (version: String, commit: String)
        var initCommit: String

        static let upstream = Release(
            platform: "Docker Engine - Community",
            buildTime: "2023-10-26T09:07:41.000000000+00:00",
            containerd: ("1.6.24", "61f9fd88f79f081d64d6fa3bb1a0dc71ec870523"),
            runc: ("1.1.9", "v1.1.9-0-gccaecfc"),
            initCommit: "de40ad0"
        )

        /// Debian 12's docker.io 20.10.24+dfsg1 (with its containerd and runc packages).
        static let debian = Release(
            platform: "",
            buildTime: "2026-05-07T21:09:36.000000000+00:00",
            containerd: ("1.6.20~ds1", "1.6.20~ds1-1+deb12u3"),
            runc: ("1.1.5+ds1", "1.1.5+ds1-1+deb12u1"),
            initCommit: ""
        )
    }

    /// The warning dockerd puts in `/info` when its API listens on TCP without TLS (`address` as in `-H`).
    static func plainTCPWarning(_ address: String) -> String {
        "WARNING: API is accessible on http://\(address) without encryption.\n"
            + "         Access to the remote API is equivalent to root access on the host. Refer\n"
            + "         to the 'Docker daemon attack surface' section in the documentation for\n"
            + "         more information: https://docs.docker.com/go/attack-surface/"
    }

    /// A response as dockerd's Go server writes it: the handler's headers (the writer sorts them, as Go does), and
    /// a body, a chunked stream, or a hijacked raw stream after 101.
    struct Response: Equatable {
        enum Body: Equatable {
            case bytes([UInt8])
            case chunked([[UInt8]])
            case hijacked([UInt8])
        }

        var status: Int
        var headers: [(String, String)]
        var body: Body
        /// The Content-Type net/http sniffs for a handler that set none (written after Content-Length).
        var sniffedType: String? = nil

        static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
        }
    }

    let configuration: Configuration
    let state: DockerEngineState
    /// Unix time now.
    var now: @Sendable () -> Int

    /// Headers dockerd's middleware puts on every API response.
    var versionHeaders: [(String, String)] {
        [
            ("Api-Version", self.configuration.apiVersion), ("Docker-Experimental", "false"), ("Ostype", "linux"),
            ("Server", "Docker/\(self.configuration.version) (linux)"),
        ]
    }

    /// A JSON response as the API's handlers write it (`json.NewEncoder(w).Encode(v)`: a trailing newline).
    func json(_ status: Int, _ value: GoJSON) -> Response {
        Response(
            status: status,
            headers: self.versionHeaders + [("Content-Type", "application/json")],
            body: .bytes(value.bytes + [0x0A])
        )
    }

    func message(_ status: Int, _ text: String) -> Response { self.json(status, ["message": .string(text)]) }

    /// The router's own 404, written before the version middleware runs: no `Api-Version` and friends.
    var pageNotFound: Response {
        Response(
            status: 404,
            headers: [("Content-Type", "application/json")],
            body: .bytes(GoJSON.object([("message", "page not found")]).bytes + [0x0A])
        )
    }

    func empty(_ status: Int) -> Response { Response(status: status, headers: self.versionHeaders, body: .bytes([])) }

    func respond(
        method: String,
        uri: String,
        headers: [(name: String, value: String)],
        body: [UInt8]
    ) -> (Response, [(EventID, EventFields)]) {
        let (path, query) = Self.split(uri)
        var events = HTTPExchange.requestEvents(
            method: method,
            uri: uri,
            body: body,
            kind: "docker-api",
            userAgent: headers.first(where: { $0.name.lowercased() == "user-agent" })?.value
        )
        let parts = path.split(separator: "/").map(String.init)
        if let refusal = self.versionRefusal(uri) { return (refusal, events) }
        let response: Response
        switch (method, parts.first ?? "", parts.count) {
        case ("GET", "_ping", 1), ("HEAD", "_ping", 1):
            // BuildKit is the default builder from 23.0 (API 1.42), which also added the Swarm header.
            let modern = Self.compareVersions(self.configuration.apiVersion, "1.42") >= 0
            var headers =
                self.versionHeaders + [
                    ("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache"),
                ]
            if modern { headers += [("Builder-Version", "2"), ("Swarm", "inactive")] }
            if method == "HEAD" {
                headers += [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "0")]
                response = Response(status: 200, headers: headers, body: .bytes([]))
            } else {
                response = Response(
                    status: 200,
                    headers: headers,
                    body: .bytes(Array("OK".utf8)),
                    sniffedType: "text/plain; charset=utf-8"
                )
            }
        case ("OPTIONS", _, _):
            response = self.empty(200)
        case ("GET", "version", 1):
            response = self.json(200, self.versionDocument)
        case ("GET", "info", 1):
            response = self.json(200, self.info)
        case ("GET", "containers", 2) where parts[1] == "json":
            let all = query["all"] == "1" || query["all"] == "true"
            response = self.json(200, self.containerList(all: all))
        case ("GET", "images", 2) where parts[1] == "json":
            response = self.json(200, self.imageList)
        case ("POST", "containers", 2) where parts[1] == "create":
            (response, events) = self.create(body, name: query["name"], events: events)
        case ("POST", "images", 2) where parts[1] == "create":
            (response, events) = self.pull(query, headers: headers, events: events)
        case ("POST", "containers", 3):
            response = self.containerAction(parts[1], parts[2], body: body, events: &events)
        case ("GET", "containers", 3) where parts[2] == "json":
            response = self.inspect(parts[1])
        case ("GET", "containers", 3) where parts[2] == "logs":
            guard let container = self.container(parts[1]) else {
                response = self.noSuchContainer(parts[1])
                break
            }
            response = Response(
                status: 200,
                headers: self.versionHeaders + [("Content-Type", "application/vnd.docker.raw-stream")],
                body: .bytes(Self.frame(self.logs(container)))
            )
        case ("DELETE", "containers", 2):
            let removed = self.state.state.withLock { state in
                let before = state.containers.count
                state.containers.removeAll { $0.id.hasPrefix(parts[1]) || $0.name == parts[1] }
                return state.containers.count < before
            }
            response = removed ? self.empty(204) : self.noSuchContainer(parts[1])
        case ("POST", "exec", 3) where parts[2] == "start":
            (response, events) = self.startExec(parts[1], headers: headers, events: events)
        case ("GET", "exec", 3) where parts[2] == "json":
            guard let exec = self.state.state.withLock({ $0.execs[parts[1]] }) else {
                response = self.message(404, "No such exec instance: \(parts[1])")
                break
            }
            response = self.json(
                200,
                [
                    "ID": .string(exec.id), "Running": false, "ExitCode": .int(Int(exec.exitCode)),
                    "ProcessConfig": [
                        "tty": false, "entrypoint": .string(exec.command.first ?? ""),
                        "arguments": .strings(Array(exec.command.dropFirst())), "privileged": false,
                    ],
                    "OpenStdin": false, "OpenStderr": true, "OpenStdout": true, "CanRemove": false,
                    "ContainerID": .string(exec.container), "DetachKeys": nil, "Pid": 0,
                ]
            )
        case ("POST", "auth", 1):
            var login = EventFields()
            let document = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
            login.add("username", attackerText: document["username"] as? String ?? "")
            login.add("password", attackerText: document["password"] as? String ?? "", secret: true)
            login.add("method", "registry")
            login.add("registry", attackerText: document["serveraddress"] as? String ?? "")
            events.append((.loginSuccess, login))
            response = self.json(200, ["Status": "Login Succeeded", "IdentityToken": ""])
        default:
            response = self.pageNotFound
        }
        return (response, events)
    }

    /// The version middleware's refusal of a `/v1.NN` prefix the engine does not serve: too new as JSON, too old as
    /// text (`http.Error`), both before the experimental middleware adds its header.
    func versionRefusal(_ uri: String) -> Response? {
        guard uri.hasPrefix("/v"), let slash = uri.dropFirst(2).firstIndex(of: "/") else { return nil }
        let requested = String(uri[uri.index(uri.startIndex, offsetBy: 2)..<slash])
        guard !requested.isEmpty, requested.allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
        let headers = [
            ("Api-Version", self.configuration.apiVersion), ("Ostype", "linux"),
            ("Server", "Docker/\(self.configuration.version) (linux)"),
        ]
        if Self.compareVersions(requested, self.configuration.apiVersion) > 0 {
            let text =
                "client version \(requested) is too new. Maximum supported API version is \(self.configuration.apiVersion)"
            return Response(
                status: 400,
                headers: headers + [("Content-Type", "application/json")],
                body: .bytes(GoJSON.object([("message", .string(text))]).bytes + [0x0A])
            )
        }
        if Self.compareVersions(requested, "1.12") < 0 {
            let text =
                "client version \(requested) is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version"
            return Response(
                status: 400,
                headers: headers + [
                    ("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff"),
                ],
                body: .bytes(Array((text + "\n").utf8))
            )
        }
        return nil
    }

    /// Docker's API version comparison: dot-separated numbers, a missing part counting as 0.
    static func compareVersions(_ a: String, _ b: String) -> Int {
        let left = a.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        let right = b.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        for index in 0..<max(left.count, right.count) {
            let x = index < left.count ? left[index] : 0
            let y = index < right.count ? right[index] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }

    /// The path without its `/v1.NN` prefix, and the query's parameters.
    static func split(_ uri: String) -> (String, [String: String]) {
        let pieces = uri.split(separator: "?", maxSplits: 1)
        var path = String(pieces.first ?? "")
        if path.hasPrefix("/v"), let slash = path.dropFirst(2).firstIndex(of: "/"),
            path[path.index(path.startIndex, offsetBy: 2)..<slash].allSatisfy({ $0.isNumber || $0 == "." })
        {
            path = String(path[slash...])
        }
        var query: [String: String] = [:]
        if pieces.count > 1 {
            for pair in pieces[1].split(separator: "&") {
                // Empty sides kept, as Go's url.ParseQuery keeps them: `=` is the empty key with an empty value
                // (omitting them left `=` with no key at all: an index out of range, found by the fuzzer).
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                query[key] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        }
        return (path, query)
    }

    // MARK: Documents

    var versionDocument: GoJSON {
        let c = self.configuration
        let engine = GoJSON.sortedObject([
            "ApiVersion": .string(c.apiVersion), "Arch": "amd64", "BuildTime": .string(c.release.buildTime),
            "Experimental": "false", "GitCommit": .string(c.gitCommit), "GoVersion": .string(c.goVersion),
            "KernelVersion": .string(c.kernelVersion), "MinAPIVersion": "1.12", "Os": "linux",
        ])
        let release = c.release
        return [
            "Platform": ["Name": .string(release.platform)],
            "Components": [
                ["Name": "Engine", "Version": .string(c.version), "Details": engine],
                [
                    "Name": "containerd", "Version": .string(release.containerd.version),
                    "Details": ["GitCommit": .string(release.containerd.commit)],
                ],
                [
                    "Name": "runc", "Version": .string(release.runc.version),
                    "Details": ["GitCommit": .string(release.runc.commit)],
                ],
                ["Name": "docker-init", "Version": "0.19.0", "Details": ["GitCommit": .string(release.initCommit)]],
            ],
            "Version": .string(c.version), "ApiVersion": .string(c.apiVersion), "MinAPIVersion": "1.12",
            "GitCommit": .string(c.gitCommit), "GoVersion": .string(c.goVersion), "Os": "linux", "Arch": "amd64",
            "KernelVersion": .string(c.kernelVersion), "BuildTime": .string(release.buildTime),
        ]
    }

    /// `/info` in the field order of the engine's `types.Info`, for a Debian 12 host (cgroup v2 under systemd).
    var info: GoJSON {
        let state = self.state.state.withLock { $0 }
        let running = state.containers.filter(\.running).count
        let c = self.configuration
        let release = c.release
        let commit = { (id: String) -> GoJSON in ["ID": .string(id), "Expected": .string(id)] }
        var members: [(String, GoJSON)] = [
            ("ID", .string(c.engineID)), ("Containers", .int(state.containers.count)),
            ("ContainersRunning", .int(running)), ("ContainersPaused", 0),
            ("ContainersStopped", .int(state.containers.count - running)), ("Images", .int(state.images.count)),
            ("Driver", "overlay2"),
            (
                "DriverStatus",
                [
                    ["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"],
                    ["userxattr", "false"],
                ]
            ),
            (
                "Plugins",
                [
                    "Volume": ["local"], "Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
                    "Authorization": nil,
                    "Log": [
                        "awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file", "local", "logentries",
                        "splunk", "syslog",
                    ],
                ]
            ),
            ("MemoryLimit", true), ("SwapLimit", true),
        ]
        if c.apiVersion == "1.41" { members += [("KernelMemory", true), ("KernelMemoryTCP", true)] }
        members += [
            ("CpuCfsPeriod", true), ("CpuCfsQuota", true), ("CPUShares", true), ("CPUSet", true), ("PidsLimit", true),
            ("IPv4Forwarding", true), ("BridgeNfIptables", true), ("BridgeNfIp6tables", true), ("Debug", false),
            ("NFd", .int(28 + 3 * running)), ("OomKillDisable", false), ("NGoroutines", .int(36 + 6 * running)),
            ("SystemTime", .string(Self.goTime(Date()))), ("LoggingDriver", "json-file"), ("CgroupDriver", "systemd"),
            ("CgroupVersion", "2"), ("NEventsListener", 0), ("KernelVersion", .string(c.kernelVersion)),
            ("OperatingSystem", .string(c.operatingSystem)), ("OSVersion", "12"), ("OSType", "linux"),
            ("Architecture", "x86_64"), ("IndexServerAddress", "https://index.docker.io/v1/"),
            (
                "RegistryConfig",
                [
                    "AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                    "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                    "IndexConfigs": [
                        "docker.io": ["Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true]
                    ],
                    "Mirrors": [],
                ]
            ),
            ("NCPU", 4), ("MemTotal", 8_324_685_824), ("GenericResources", nil), ("DockerRootDir", "/var/lib/docker"),
            ("HttpProxy", ""), ("HttpsProxy", ""), ("NoProxy", ""), ("Name", .string(c.hostname)), ("Labels", []),
            ("ExperimentalBuild", false), ("ServerVersion", .string(c.version)),
            (
                "Runtimes",
                c.apiVersion == "1.41"
                    ? [
                        "io.containerd.runc.v2": ["path": "runc"], "io.containerd.runtime.v1.linux": ["path": "runc"],
                        "runc": ["path": "runc"],
                    ]
                    : ["io.containerd.runc.v2": ["path": "runc"], "runc": ["path": "runc"]]
            ),
            ("DefaultRuntime", "runc"),
            (
                "Swarm",
                [
                    "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "",
                    "RemoteManagers": nil,
                ]
            ),
            ("LiveRestoreEnabled", false), ("Isolation", ""), ("InitBinary", "docker-init"),
            ("ContainerdCommit", commit(release.containerd.commit)), ("RuncCommit", commit(release.runc.commit)),
            ("InitCommit", commit(release.initCommit)),
            (
                "SecurityOptions",
                [.string("name=seccomp,profile=" + (c.apiVersion == "1.41" ? "default" : "builtin")), "name=cgroupns"]
            ),
            ("Warnings", .strings(c.warnings)),
        ]
        return .object(members)
    }

    /// Time as Go's `time.Time` marshals it (RFC 3339 with nanoseconds, trailing zeros dropped).
    static func goTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let nanoseconds = Int((date.timeIntervalSince1970 - seconds) * 1_000_000_000)
        var text = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds)).dropLast()
        if nanoseconds > 0 {
            var fraction = String(format: "%09d", nanoseconds)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// A container's endpoint on the default bridge (empty until it has run, as Docker leaves it).
    func endpoint(_ container: DockerEngineState.Container, index: Int) -> GoJSON {
        let up = container.running
        let address = 2 + index % 250
        return [
            "IPAMConfig": nil, "Links": nil, "Aliases": nil,
            "NetworkID": up ? .string(DockerEngineState.id("network bridge " + self.configuration.engineID)) : "",
            "EndpointID": up ? .string(DockerEngineState.id("endpoint " + container.id)) : "",
            "Gateway": up ? "172.17.0.1" : "", "IPAddress": up ? .string("172.17.0.\(address)") : "",
            "IPPrefixLen": up ? 16 : 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": up ? .string(String(format: "02:42:ac:11:00:%02x", address)) : "", "DriverOpts": nil,
        ]
    }

    func containerList(all: Bool) -> GoJSON {
        let containers = self.state.state.withLock { $0.containers }
        let now = self.now()
        return .array(
            containers.enumerated().filter { all || $0.element.running }.reversed().map { index, container in
                [
                    "Id": .string(container.id), "Names": [.string("/" + container.name)],
                    "Image": .string(container.image),
                    "ImageID": .string("sha256:" + DockerEngineState.id(container.image)),
                    "Command": .string(container.command.joined(separator: " ")), "Created": .int(container.created),
                    "Ports": [], "Labels": [:], "State": .string(Self.state(container)),
                    "Status": .string(Self.status(container, now: now)), "HostConfig": ["NetworkMode": "default"],
                    "NetworkSettings": ["Networks": ["bridge": self.endpoint(container, index: index)]],
                    "Mounts": [],
                ]
            }
        )
    }

    static func state(_ container: DockerEngineState.Container) -> String {
        container.running ? "running" : container.started == nil ? "created" : "exited"
    }

    /// What `docker ps` shows in STATUS: Up/Exited and a human duration, as the engine words it.
    static func status(_ container: DockerEngineState.Container, now: Int) -> String {
        if container.running { return "Up " + Self.humanDuration(now - (container.started ?? container.created)) }
        guard container.started != nil else { return "Created" }
        return "Exited (0) " + Self.humanDuration(now - (container.finished ?? now)) + " ago"
    }

    /// A duration in the words of Docker's `units.HumanDuration`.
    static func humanDuration(_ seconds: Int) -> String {
        if seconds < 1 { return "Less than a second" }
        if seconds == 1 { return "1 second" }
        if seconds < 60 { return "\(seconds) seconds" }
        let minutes = seconds / 60
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int((Double(seconds) / 3_600).rounded(.toNearestOrAwayFromZero))
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(seconds / 3_600 / 24 / 365) years"
    }

    /// `/images/json`: the engine's `ImageSummary`, whose fields are in alphabetical order.
    var imageList: GoJSON {
        let images = self.state.state.withLock { $0.images }
        return .array(
            images.sorted { $0.value > $1.value }.map { name, created in
                let size = Self.imageSize(name)
                return [
                    "Containers": -1, "Created": .int(created), "Id": .string("sha256:" + DockerEngineState.id(name)),
                    "Labels": nil, "ParentId": "",
                    "RepoDigests": [
                        .string(name.split(separator: ":")[0] + "@sha256:" + DockerEngineState.id("digest " + name))
                    ],
                    "RepoTags": [.string(name)], "SharedSize": -1, "Size": .int(size), "VirtualSize": .int(size),
                ]
            }
        )
    }

    /// An image's size, the same in every process and on every decky (from its name).
    static func imageSize(_ name: String) -> Int {
        let digest = Array(SHA256.hash(data: Array(("size " + name).utf8)))
        return 7_800_000 + (Int(digest[0]) << 16 | Int(digest[1]) << 8 | Int(digest[2])) * 5
    }

    // MARK: Containers

    func container(_ reference: String) -> DockerEngineState.Container? {
        self.state.state.withLock { state in
            state.containers.first { $0.id.hasPrefix(reference) && reference.count >= 4 || $0.name == reference }
        }
    }

    func noSuchContainer(_ reference: String) -> Response { self.message(404, "No such container: \(reference)") }

    /// An image reference as Docker shows it: the default registry and `library/` dropped, `:latest` added.
    static func normalize(_ image: String) -> String {
        var name = image
        for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] where name.hasPrefix(prefix) {
            name = String(name.dropFirst(prefix.count))
        }
        if name.hasPrefix("library/") && name.split(separator: "/").count == 2 { name = String(name.dropFirst(8)) }
        let last = name.split(separator: "/").last ?? Substring(name)
        return last.contains(":") || last.contains("@") ? name : name + ":latest"
    }

    func create(
        _ body: [UInt8],
        name: String?,
        events: [(EventID, EventFields)]
    ) -> (Response, [(EventID, EventFields)]) {
        var events = events
        guard let document = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let image = document["Image"] as? String, !image.isEmpty
        else {
            return (self.message(400, "config cannot be empty in order to create a container"), events)
        }
        let host = document["HostConfig"] as? [String: Any] ?? [:]
        let command = (document["Entrypoint"] as? [String] ?? []) + (document["Cmd"] as? [String] ?? [])
        var fields = EventFields()
        fields.add("command", "container.create")
        fields.add("image", attackerText: image)
        fields.add("args", attackerText: command.joined(separator: " "))
        if let binds = host["Binds"] as? [String], !binds.isEmpty {
            fields.add("binds", attackerText: binds.joined(separator: ","))
        }
        fields.add("privileged", (host["Privileged"] as? Bool) == true ? "true" : "false")
        if let pid = host["PidMode"] as? String, !pid.isEmpty { fields.add("pid_mode", attackerText: pid) }
        if let network = host["NetworkMode"] as? String, !network.isEmpty {
            fields.add("network_mode", attackerText: network)
        }
        if let env = document["Env"] as? [String], !env.isEmpty {
            fields.add("env", attackerText: env.joined(separator: " "))
        }
        events.append((.commandInput, fields))
        let normalized = Self.normalize(image)
        let known = self.state.state.withLock { $0.images[normalized] != nil }
        guard known else { return (self.message(404, "No such image: \(normalized)"), events) }
        let id = DockerEngineState.id()
        let containerName = name.flatMap { $0.isEmpty ? nil : $0 } ?? Self.randomName(id)
        let stored = self.state.state.withLock { state -> Bool in
            guard state.containers.count < DockerEngineState.maximumContainers else { return false }
            state.containers.append(
                DockerEngineState.Container(
                    id: id,
                    name: containerName,
                    image: normalized,
                    command: command,
                    created: self.now(),
                    running: false,
                    started: nil
                )
            )
            return true
        }
        guard stored else {
            return (self.message(500, "failed to create task for container: insufficient resources"), events)
        }
        return (self.json(201, ["Id": .string(id), "Warnings": []]), events)
    }

    func pull(
        _ query: [String: String],
        headers: [(name: String, value: String)],
        events: [(EventID, EventFields)]
    )
        -> (Response, [(EventID, EventFields)])
    {
        var events = events
        let image = query["fromImage"] ?? ""
        let tag = query["tag"].flatMap { $0.isEmpty ? nil : $0 } ?? "latest"
        let reference =
            image.contains("@") || image.split(separator: "/").last?.contains(":") == true ? image : image + ":" + tag
        var fields = EventFields()
        fields.add("command", "image.pull")
        fields.add("image", attackerText: Self.normalize(reference))
        events.append((.commandInput, fields))
        if let auth = headers.first(where: { $0.name.lowercased() == "x-registry-auth" })?.value,
            let decoded = Data(base64Encoded: Self.paddedBase64(auth)),
            let credentials = (try? JSONSerialization.jsonObject(with: decoded)) as? [String: Any],
            let user = credentials["username"] as? String, !user.isEmpty
        {
            var login = EventFields()
            login.add("username", attackerText: user)
            login.add("password", attackerText: credentials["password"] as? String ?? "", secret: true)
            login.add("method", "registry")
            login.add("registry", attackerText: credentials["serveraddress"] as? String ?? "")
            events.append((.loginSuccess, login))
        }
        guard !image.isEmpty else { return (self.message(400, "invalid reference format"), events) }
        self.state.state.withLock { state in
            if state.images.count < 64 { state.images[Self.normalize(reference)] = self.now() }
        }
        let layer = String(DockerEngineState.id("layer " + reference).prefix(12))
        let familiar = Self.normalize(reference)
        let name = familiar.split(separator: ":").first.map(String.init) ?? familiar
        // jsonmessage.JSONMessage's field order: status, progressDetail, progress, id.
        let layerID = GoJSON.string(layer)
        let lines: [GoJSON] = [
            ["status": .string("Pulling from " + (name.contains("/") ? name : "library/" + name)), "id": .string(tag)],
            ["status": "Pulling fs layer", "progressDetail": [:], "id": layerID],
            [
                "status": "Downloading", "progressDetail": ["current": 1_048_576, "total": 3_408_729],
                "progress": "[===============>                                   ]  1.049MB/3.409MB", "id": layerID,
            ],
            ["status": "Download complete", "progressDetail": [:], "id": layerID],
            ["status": "Pull complete", "progressDetail": [:], "id": layerID],
            ["status": .string("Digest: sha256:" + DockerEngineState.id("digest " + reference))],
            ["status": .string("Status: Downloaded newer image for " + familiar)],
        ]
        let chunks = lines.map { $0.bytes + [0x0D, 0x0A] }
        return (
            Response(
                status: 200,
                headers: self.versionHeaders + [("Content-Type", "application/json")],
                body: .chunked(chunks)
            ), events
        )
    }

    static func paddedBase64(_ text: String) -> String {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return standard
    }

    func containerAction(
        _ reference: String,
        _ action: String,
        body: [UInt8],
        events: inout [(EventID, EventFields)]
    ) -> Response {
        guard let container = self.container(reference) else { return self.noSuchContainer(reference) }
        var fields = EventFields()
        fields.add("command", "container." + action)
        fields.add("args", attackerText: container.id.prefix(12) + " " + container.command.joined(separator: " "))
        events.append((.commandInput, fields))
        switch action {
        case "start", "restart", "unpause":
            self.setRunning(container.id, true)
            return self.empty(204)
        case "stop", "kill", "pause":
            self.setRunning(container.id, false)
            return self.empty(204)
        case "wait":
            return self.json(200, ["Error": nil, "StatusCode": 0])
        case "exec":
            let document = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
            let command = document["Cmd"] as? [String] ?? []
            guard container.running else {
                return self.message(409, "Container \(container.id) is not running")
            }
            let (output, status, shellEvents) = self.run(command, in: container)
            events += shellEvents
            let id = DockerEngineState.id()
            let stored = self.state.state.withLock { state -> Bool in
                guard state.execs.count < DockerEngineState.maximumExecs else { return false }
                state.execs[id] = DockerEngineState.Exec(
                    id: id,
                    container: container.id,
                    command: command,
                    output: output,
                    exitCode: status
                )
                return true
            }
            return stored ? self.json(201, ["Id": .string(id)]) : self.message(500, "too many exec instances")
        case "attach":
            return Response(
                status: 101,
                headers: [
                    ("Content-Type", "application/vnd.docker.raw-stream"), ("Connection", "Upgrade"),
                    ("Upgrade", "tcp"),
                ],
                body: .hijacked(Self.frame(self.logs(container)))
            )
        case "resize", "rename", "update":
            return self.empty(200)
        default:
            return self.pageNotFound
        }
    }

    func setRunning(_ id: String, _ running: Bool) {
        let now = self.now()
        self.state.state.withLock { state in
            if let index = state.containers.firstIndex(where: { $0.id == id }),
                state.containers[index].running != running
            {
                state.containers[index].running = running
                if running { state.containers[index].started = now } else { state.containers[index].finished = now }
            }
        }
    }

    /// `/containers/<id>/json` in the field order of the engine's `ContainerJSON`.
    func inspect(_ reference: String) -> Response {
        guard let container = self.container(reference) else { return self.noSuchContainer(reference) }
        let index = self.state.state.withLock { $0.containers.firstIndex { $0.id == container.id } } ?? 0
        let time = { (seconds: Int?) -> GoJSON in
            .string(
                seconds.map { Self.goTime(Date(timeIntervalSince1970: TimeInterval($0))) } ?? "0001-01-01T00:00:00Z"
            )
        }
        let id = container.id
        let layer = "/var/lib/docker/overlay2/" + DockerEngineState.id("layer " + id)
        let lower = "/var/lib/docker/overlay2/" + DockerEngineState.id("image layer " + container.image)
        let ran = container.started != nil
        let endpoint = self.endpoint(container, index: index)
        let field = { (name: String) -> GoJSON in
            if case .object(let members) = endpoint { return members.first { $0.0 == name }?.1 ?? "" }
            return ""
        }
        let hostConfig: GoJSON = [
            "Binds": nil, "ContainerIDFile": "", "LogConfig": ["Type": "json-file", "Config": [:]],
            "NetworkMode": "default", "PortBindings": [:], "RestartPolicy": ["Name": "no", "MaximumRetryCount": 0],
            "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": nil, "CapAdd": nil, "CapDrop": nil,
            "CgroupnsMode": "private", "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": nil,
            "GroupAdd": nil, "IpcMode": "private", "Cgroup": "", "Links": nil, "OomScoreAdj": 0, "PidMode": "",
            "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false, "SecurityOpt": nil,
            "UTSMode": "", "UsernsMode": "", "ShmSize": 67_108_864, "Runtime": "runc", "ConsoleSize": [0, 0],
            "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
            "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
            "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
            "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
            "DeviceCgroupRules": nil, "DeviceRequests": nil, "KernelMemory": 0, "KernelMemoryTCP": 0,
            "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": nil, "OomKillDisable": false,
            "PidsLimit": nil, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
            "MaskedPaths": [
                "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
            ],
            "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        ]
        let document: GoJSON = [
            "Id": .string(id), "Created": time(container.created), "Path": .string(container.command.first ?? ""),
            "Args": .strings(Array(container.command.dropFirst())),
            "State": [
                "Status": .string(Self.state(container)), "Running": .bool(container.running), "Paused": false,
                "Restarting": false, "OOMKilled": false, "Dead": false,
                "Pid": container.running ? .int(2_000 + 37 * index) : 0, "ExitCode": 0, "Error": "",
                "StartedAt": time(container.started), "FinishedAt": time(container.finished),
            ],
            "Image": .string("sha256:" + DockerEngineState.id(container.image)),
            "ResolvConfPath": ran ? .string("/var/lib/docker/containers/\(id)/resolv.conf") : "",
            "HostnamePath": ran ? .string("/var/lib/docker/containers/\(id)/hostname") : "",
            "HostsPath": ran ? .string("/var/lib/docker/containers/\(id)/hosts") : "",
            "LogPath": ran ? .string("/var/lib/docker/containers/\(id)/\(id)-json.log") : "",
            "Name": .string("/" + container.name), "RestartCount": 0, "Driver": "overlay2", "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": ran ? "docker-default" : "", "ExecIDs": nil,
            "HostConfig": hostConfig,
            "GraphDriver": [
                "Data": [
                    "LowerDir": .string("\(layer)-init/diff:\(lower)/diff"), "MergedDir": .string(layer + "/merged"),
                    "UpperDir": .string(layer + "/diff"), "WorkDir": .string(layer + "/work"),
                ],
                "Name": "overlay2",
            ],
            "Mounts": [],
            "Config": [
                "Hostname": .string(String(id.prefix(12))), "Domainname": "", "User": "", "AttachStdin": false,
                "AttachStdout": true, "AttachStderr": true, "Tty": false, "OpenStdin": false, "StdinOnce": false,
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": .strings(container.command), "Image": .string(container.image), "Volumes": nil,
                "WorkingDir": "", "Entrypoint": nil, "OnBuild": nil, "Labels": [:],
            ],
            "NetworkSettings": [
                "Bridge": "", "SandboxID": container.running ? .string(DockerEngineState.id("sandbox " + id)) : "",
                "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": [:],
                "SandboxKey": container.running
                    ? .string("/var/run/docker/netns/" + DockerEngineState.id("sandbox " + id).prefix(12)) : "",
                "SecondaryIPAddresses": nil, "SecondaryIPv6Addresses": nil, "EndpointID": field("EndpointID"),
                "Gateway": field("Gateway"), "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "IPAddress": field("IPAddress"), "IPPrefixLen": field("IPPrefixLen"), "IPv6Gateway": "",
                "MacAddress": field("MacAddress"), "Networks": ["bridge": endpoint],
            ],
        ]
        return self.json(200, document)
    }

    /// An exec's start: with `Upgrade: tcp` (the CLI attaching), 101 and the command's output multiplexed on the raw
    /// stream; detached, 200.
    func startExec(
        _ id: String,
        headers: [(name: String, value: String)],
        events: [(EventID, EventFields)]
    )
        -> (Response, [(EventID, EventFields)])
    {
        guard let exec = self.state.state.withLock({ $0.execs[id] }) else {
            return (self.message(404, "No such exec instance: \(id)"), events)
        }
        let upgrade = headers.contains { $0.name.lowercased() == "upgrade" && $0.value.lowercased() == "tcp" }
        guard upgrade else { return (self.empty(200), events) }
        return (
            Response(
                status: 101,
                headers: [
                    ("Content-Type", "application/vnd.docker.raw-stream"), ("Connection", "Upgrade"),
                    ("Upgrade", "tcp"),
                ],
                body: .hijacked(Self.frame(exec.output))
            ), events
        )
    }

    /// Output in Docker's multiplexed stream framing (stdout, length-prefixed), as a container without a TTY
    /// sends it.
    static func frame(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return [] }
        let length = UInt32(bytes.count)
        return [
            1, 0, 0, 0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
            UInt8(length & 0xFF),
        ] + bytes
    }

    /// What a container's own command printed, as far as the fake shell can tell.
    func logs(_ container: DockerEngineState.Container) -> String {
        let shellWrapped =
            container.command.count >= 3 && ["sh", "/bin/sh", "bash", "/bin/bash"].contains(container.command[0])
            && container.command[1] == "-c"
        guard shellWrapped else { return "" }
        return self.run(Array(container.command), in: container).0
    }

    /// Runs a command through the fake shell of an Alpine-like container (`sh -c "…"` unwrapped).
    func run(
        _ command: [String],
        in container: DockerEngineState.Container
    ) -> (String, Int32, [(EventID, EventFields)]) {
        var line = command.joined(separator: " ")
        if command.count >= 3, ["sh", "/bin/sh", "bash", "/bin/bash", "ash"].contains(command[0]), command[1] == "-c" {
            line = command[2...].joined(separator: " ")
        }
        var profile = self.configuration.profile
        profile.hostname = String(container.id.prefix(12))
        if container.image.hasPrefix("alpine") || container.image.contains("/alpine"),
            let alpine = DistroCatalogue.profile(for: "alpine")
        {
            profile.distro = alpine
        }
        var shell = FakeShell(profile: profile, user: "root")
        var output = ""
        var status: Int32 = 0
        var events: [(EventID, EventFields)] = []
        for part in line.split(separator: ";").map({ String($0).trimmingCharacters(in: .whitespaces) })
        where !part.isEmpty {
            let result = shell.execute(part)
            output += result.output
            status = result.status
            events += result.events
        }
        return (output.replacingOccurrences(of: "\r\n", with: "\n"), status, events)
    }

    static func randomName(_ id: String) -> String {
        let adjectives = [
            "admiring", "brave", "eager", "festive", "jolly", "nifty", "quirky", "sharp", "vibrant", "zealous",
        ]
        let names = [
            "babbage", "curie", "darwin", "euler", "hopper", "lovelace", "noether", "pasteur", "tesla", "turing",
        ]
        let bytes = Array(id.utf8)
        return adjectives[Int(bytes[0]) % adjectives.count] + "_" + names[Int(bytes[1]) % names.count]
    }
}
