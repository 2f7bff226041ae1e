import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import Testing

/// The tftp service against tftp-hpa's client (get and put), curl's TFTP (with options) and nmap's tftp-enum.
@Suite(.serialized) struct TFTPLiveTests {
    static let tftp = ExternalTool("tftp", package: "tftp-hpa")

    @Test(.enabled(if: tftp.isUsable && ExternalTool.nmap.isUsable, "needs tftp-hpa and nmap (required under CI)"))
    func tftpHPAGetsAndPutsAndNmapEnumeratesTheFiles() async throws {
        let tftp = try #require(Self.tftp.path, "\(Self.tftp.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let capture = EventCapture()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let context = ServiceContext(
            decky: "decky-router",
            hostname: "edge-rtr01",
            service: "tftp",
            persona: [:],
            sink: capture,
            artifactDirectory: directory.url.appendingPathComponent("artifacts").path,
            osFamily: .cisco
        )
        let host = "127.77.19.31"
        let listener = try await UDPListener.bind(
            try TFTPService(context: context),
            host: host,
            port: 69,
            context: context,
            limits: UDPLimits(datagramsPerSecond: 500, burst: 1_000)
        )
        let task = Task { await listener.run() }
        let local = directory.url.appendingPathComponent("startup-config").path
        let upload = directory.url.appendingPathComponent("payload.bin")
        try Data(repeating: 0x90, count: 1_500).write(to: upload)
        let get = try await ProcessRunner.run(tftp, [host, "-m", "binary", "-c", "get", "startup-config", local])
        let config = try String(contentsOfFile: local, encoding: .utf8)
        #expect(
            config.contains("hostname edge-rtr01") && config.contains("snmp-server community"),
            "\(get.standardOutput)\(get.standardError)"
        )
        let put = try await ProcessRunner.run(tftp, [host, "-m", "binary", "-c", "put", upload.path, "payload.bin"])
        #expect(put.status == 0, "\(put.standardOutput)\(put.standardError)")
        let missing = try await ProcessRunner.run(
            tftp,
            [host, "-c", "get", "shadow", directory.url.appendingPathComponent("x").path]
        )
        #expect(
            (missing.standardOutput + missing.standardError).contains("File not found"),
            "\(missing.standardOutput)\(missing.standardError)"
        )
        let curl = try await ProcessRunner.run("/usr/bin/curl", ["-s", "tftp://\(host)/router-confg"])
        #expect(curl.standardOutput.contains("hostname edge-rtr01"), "\(curl.standardOutput)\(curl.standardError)")
        let scan = try await ProcessRunner.run(nmap, ["-sU", "-Pn", "-n", "-p", "69", "--script", "tftp-enum", host])
        await listener.close()
        await task.value
        #expect(
            scan.standardOutput.contains("startup-config") && scan.standardOutput.contains("router-confg"),
            "\(scan.standardOutput)"
        )
        let uploaded = try #require(capture.events(.fileUpload).first)
        #expect(uploaded[field: "filename"] == "payload.bin" && uploaded[field: "size"] == "1500")
        #expect(capture.events(.fileDownload).contains { $0[field: "filename"] == "startup-config" })
        #expect(
            capture.events(.commandInput).contains { $0[field: "command"] == "RRQ" && $0[field: "args"] == "shadow" }
        )
    }
}
