import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization
import Testing

@testable import DecnetServices

/// The Docker Engine API as the docker CLI drives it: negotiation, the pull-then-create dance of `docker run`,
/// exec output in Docker's stream framing, captured payloads and registry credentials, hostile bodies.
@Suite struct DockerEngineAPITests {
    static func api() throws -> DockerEngineAPI {
        let context = ServiceContext(
            decky: "decky-devops",
            hostname: "build-01",
            service: "docker_api",
            persona: ["docker_version": "24.0.7"],
            sink: DiscardingEventSink(),
            osFamily: .linux,
            distro: "debian"
        )
        return try DockerAPIService(context: context).api
    }

    static func call(
        _ api: DockerEngineAPI,
        _ method: String,
        _ uri: String,
        body: String = "",
        headers: [(name: String, value: String)] = []
    )
        -> (DockerEngineAPI.Response, [(EventID, EventFields)])
    {
        api.respond(method: method, uri: uri, headers: headers, body: Array(body.utf8))
    }

    static func json(_ response: DockerEngineAPI.Response) -> [String: Any] {
        guard case .bytes(let bytes) = response.body else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    static func field(_ events: [(EventID, EventFields)], _ id: EventID, _ name: String) -> String? {
        events.last { $0.0 == id && $0.1.fields.contains { $0.name == name } }?.1.fields.first { $0.name == name }?
            .value
    }

    /// Query strings as Go's url.ParseQuery reads them, empty keys and values too: `=` once trapped (index out of
    /// range), found by the fuzzer (Fuzz/crashes/docker-api/crash-523bcb4f…, replayed by FuzzReplayTests).
    @Test func queriesWithEmptyKeysAndValuesAreRead() {
        let (path, query) = DockerEngineAPI.split("/v1.43/containers/json?=&all=1&=x&size=&&limit")
        #expect(path == "/containers/json")
        #expect(query == ["": "x", "all": "1", "size": "", "limit": ""])
        #expect(DockerEngineAPI.split("/_ping?=").1 == ["": ""])
    }

    @Test func pingAndVersionNegotiateAsDockerd() throws {
        let api = try Self.api()
        let (ping, _) = Self.call(api, "HEAD", "/_ping")
        #expect(ping.status == 200 && ping.headers.contains { $0 == ("Api-Version", "1.43") })
        #expect(ping.headers.contains { $0 == ("Server", "Docker/24.0.7 (linux)") })
        let (version, _) = Self.call(api, "GET", "/v1.43/version")
        let document = Self.json(version)
        #expect(document["Version"] as? String == "24.0.7" && document["ApiVersion"] as? String == "1.43")
        #expect(document["GitCommit"] as? String == "311b9ff" && document["MinAPIVersion"] as? String == "1.12")
        #expect(
            Self.json(Self.call(api, "GET", "/version").0)["Version"] as? String == "24.0.7",
            "nmap's docker-version asks without a prefix"
        )
        if case .bytes(let bytes) = version.body { #expect(bytes.last == 0x0A, "Go's encoder ends with a newline") }
    }

    @Test func runIsPullCreateStartAndEveryPayloadIsRecorded() throws {
        let api = try Self.api()
        let create =
            #"{"Image":"alpine","Cmd":["sh","-c","id; uname -a"],"HostConfig":{"Binds":["/:/host"],"Privileged":true,"PidMode":"host"}}"#
        let (missing, events) = Self.call(api, "POST", "/v1.43/containers/create", body: create)
        #expect(missing.status == 404 && Self.json(missing)["message"] as? String == "No such image: alpine:latest")
        #expect(
            Self.field(events, .commandInput, "binds") == "/:/host"
                && Self.field(events, .commandInput, "privileged") == "true"
        )
        #expect(
            Self.field(events, .commandInput, "pid_mode") == "host"
                && Self.field(events, .commandInput, "image") == "alpine"
        )
        let auth = Data(#"{"username":"robot","password":"hunter2","serveraddress":"registry.example.com"}"#.utf8)
            .base64EncodedString()
        let (pull, pullEvents) = Self.call(
            api,
            "POST",
            "/v1.43/images/create?fromImage=alpine&tag=latest",
            headers: [("X-Registry-Auth", auth)]
        )
        guard case .chunked(let chunks) = pull.body else {
            Issue.record("not streamed")
            return
        }
        #expect(String(decoding: chunks.last ?? [], as: UTF8.self).contains("Downloaded newer image for alpine:latest"))
        #expect(Self.field(pullEvents, .loginSuccess, "password") == "hunter2")
        let (created, _) = Self.call(api, "POST", "/v1.43/containers/create?name=miner", body: create)
        #expect(created.status == 201)
        let id = try #require(Self.json(created)["Id"] as? String)
        #expect(id.count == 64)
        #expect(Self.call(api, "POST", "/v1.43/containers/\(id.prefix(12))/start").0.status == 204)
        let (list, _) = Self.call(api, "GET", "/v1.43/containers/json")
        guard case .bytes(let bytes) = list.body,
            let containers = try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]]
        else {
            Issue.record("no list")
            return
        }
        #expect(containers.first?["Names"] as? [String] == ["/miner"] && containers.count == 4)
        // The container's logs are its command's output, from the fake shell.
        let (logs, _) = Self.call(api, "GET", "/v1.43/containers/\(id)/logs?stdout=1")
        guard case .bytes(let framed) = logs.body else {
            Issue.record("no logs")
            return
        }
        #expect(framed.first == 1 && String(decoding: framed.dropFirst(8), as: UTF8.self).contains("uid=0(root)"))
    }

    @Test func execRunsInTheFakeShellAndStreamsItsOutput() throws {
        let api = try Self.api()
        let (list, _) = Self.call(api, "GET", "/containers/json")
        guard case .bytes(let bytes) = list.body,
            let first = (try JSONSerialization.jsonObject(with: Data(bytes)) as? [[String: Any]])?.first,
            let container = first["Id"] as? String
        else {
            Issue.record("no container")
            return
        }
        let (created, events) = Self.call(
            api,
            "POST",
            "/v1.43/containers/\(container)/exec",
            body: #"{"AttachStdout":true,"Cmd":["cat","/etc/hostname"]}"#
        )
        #expect(
            events.contains {
                $0.0 == .commandInput && $0.1.fields.contains { $0.name == "command" && $0.value == "container.exec" }
            }
        )
        let exec = try #require(Self.json(created)["Id"] as? String)
        let (started, _) = Self.call(
            api,
            "POST",
            "/v1.43/exec/\(exec)/start",
            body: #"{"Detach":false,"Tty":false}"#,
            headers: [("Connection", "Upgrade"), ("Upgrade", "tcp")]
        )
        #expect(started.status == 101)
        guard case .hijacked(let raw) = started.body else {
            Issue.record("not hijacked")
            return
        }
        #expect(
            Array(raw.prefix(4)) == [1, 0, 0, 0]
                && String(decoding: raw.dropFirst(8), as: UTF8.self).hasPrefix(String(container.prefix(12)))
        )
        #expect(Self.json(Self.call(api, "GET", "/v1.43/exec/\(exec)/json").0)["ExitCode"] as? Int == 0)
    }

    @Test func hostileRequestsGetDockerdsErrors() throws {
        let api = try Self.api()
        #expect(Self.call(api, "POST", "/v1.43/containers/create", body: "{not json").0.status == 400)
        #expect(Self.call(api, "POST", "/containers/nope/start").0.status == 404)
        #expect(Self.call(api, "GET", "/v1.43/../../etc/passwd").0.status == 404)
        #expect(Self.call(api, "POST", "/exec/zzz/start").0.status == 404)
        #expect(
            Self.call(api, "POST", "/images/create?fromImage=x", headers: [("X-Registry-Auth", "!!!")]).0.status == 200
        )
        var generator = SeededGenerator(seed: 2375)
        let sample = Array(#"{"Image":"alpine","Cmd":["sh","-c","id"],"HostConfig":{"Binds":["/:/h"]}}"#.utf8)
        for _ in 0..<2000 {
            var body = sample
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                body[Int.random(in: 0..<body.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = api.respond(method: "POST", uri: "/v1.43/containers/create", headers: [], body: body)
        }
        #expect(api.state.state.withLock { $0.containers.count } <= DockerEngineState.maximumContainers)
    }
}
