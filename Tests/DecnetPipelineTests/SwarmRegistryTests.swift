import DecnetTesting
import Foundation
import Testing

@testable import DecnetPipeline

/// The master's register of swarm hosts: pins, refusals with the reason named, a damaged file named.
@Suite struct SwarmRegistryTests {
    @Test func hostsArePinnedOnceAndRemovedByName() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let authority = CertificateAuthority(directory: directory.path + "/pki")
        try authority.initialize()
        let edge = try authority.issue(name: "edge-01", roles: [.client])
        let other = try authority.issue(name: "edge-02", roles: [.client])
        let registry = SwarmRegistry(stateDirectory: directory.path)
        #expect(try registry.hosts().isEmpty)
        let added = try registry.add(name: "edge-01", address: "10.0.0.2", certificatePath: edge.certificatePath)
        #expect(added.fingerprint.hasPrefix("sha256:") && added.fingerprint.count == 7 + 64)
        #expect(added.subject == "edge-01")
        #expect(registry.host(fingerprint: added.fingerprint)?.name == "edge-01")
        #expect(throws: SwarmRegistry.Failure.self) {
            try registry.add(name: "edge-01", address: "10.0.0.3", certificatePath: other.certificatePath)
        }
        #expect(throws: SwarmRegistry.Failure.self) {
            try registry.add(name: "edge-09", address: "10.0.0.3", certificatePath: edge.certificatePath)
        }
        for name in ["", "a b", "x/../y", String(repeating: "a", count: 64), "ädge"] {
            #expect(throws: SwarmRegistry.Failure.self) {
                try registry.add(name: name, address: "10.0.0.3", certificatePath: other.certificatePath)
            }
        }
        try registry.add(name: "edge-02", address: "10.0.0.3", certificatePath: other.certificatePath)
        #expect(try registry.hosts().map(\.name) == ["edge-01", "edge-02"])
        try registry.remove(name: "edge-01")
        #expect(registry.host(fingerprint: added.fingerprint) == nil)
        #expect(throws: SwarmRegistry.Failure.self) { try registry.remove(name: "edge-01") }
    }

    @Test func aDamagedRegisterOrCertificateIsNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let registry = SwarmRegistry(stateDirectory: directory.path)
        let notPEM = directory.path + "/cert.pem"
        try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".write(
            toFile: notPEM,
            atomically: true,
            encoding: .utf8
        )
        let refusal = #expect(throws: SwarmRegistry.Failure.self) {
            try registry.add(name: "edge-01", address: "10.0.0.2", certificatePath: notPEM)
        }
        #expect(refusal?.description.contains(notPEM) == true, "\(refusal?.description ?? "-")")
        try FileManager.default.createDirectory(atPath: directory.path + "/swarm", withIntermediateDirectories: true)
        try "{ not json".write(toFile: registry.path, atomically: true, encoding: .utf8)
        let damaged = #expect(throws: SwarmRegistry.Failure.self) { try registry.hosts() }
        #expect(damaged?.description.contains(registry.path) == true)
        // The listener's lookup of a damaged register lets nobody in.
        #expect(registry.host(fingerprint: "sha256:00") == nil)
    }

    @Test func heartbeatsAreRecognisedAndOnlyThem() {
        let message = SwarmHeartbeat.message(host: "edge-01", interval: .milliseconds(500))
        #expect(SwarmHeartbeat.interval(in: message) == 0.5)
        let event = "<134>1 2026-12-06T16:00:00Z edge-01 ssh - login.failed [decnet@32473 uuid=\"x\"] heartbeat"
        #expect(SwarmHeartbeat.interval(in: Array(event.utf8)) == nil)
        for hostile in [
            "", "<134>1 t h decnet-agent - heartbeat", "<134>1 t h decnet-agent - heartbeat [x interval=\"-1\"]",
            "<134>1 t h decnet-agent - heartbeat [x interval=\"1e9\"]",
            "<134>1 t h decnet-agent - heartbeat [x interval=\"",
            "<134>1 t h decnet-agent - heartbeat [x interval=\"nan\"]",
        ] {
            #expect(SwarmHeartbeat.interval(in: Array(hostile.utf8)) == nil, "\(hostile)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...200, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            _ = SwarmHeartbeat.interval(in: message.prefix(40) + bytes)
        }
    }

    /// Down after `SwarmHeartbeat.misses` intervals without a heartbeat, up when heard again; each change once.
    @Test func aHostIsDownAfterThreeMissedHeartbeatsAndUpWhenHeard() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let listener = try await SyslogListener.start(
            SyslogListener.Settings(host: "127.0.0.1", port: 0, identity: nil, logPath: directory.path + "/r.log")
        )
        defer { Task { await listener.close() } }
        listener.heard("edge-01", interval: 2)
        let start = Date()
        #expect(listener.checkHosts(now: start.addingTimeInterval(5.9)).isEmpty)
        let down = listener.checkHosts(now: start.addingTimeInterval(6.1))
        #expect(down.count == 1 && down.first?.0 == "edge-01" && down.first?.1 == false)
        #expect(listener.checkHosts(now: start.addingTimeInterval(9)).isEmpty, "reported once")
        #expect(listener.statistics.hostsDown == ["edge-01"])
        listener.heard("edge-01", interval: 2)
        let up = listener.checkHosts()
        #expect(up.count == 1 && up.first?.1 == true)
        #expect(listener.statistics.hostsDown.isEmpty)
    }
}
