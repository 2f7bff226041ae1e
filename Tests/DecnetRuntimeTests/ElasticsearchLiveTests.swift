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
}
