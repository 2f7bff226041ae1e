import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import Foundation
import Testing

/// The snmp service against net-snmp's tools (snmpget, snmpwalk, snmpbulkwalk, a v3 request), onesixtyone's
/// community brute force and nmap's SNMP scripts, on a UDP listener like the engine's.
@Suite(.serialized) struct SNMPLiveTests {
    static let snmpwalk = ExternalTool("snmpwalk", package: "snmp")
    static let onesixtyone = ExternalTool("onesixtyone", package: "onesixtyone")

    static func start(
        _ persona: [String: String],
        host: String
    ) async throws
        -> (UDPListener<SNMPService>, EventCapture, Task<Void, Never>)
    {
        let capture = EventCapture()
        let context = ServiceContext(
            decky: "decky-router",
            hostname: "edge-rtr01",
            service: "snmp",
            persona: persona,
            sink: capture,
            osFamily: .cisco,
            macAddress: "00:1e:49:aa:bb:cc",
            address: host
        )
        let listener = try await UDPListener.bind(
            try SNMPService(context: context),
            host: host,
            port: 161,
            context: context,
            limits: UDPLimits(datagramsPerSecond: 200, burst: 400)
        )
        return (listener, capture, Task { await listener.run() })
    }

    @Test(
        .enabled(
            if: snmpwalk.isUsable && onesixtyone.isUsable && ExternalTool.nmap.isUsable,
            "needs snmp, onesixtyone and nmap (required under CI)"
        )
    )
    func netSNMPsToolsWalkTheMIBAndWrongCommunitiesAreCaptured() async throws {
        let walk = try #require(Self.snmpwalk.path, "\(Self.snmpwalk.missingMessage)")
        let bin = URL(fileURLWithPath: walk).deletingLastPathComponent()
        let brute = try #require(Self.onesixtyone.path, "\(Self.onesixtyone.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let host = "127.77.19.28"
        let (listener, capture, task) = try await Self.start(["snmp_community": "n0c-r3ad"], host: host)
        // Net-SNMP waits 1 s for each answer; a full test run on two cores can hold one back longer, and a walk
        // whose retries all go unanswered prints nothing. 5 s a try (5 retries) measures the answers, not the load.
        let patient = ["-t", "5"]
        let get = try await ProcessRunner.run(
            bin.appendingPathComponent("snmpget").path,
            patient + ["-v2c", "-c", "n0c-r3ad", "-On", host, "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0"]
        )
        #expect(
            get.standardOutput.contains(".1.3.6.1.2.1.1.5.0 = STRING: \"edge-rtr01\""),
            "\(get.standardOutput)\(get.standardError)"
        )
        #expect(get.standardOutput.contains(".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.9.1.1041"), "\(get.standardOutput)")
        let walked = try await ProcessRunner.run(
            walk,
            patient + ["-v2c", "-c", "n0c-r3ad", "-On", host, "1.3.6.1.2.1"]
        )
        let lines = walked.standardOutput.split(separator: "\n")
        #expect(lines.count == 33, "\(walked.standardOutput)\(walked.standardError)")
        #expect(
            walked.standardOutput.contains(".1.3.6.1.2.1.2.2.1.6.2 = Hex-STRING: 00 1E 49 AA BB CC"),
            "\(walked.standardOutput)"
        )
        #expect(
            walked.standardOutput.contains(".1.3.6.1.2.1.1.1.0 = STRING: \"Cisco IOS Software"),
            "\(walked.standardOutput)"
        )
        #expect(!walked.standardError.contains("OID not increasing"), "\(walked.standardError)")
        let bulk = try await ProcessRunner.run(
            bin.appendingPathComponent("snmpbulkwalk").path,
            patient + ["-v2c", "-c", "n0c-r3ad", "-On", host, "1.3.6.1.2.1.2"]
        )
        #expect(bulk.standardOutput.split(separator: "\n").count == 23, "\(bulk.standardOutput)\(bulk.standardError)")
        let v3 = try await ProcessRunner.run(
            bin.appendingPathComponent("snmpget").path,
            patient + [
                "-v3", "-u", "netops", "-l", "authNoPriv", "-a", "SHA", "-A", "Sup3rSecret!", host, "1.3.6.1.2.1.1.5.0",
            ]
        )
        #expect(v3.standardError.contains("Unknown user name"), "\(v3.standardOutput)\(v3.standardError)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let communities = directory.url.appendingPathComponent("communities.txt")
        try "public\nprivate\ncisco\nn0c-r3ad\nmanager\n".write(to: communities, atomically: true, encoding: .utf8)
        let guessed = try await ProcessRunner.run(brute, ["-c", communities.path, host])
        #expect(guessed.standardOutput.contains("\(host) [n0c-r3ad] Cisco IOS Software"), "\(guessed.standardOutput)")
        #expect(!guessed.standardOutput.contains("[public]") && !guessed.standardOutput.contains("[private]"))
        // A longer list from the same socket, 100 guesses a second (onesixtyone's pace): past the flow's answer
        // rate, but every guess is recorded (81 of 200 were, when the rate bounded recording too).
        let many = directory.url.appendingPathComponent("many.txt")
        try (1...200).map { "guess-\($0)\n" }.joined().write(to: many, atomically: true, encoding: .utf8)
        _ = try await ProcessRunner.run(brute, ["-c", many.path, host])
        let scan = try await ProcessRunner.run(
            nmap,
            [
                "-sU", "-sV", "-Pn", "-n", "-p", "161", "--script", "snmp-info,snmp-sysdescr", "--script-args",
                "creds.snmp=:n0c-r3ad", host,
            ]
        )
        await listener.close()
        await task.value
        let output = scan.standardOutput
        #expect(output.contains("161/udp open  snmp"), "\(output)")
        #expect(output.contains("enterprise: ciscoSystems"), "\(output)")
        #expect(output.contains("Cisco IOS Software, C2900 Software"), "\(output)")
        let wrong = capture.events(.loginFailed).filter { $0[field: "method"] == "community" }.compactMap {
            $0[field: "password"]
        }
        #expect(Set(wrong).isSuperset(of: ["public", "private", "cisco", "manager"]), "\(wrong)")
        #expect(Set(wrong.filter { $0.hasPrefix("guess-") }).count == 200, "\(wrong.count) wrong communities")
        #expect(
            capture.events(.loginFailed).contains { $0[field: "username"] == "netops" && $0[field: "method"] == "usm" }
        )
        #expect(capture.events(.commandInput).contains { $0[field: "command"] == "getbulk" })
    }
}
