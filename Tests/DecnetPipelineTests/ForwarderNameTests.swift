import DecnetCore
import DecnetPipeline
import DecnetRuntime
import DecnetTesting
import Foundation
import Synchronization
import Testing

/// A forwarder whose target is a name checks that the listener's certificate names it, beyond being signed by
/// our CA: another listener holding a certificate of the same CA cannot stand in for it.
@Suite struct ForwarderNameTests {
    /// Runs a forwarder of `lines` to `host` and the listener's port until the listener has them all or the
    /// forwarder reports an error; returns what the listener wrote and the forwarder's last error.
    static func forward(
        _ lines: [String],
        to host: String,
        listenerIdentity: CertificateAuthority.Identity,
        client: CertificateAuthority.Identity,
        directory: String
    ) async throws -> (received: [String], error: String?) {
        let received = directory + "/received-\(UUID().uuidString.prefix(6)).log"
        let listener = try await SyslogListener.start(
            SyslogListener.Settings(host: "127.0.0.1", port: 0, identity: listenerIdentity, logPath: received)
        )
        let serving = Task { await listener.run() }
        let log = directory + "/decnet.log"
        try lines.map { $0 + "\n" }.joined().write(toFile: log, atomically: true, encoding: .utf8)
        let lastError = Mutex<String?>(nil)
        var forwarder = try SyslogForwarder(
            SyslogForwarder.Settings(
                logPath: log,
                host: host,
                port: listener.port,
                identity: client,
                cursorPath: directory + "/cursor-\(UUID().uuidString.prefix(6))"
            )
        )
        forwarder.report = { status in if let error = status.lastError { lastError.withLock { $0 = error } } }
        let running = Task(executorPreference: BlockingIOExecutor.shared) { [forwarder] in await forwarder.run() }
        var got: [String] = []
        for _ in 0..<200 {
            got = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").map(
                String.init
            )
            if got.count >= lines.count || lastError.withLock({ $0 }) != nil { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        running.cancel()
        await running.value
        serving.cancel()
        await listener.close()
        return (got, lastError.withLock { $0 })
    }

    @Test func aTargetByNameMustBeNamedByTheListenersCertificate() async throws {
        let fixture = try SyslogInteropTests.Fixture()
        defer { fixture.directory.remove() }
        let lines = SyslogInteropTests.lines(20)
        // The listener's own certificate names localhost: delivered.
        let named = try await Self.forward(
            lines,
            to: "localhost",
            listenerIdentity: fixture.server,
            client: fixture.client,
            directory: fixture.directory.path
        )
        #expect(named.received == lines && named.error == nil, "\(named.error ?? "-")")
        // Another certificate of the same CA, for another host: refused by name, nothing delivered.
        let elsewhere = try fixture.authority.issue(name: "elsewhere", roles: [.server])
        let impostor = try await Self.forward(
            lines,
            to: "localhost",
            listenerIdentity: elsewhere,
            client: fixture.client,
            directory: fixture.directory.path
        )
        #expect(impostor.received.isEmpty)
        #expect(impostor.error?.contains("localhost") == true, "error: \(impostor.error ?? "-")")
        // A target given as an address is trusted by the CA alone (a listener's certificate often names no
        // address it is reached by): the same listener takes it.
        let byAddress = try await Self.forward(
            lines,
            to: "127.0.0.1",
            listenerIdentity: elsewhere,
            client: fixture.client,
            directory: fixture.directory.path
        )
        #expect(byAddress.received == lines, "\(byAddress.error ?? "-")")
    }
}
