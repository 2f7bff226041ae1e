import DecnetCore
import DecnetPipeline
import DecnetRuntime
import DecnetTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// RFC 5425 against Debian's rsyslog and its TLS drivers: rsyslog receives our forwarder's stream over mutual TLS
/// and writes every message unchanged; our listener takes rsyslog's forwarding; a client whose certificate
/// comes from another CA, or that has none, is refused.
@Suite(.serialized, .enabled(if: RsyslogServer.tool.isUsable)) struct SyslogInteropTests {
    /// Events whose fields carry what attackers type: quotes, brackets, backslashes, UTF-8, control bytes.
    static func lines(_ count: Int, from start: Int = 0) -> [String] {
        (start..<start + count).map { index in
            var fields = EventFields()
            fields.add("username", attackerText: index % 3 == 0 ? "r\"o]o\\t" : "admin")
            fields.add("password", attackerBytes: Array("pä\u{1}ss-\(index)\t]".utf8), secret: true)
            return RFC5424Formatter.line(
                for: HoneypotEvent(
                    id: index % 10 == 0 ? .commandInput : .loginFailed,
                    decky: "decky-\(index % 4)",
                    hostname: "decky-\(index % 4)",
                    service: "ssh",
                    session: "s\(index / 5)",
                    source: Endpoint(ip: "198.51.100.\(index % 250)", port: 40000 + index % 999),
                    destination: Endpoint(ip: "10.77.0.10", port: 22),
                    fields: fields.fields
                )
            )
        }
    }

    /// A fresh CA with the certificates the tests use.
    struct Fixture {
        let directory: TemporaryDirectory
        let authority: CertificateAuthority
        let server: CertificateAuthority.Identity
        let client: CertificateAuthority.Identity

        init() throws {
            self.directory = try TemporaryDirectory()
            self.authority = CertificateAuthority(directory: self.directory.path + "/pki")
            try self.authority.initialize()
            self.server = try self.authority.issue(
                name: "listener",
                roles: [.server],
                subjectAlternativeNames: ["localhost", "127.0.0.1"]
            )
            self.client = try self.authority.issue(name: "edge-01", roles: [.client])
        }
    }

    static func waitForLines(in path: String, count: Int, seconds: Int = 30) async throws -> [String] {
        var lines: [String] = []
        for _ in 0..<(seconds * 20) {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            if lines.count >= count { return lines }
            try await Task.sleep(for: .milliseconds(50))
        }
        return lines
    }

    @Test(arguments: ["ossl", "gtls"])
    func rsyslogReceivesOurForwarderUnchanged(driver: String) async throws {
        #expect(RsyslogServer.tool.path != nil, "\(RsyslogServer.tool.missingMessage)")
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let port = LoopbackPort.unused()
        let received = fixture.directory.path + "/received.log"
        let rsyslog = try await RsyslogServer.start(
            rules: """
                global(
                  defaultNetstreamDriver="\(driver)"
                  defaultNetstreamDriverCAFile="\(fixture.server.caPath)"
                  defaultNetstreamDriverCertFile="\(fixture.server.certificatePath)"
                  defaultNetstreamDriverKeyFile="\(fixture.server.keyPath)"
                )
                module(load="imtcp" StreamDriver.Name="\(driver)" StreamDriver.Mode="1"
                       StreamDriver.AuthMode="x509/name" PermittedPeer=["edge-01"])
                input(type="imtcp" address="127.0.0.1" port="\(port)" ruleset="tls_in")
                template(name="RawLine" type="string" string="%rawmsg%\\n")
                ruleset(name="tls_in") {
                  action(type="omfile" file="\(received)" template="RawLine" flushOnTXEnd="on" asyncWriting="off")
                  stop
                }
                """,
            listening: port
        )
        defer { rsyslog.remove() }
        // The event log, written in two parts with a rotation between them.
        let log = fixture.directory.path + "/decnet.log"
        let sent = Self.lines(3000)
        let writer = try RotatingLogFile(path: log)
        try writer.append(Array(sent[..<1800].map { $0 + "\n" }.joined().utf8))
        let forwarder = try SyslogForwarder(
            SyslogForwarder.Settings(
                logPath: log,
                host: "127.0.0.1",
                port: port,
                identity: fixture.client,
                cursorPath: fixture.directory.path + "/forwarder.cursor"
            )
        )
        let running = Task(executorPreference: BlockingIOExecutor.shared) { await forwarder.run() }
        let lines: [String]
        do {
            _ = try await Self.waitForLines(in: received, count: 1800)
            try writer.rotate()
            try writer.append(Array(sent[1800...].map { $0 + "\n" }.joined().utf8))
            lines = try await Self.waitForLines(in: received, count: sent.count)
        } catch {
            running.cancel()
            await running.value
            throw error
        }
        // The forwarder saves its cursor when it stops: it must be gone before its folder is removed, or the
        // cursor file comes back in a folder nobody removes.
        running.cancel()
        await running.value
        #expect(lines.count == sent.count, "rsyslog says: \(rsyslog.messages)")
        #expect(
            lines == sent,
            "the first difference: \(zip(lines, sent).first { $0 != $1 }.map { "\($0)\n\($1)" } ?? "-")"
        )
    }

    @Test func ourListenerAcceptsRsyslogsForwardingAndRefusesStrangers() async throws {
        #expect(RsyslogServer.tool.path != nil, "\(RsyslogServer.tool.missingMessage)")
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let received = fixture.directory.path + "/decnet-received.log"
        let listener = try await SyslogListener.start(
            SyslogListener.Settings(host: "127.0.0.1", port: 0, identity: fixture.server, logPath: received)
        )
        let serving = Task { await listener.run() }
        defer {
            serving.cancel()
            Task { await listener.close() }
        }
        // rsyslog: plain TCP in on loopback, RFC 5425 out to our listener with a certificate from our CA.
        let input = LoopbackPort.unused()
        let rsyslog = try await RsyslogServer.start(
            rules: """
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(input)" ruleset="forward")
                template(name="RawOnly" type="string" string="%rawmsg%")
                ruleset(name="forward") {
                  action(type="omfwd" target="127.0.0.1" port="\(listener.port)" protocol="tcp"
                         TCP_Framing="octet-counted" template="RawOnly"
                         StreamDriver="ossl" StreamDriverMode="1"
                         StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"
                         StreamDriver.CAFile="\(fixture.client.caPath)"
                         StreamDriver.CertFile="\(fixture.client.certificatePath)"
                         StreamDriver.KeyFile="\(fixture.client.keyPath)"
                         action.resumeRetryCount="-1" action.resumeInterval="1")
                }
                """,
            listening: input
        )
        defer { rsyslog.remove() }
        let sent = Self.lines(1000)
        try Self.send(sent, toPort: input)
        let lines = try await Self.waitForLines(in: received, count: sent.count)
        #expect(lines == sent, "rsyslog says: \(rsyslog.messages)")
        #expect(listener.statistics.accepted == sent.count && listener.statistics.rejected == 0)
        #expect(listener.statistics.peers.keys.contains { $0.hasPrefix("edge-01@") }, "\(listener.statistics.peers)")

        // A forwarder whose certificate another CA issued: refused in the handshake, nothing written.
        let stranger = CertificateAuthority(directory: fixture.directory.path + "/other-pki")
        try stranger.initialize(name: "Some Other CA")
        let strangerIdentity = try stranger.issue(name: "edge-01", roles: [.client])
        let impostor = try SyslogForwarder(
            SyslogForwarder.Settings(
                logPath: received,
                host: "127.0.0.1",
                port: listener.port,
                identity: CertificateAuthority.Identity(
                    certificatePath: strangerIdentity.certificatePath,
                    keyPath: strangerIdentity.keyPath,
                    // It trusts our listener; its own certificate is what is wrong.
                    caPath: fixture.client.caPath
                ),
                cursorPath: fixture.directory.path + "/impostor.cursor"
            )
        )
        let refusedBefore = listener.statistics.refused
        let impostorRun = Task(executorPreference: BlockingIOExecutor.shared) { await impostor.run() }
        var refusal: String?
        for _ in 0..<200 where listener.statistics.refused == refusedBefore {
            try await Task.sleep(for: .milliseconds(25))
        }
        impostorRun.cancel()
        refusal = listener.statistics.lastRefusal
        #expect(listener.statistics.refused > refusedBefore)
        #expect(refusal?.contains("TLS handshake refused") == true, "\(refusal ?? "-")")
        // A client with no certificate at all (OpenSSL's own client).
        if let openssl = ExternalTool("openssl", package: "openssl").path {
            let refusedNow = listener.statistics.refused
            let result = try await ProcessRunner.run(
                "/bin/sh",
                [
                    "-c",
                    "echo '5 hello' | \(openssl) s_client -connect 127.0.0.1:\(listener.port) -CAfile \(fixture.client.caPath) -quiet 2>&1; true",
                ]
            )
            for _ in 0..<100 where listener.statistics.refused == refusedNow {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(listener.statistics.refused > refusedNow, "\(result.standardOutput)")
        }
        #expect(listener.statistics.accepted == sent.count)
        #expect(try await Self.waitForLines(in: received, count: sent.count) == sent)
    }

    /// Writes lines to a plain TCP syslog input (newline framing), the way `logger -T` would.
    static func send(_ lines: [String], toPort port: Int) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        try #require(connected)
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
            try #require(written > 0)
            offset += written
        }
    }
}
