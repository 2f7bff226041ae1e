import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The elasticsearch service against curl (the ransom pattern end to end: list, dump, delete, note) and nmap -sV.
@Suite struct ElasticsearchLiveTests {
    static let curl = ExternalTool("curl", package: "curl")

    @Test(.enabled(if: curl.isUsable && ExternalTool.nmap.isUsable, "needs curl and nmap (required under CI)"))
    func curlRansomsAnOpenClusterAndEveryStepIsRecorded() async throws {
        let curl = try #require(Self.curl.path, "\(Self.curl.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "elasticsearch",
            persona: ["es_version": "7.10.2", "cluster_name": "corp-logs"],
            host: "127.77.19.30",
            port: 9200,
            osFamily: .linux,
            hostname: "es01"
        )
        let base = "http://127.77.19.30:9200"
        let root = try await ProcessRunner.run(curl, ["-s", base + "/"])
        #expect(root.standardOutput.contains("\"number\" : \"7.10.2\""), "\(root.standardOutput)")
        let indices = try await ProcessRunner.run(curl, ["-s", base + "/_cat/indices?v"])
        #expect(indices.standardOutput.hasPrefix("health status index"), "\(indices.standardOutput)")
        let dump = try await ProcessRunner.run(curl, ["-s", base + "/customers/_search?size=100"])
        #expect(dump.standardOutput.contains("\"total\":{\"value\":24"), "\(dump.standardOutput)")
        let delete = try await ProcessRunner.run(curl, ["-s", "-X", "DELETE", base + "/customers"])
        #expect(delete.standardOutput == #"{"acknowledged":true}"#, "\(delete.standardOutput)")
        let note = try await ProcessRunner.run(
            curl,
            [
                "-s", "-X", "POST", "-H", "Content-Type: application/json", base + "/read_me/_doc/1", "-d",
                #"{"message":"Your data is backed up. Pay 0.05 BTC to restore it."}"#,
            ]
        )
        #expect(note.standardOutput.contains("\"result\":\"created\""), "\(note.standardOutput)")
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "9200", "127.77.19.30"])
        await service.stop()
        #expect(scan.standardOutput.contains("Elasticsearch REST API 7.10.2"), "\(scan.standardOutput)")
        let commands = service.capture.events(.commandInput)
        #expect(commands.contains { $0[field: "command"] == "index.delete" && $0[field: "deleted"] == "customers" })
        #expect(commands.contains { $0[field: "command"] == "document.index" && $0[field: "args"] == "read_me/1" })
        #expect(
            service.capture.events(.payloadReceived).contains { $0[field: "preview"]?.contains("0.05 BTC") == true }
        )
        #expect(
            service.capture.events(.clientFingerprint).contains { $0[field: "user_agent"]?.hasPrefix("curl/") == true }
        )
    }

    /// The official Python client (elasticsearch-py 8, which refuses a server without Elasticsearch's product
    /// header) logs in, lists, dumps, deletes and leaves a note: each step recorded, with the client named.
    @Test(
        .enabled(
            if: ExternalTool.pythonCanImport("elasticsearch") || ExternalTool.isCI,
            "needs the elasticsearch Python client (PyPI; .ci/run installs it)"
        )
    )
    func theOfficialPythonClientRansomsTheCluster() async throws {
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        let service = try await LiveService.start(
            "elasticsearch",
            persona: ["es_version": "8.12.2", "cluster_name": "corp-logs", "users": "elastic:changeme"],
            host: "127.77.27.20",
            port: 9200,
            osFamily: .linux,
            hostname: "es-01"
        )
        let script = """
            import warnings; warnings.simplefilter("ignore")
            from elasticsearch import Elasticsearch
            es = Elasticsearch("http://127.77.27.20:9200", basic_auth=("elastic", "changeme"), request_timeout=30, max_retries=0)
            info = es.info()
            print("cluster", info["cluster_name"], info["version"]["number"])
            indices = sorted(i["index"] for i in es.cat.indices(format="json"))
            print("indices", ",".join(indices))
            hits = es.search(index="customers", query={"match_all": {}}, size=100)["hits"]
            print("dumped", hits["total"]["value"], len(hits["hits"]))
            es.indices.delete(index="customers")
            es.index(index="read_me", document={"message": "Send 0.01 BTC to recover your data"})
            print("after", ",".join(sorted(i["index"] for i in es.cat.indices(format="json"))))
            """
        let run = try await ProcessRunner.run(python, ["-c", script])
        await service.stop()
        let output = run.standardOutput
        #expect(output.contains("cluster corp-logs 8.12.2\n"), "\(output)\(run.standardError)")
        #expect(output.contains("indices customers,logs-app-2024.11,orders\n"), "\(output)")
        #expect(output.contains("dumped 24 24\n"), "\(output)")
        #expect(output.contains("after logs-app-2024.11,orders,read_me\n"), "\(output)")
        let agents = service.capture.events(.clientFingerprint).compactMap { $0[field: "user_agent"] }
        #expect(agents.contains { $0.hasPrefix("elasticsearch-py/8.") }, "\(agents)")
        let inputs = service.capture.events(.commandInput).map {
            ($0[field: "command"] ?? "") + " " + ($0[field: "args"] ?? "")
        }
        #expect(
            inputs.contains("DELETE /customers") && inputs.contains { $0.hasPrefix("POST /read_me/_doc") },
            "\(inputs)"
        )
        #expect(service.capture.events(.loginSuccess).contains { $0[field: "username"] == "elastic" })
    }
}
