import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A private rsyslogd (Debian's `rsyslog` with its TLS drivers) for one test: a configuration of the test's own
/// in a temporary folder, run in the foreground with its own pid file and work directory. It never touches
/// `/dev/log` or the system's logs (no imuxsock or imklog; its own messages go to `internal.log` beside the
/// configuration), and `stop()` ends it by its pid.
public final class RsyslogServer: @unchecked Sendable {
    public static let tool = ExternalTool("rsyslogd", package: "rsyslog rsyslog-openssl rsyslog-gnutls")

    public let directory: String
    private let process: Process

    /// The file rsyslog writes its own messages to (refusals, suspended actions).
    public var internalLog: String { self.directory + "/internal.log" }

    private init(directory: String, process: Process) {
        self.directory = directory
        self.process = process
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `rules` after a common preamble and starts rsyslogd. `rules` may use `WORK` for the folder.
    /// When `listening` is given, waits until that loopback port accepts connections.
    public static func start(rules: String, listening port: Int? = nil) async throws -> RsyslogServer {
        guard let executable = Self.tool.path else { throw Failure(description: Self.tool.missingMessage) }
        let directory = "/tmp/decnet-rsyslog-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
        let configuration = """
            global(
              processInternalMessages="on"
              maxMessageSize="64k"
              parser.escapeControlCharactersOnReceive="off"
              workDirectory="\(directory)/work"
            )
            \(rules.replacingOccurrences(of: "WORK", with: directory))
            if $syslogtag startswith "rsyslogd" then {
              action(type="omfile" file="\(directory)/internal.log")
              stop
            }

            """
        let path = directory + "/rsyslog.conf"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let check = try await ProcessRunner.run(executable, ["-N1", "-f", path])
        guard check.status == 0 else {
            throw Failure(description: "rsyslogd -N1 refused the configuration: \(check.standardError)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-n", "-f", path, "-i", directory + "/rsyslogd.pid"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = RsyslogServer(directory: directory, process: process)
        if let port {
            // A loaded CI box (two cores, ten suites at once) has taken rsyslogd more than 5 s to listen; 30 s, as
            // the live tests wait for their clients. Its own account of why it did not listen ends the message.
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline && process.isRunning {
                if LoopbackPort.accepts(port) { return server }
                try await Task.sleep(for: .milliseconds(20))
            }
            let exited = !process.isRunning
            server.stop()
            throw Failure(
                description: "rsyslogd did not listen on 127.0.0.1:\(port) \(exited ? "and exited" : "within 30 s"): "
                    + server.messages.suffix(600)
            )
        }
        return server
    }

    /// Ends it with SIGKILL: a child of the test process inherits a signal mask that blocks SIGTERM, which
    /// rsyslogd never unblocks. Its output files are flushed per message (`flushOnTXEnd`), so nothing is lost.
    public func stop() {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    /// Stops it and deletes its folder.
    public func remove() {
        self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// What rsyslog said about itself.
    public var messages: String { (try? String(contentsOfFile: self.internalLog, encoding: .utf8)) ?? "" }
}
