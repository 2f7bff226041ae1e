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

    init(started: Int) {
        var state = State()
        state.images = [
            "nginx:1.25": started - 40 * 86_400, "redis:7.2": started - 40 * 86_400,
            "postgres:15": started - 38 * 86_400,
        ]
        state.containers = [
            Container(
                id: Self.id("web"),
                name: "web",
                image: "nginx:1.25",
                command: ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
                created: started - 21 * 86_400,
                running: true
            ),
            Container(
                id: Self.id("cache"),
                name: "cache",
                image: "redis:7.2",
                command: ["docker-entrypoint.sh", "redis-server"],
                created: started - 21 * 86_400,
                running: true
            ),
            Container(
                id: Self.id("db"),
                name: "db",
                image: "postgres:15",
                command: ["docker-entrypoint.sh", "postgres"],
                created: started - 20 * 86_400,
                running: true
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

    func json(_ status: Int, _ value: Any) -> Response {
        let data =
            (try? JSONSerialization.data(withJSONObject: value, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: self.versionHeaders + [("Content-Type", "application/json")],
            body: .bytes(Array(data) + [0x0A])
        )
    }

    func message(_ status: Int, _ text: String) -> Response { self.json(status, ["message": text]) }

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
        let response: Response
        switch (method, parts.first ?? "", parts.count) {
        case ("GET", "_ping", 1), ("HEAD", "_ping", 1):
            response = Response(
                status: 200,
                headers: self.versionHeaders + [
                    ("Builder-Version", "2"), ("Cache-Control", "no-cache, no-store, must-revalidate"),
                    ("Content-Type", "text/plain; charset=utf-8"), ("Pragma", "no-cache"),
                ],
                body: .bytes(method == "HEAD" ? [] : Array("OK".utf8))
            )
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
                    "ID": exec.id, "Running": false, "ExitCode": Int(exec.exitCode), "ContainerID": exec.container,
                    "Pid": 0, "OpenStdin": false, "OpenStdout": true, "OpenStderr": true,
                    "ProcessConfig": [
                        "entrypoint": exec.command.first ?? "", "arguments": Array(exec.command.dropFirst()),
                        "privileged": false, "tty": false, "user": "",
                    ],
                ] as [String: Any]
            )
        case ("POST", "auth", 1):
            var login = EventFields()
            let document = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
            login.add("username", attackerText: document["username"] as? String ?? "")
            login.add("password", attackerText: document["password"] as? String ?? "", secret: true)
            login.add("method", "registry")
            login.add("registry", attackerText: document["serveraddress"] as? String ?? "")
            events.append((.loginSuccess, login))
            response = self.json(200, ["IdentityToken": "", "Status": "Login Succeeded"])
        default:
            response = self.message(404, "page not found")
        }
        return (response, events)
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
                let kv = pair.split(separator: "=", maxSplits: 1)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                query[key] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        }
        return (path, query)
    }

    // MARK: Documents

    var versionDocument: [String: Any] {
        let c = self.configuration
        let buildTime = "2023-10-26T09:07:41.000000000+00:00"
        return [
            "Platform": ["Name": "Docker Engine - Community"],
            "Components": [
                [
                    "Name": "Engine", "Version": c.version,
                    "Details": [
                        "ApiVersion": c.apiVersion, "Arch": "amd64", "BuildTime": buildTime, "Experimental": "false",
                        "GitCommit": c.gitCommit, "GoVersion": c.goVersion, "KernelVersion": c.kernelVersion,
                        "MinAPIVersion": "1.12", "Os": "linux",
                    ],
                ],
                [
                    "Name": "containerd", "Version": "1.6.24",
                    "Details": ["GitCommit": "61f9fd88f79f081d64d6fa3bb1a0dc71ec870523"],
                ],
                ["Name": "runc", "Version": "1.1.9", "Details": ["GitCommit": "v1.1.9-0-gccaecfc"]],
                ["Name": "docker-init", "Version": "0.19.0", "Details": ["GitCommit": "de40ad0"]],
            ],
            "Version": c.version, "ApiVersion": c.apiVersion, "MinAPIVersion": "1.12", "GitCommit": c.gitCommit,
            "GoVersion": c.goVersion, "Os": "linux", "Arch": "amd64", "KernelVersion": c.kernelVersion,
            "BuildTime": buildTime,
        ]
    }

    var info: [String: Any] {
        let state = self.state.state.withLock { $0 }
        let running = state.containers.filter(\.running).count
        let c = self.configuration
        return [
            "ID": "5N4Q:" + String(DockerEngineState.id(c.hostname).prefix(20)).uppercased(),
            "Containers": state.containers.count, "ContainersRunning": running,
            "ContainersPaused": 0, "ContainersStopped": state.containers.count - running,
            "Images": state.images.count, "Driver": "overlay2",
            "DriverStatus": [
                ["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"],
                ["Native Overlay Diff", "true"], ["userxattr", "false"],
            ],
            "MemoryLimit": true, "SwapLimit": false, "CpuCfsPeriod": true, "CpuCfsQuota": true, "CPUShares": true,
            "CPUSet": true, "PidsLimit": true, "IPv4Forwarding": true, "Debug": false, "NFd": 42,
            "OomKillDisable": true, "NGoroutines": 58, "SystemTime": ISO8601DateFormatter().string(from: Date()),
            "LoggingDriver": "json-file", "CgroupDriver": "systemd", "CgroupVersion": "2", "NEventsListener": 0,
            "KernelVersion": c.kernelVersion, "OperatingSystem": c.operatingSystem, "OSVersion": "12",
            "OSType": "linux", "Architecture": "x86_64", "IndexServerAddress": "https://index.docker.io/v1/",
            "NCPU": 4, "MemTotal": 8_324_685_824, "DockerRootDir": "/var/lib/docker", "HttpProxy": "",
            "HttpsProxy": "", "NoProxy": "", "Name": c.hostname, "Labels": [String](), "ExperimentalBuild": false,
            "ServerVersion": c.version,
            "Runtimes": ["io.containerd.runc.v2": ["path": "runc"], "runc": ["path": "runc"]],
            "DefaultRuntime": "runc",
            "Swarm": [
                "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "",
                "RemoteManagers": NSNull(),
            ],
            "LiveRestoreEnabled": false, "Isolation": "", "InitBinary": "docker-init",
            "ContainerdCommit": [
                "ID": "61f9fd88f79f081d64d6fa3bb1a0dc71ec870523",
                "Expected": "61f9fd88f79f081d64d6fa3bb1a0dc71ec870523",
            ],
            "RuncCommit": ["ID": "v1.1.9-0-gccaecfc", "Expected": "v1.1.9-0-gccaecfc"],
            "InitCommit": ["ID": "de40ad0", "Expected": "de40ad0"],
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"], "Warnings": [String](),
        ]
    }

    func containerList(all: Bool) -> [[String: Any]] {
        let containers = self.state.state.withLock { $0.containers }
        return containers.filter { all || $0.running }.reversed().map { container in
            [
                "Id": container.id, "Names": ["/" + container.name], "Image": container.image,
                "ImageID": "sha256:" + DockerEngineState.id(container.image),
                "Command": container.command.joined(separator: " "),
                "Created": container.created, "Ports": [[String: Any]](), "Labels": [String: String](),
                "State": container.running ? "running" : "exited",
                "Status": container.running ? Self.age(self.now() - container.created) : "Exited (0) 2 minutes ago",
                "HostConfig": ["NetworkMode": "default"], "Mounts": [[String: Any]](),
                "NetworkSettings": ["Networks": ["bridge": ["IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"]]],
            ] as [String: Any]
        }
    }

    static func age(_ seconds: Int) -> String {
        if seconds < 60 { return "Up Less than a second" }
        if seconds < 3_600 { return "Up \(seconds / 60) minutes" }
        if seconds < 2 * 86_400 { return "Up \(seconds / 3_600) hours" }
        return "Up \(seconds / 86_400) days"
    }

    var imageList: [[String: Any]] {
        let images = self.state.state.withLock { $0.images }
        return images.sorted { $0.value > $1.value }.map { name, created in
            [
                "Id": "sha256:" + DockerEngineState.id(name), "ParentId": "", "RepoTags": [name],
                "RepoDigests": [name.split(separator: ":")[0] + "@sha256:" + DockerEngineState.id("digest " + name)],
                "Created": created, "Size": 7_800_000 + abs(name.hashValue % 100_000_000), "SharedSize": -1,
                "Labels": NSNull(), "Containers": -1,
            ] as [String: Any]
        }
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
                    running: false
                )
            )
            return true
        }
        guard stored else {
            return (self.message(500, "failed to create task for container: insufficient resources"), events)
        }
        return (self.json(201, ["Id": id, "Warnings": [String]()]), events)
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
        let lines: [[String: Any]] = [
            ["status": "Pulling from " + (name.contains("/") ? name : "library/" + name), "id": tag],
            ["status": "Pulling fs layer", "progressDetail": [String: Any](), "id": layer],
            [
                "status": "Downloading", "progressDetail": ["current": 1_048_576, "total": 3_408_729],
                "progress": "[===============>                                   ]  1.049MB/3.409MB", "id": layer,
            ],
            ["status": "Download complete", "progressDetail": [String: Any](), "id": layer],
            ["status": "Pull complete", "progressDetail": [String: Any](), "id": layer],
            ["status": "Digest: sha256:" + DockerEngineState.id("digest " + reference)],
            ["status": "Status: Downloaded newer image for " + familiar],
        ]
        let chunks = lines.map { line in
            Array((try? JSONSerialization.data(withJSONObject: line, options: [.withoutEscapingSlashes])) ?? Data()) + [
                0x0D, 0x0A,
            ]
        }
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
            return self.json(200, ["Error": NSNull(), "StatusCode": 0])
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
            return stored ? self.json(201, ["Id": id]) : self.message(500, "too many exec instances")
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
            return self.message(404, "page not found")
        }
    }

    func setRunning(_ id: String, _ running: Bool) {
        self.state.state.withLock { state in
            if let index = state.containers.firstIndex(where: { $0.id == id }) {
                state.containers[index].running = running
            }
        }
    }

    func inspect(_ reference: String) -> Response {
        guard let container = self.container(reference) else { return self.noSuchContainer(reference) }
        let created = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(container.created)))
        return self.json(
            200,
            [
                "Id": container.id, "Created": created, "Path": container.command.first ?? "",
                "Args": Array(container.command.dropFirst()), "Name": "/" + container.name,
                "Image": "sha256:" + DockerEngineState.id(container.image),
                "State": [
                    "Status": container.running ? "running" : "exited", "Running": container.running, "Paused": false,
                    "Restarting": false, "OOMKilled": false, "Dead": false, "Pid": container.running ? 4_242 : 0,
                    "ExitCode": 0, "Error": "", "StartedAt": created, "FinishedAt": "0001-01-01T00:00:00Z",
                ],
                "Config": [
                    "Hostname": String(container.id.prefix(12)), "Image": container.image, "Cmd": container.command,
                    "Tty": false, "OpenStdin": false,
                    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                ],
                "HostConfig": ["NetworkMode": "default", "Privileged": false, "Binds": NSNull()],
                "Driver": "overlay2", "Platform": "linux", "RestartCount": 0, "Mounts": [[String: Any]](),
                "NetworkSettings": [
                    "IPAddress": "172.17.0.2", "Gateway": "172.17.0.1", "MacAddress": "02:42:ac:11:00:02",
                ],
            ] as [String: Any]
        )
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
