import DecnetPipeline
import DecnetTesting
import Foundation
import Testing

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
}
