import ArgumentParser
import CDecnetLinux
import DecnetConfig
import DecnetRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The seed's `start|stop|status` daemons (workers, forwarder, listener, bus): each runs as `decnet <name> start
/// --foreground …` in a session of its own, holding `<state>/decnet-<name>.pid` locked, writing its log to
/// `decnet-<name>.log` and what `status` shows to `decnet-<name>.status.json`.
struct Daemon {
    let name: String
    let stateDirectory: String

    init(_ name: String, stateDirectory: String) {
        self.name = name
        self.stateDirectory = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
    }

    private func file(_ suffix: String) -> String {
        (self.stateDirectory as NSString).appendingPathComponent("decnet-\(self.name).\(suffix)")
    }

    var pidPath: String { self.file("pid") }
    var logPath: String { self.file("log") }
    var statusPath: String { self.file("status.json") }

    var running: pid_t? { PIDLock.runningPID(path: self.pidPath) }

    /// Takes the pid lock for this process (the foreground daemon).
    func lock() throws -> PIDLock {
        try FileManager.default.createDirectory(atPath: self.stateDirectory, withIntermediateDirectories: true)
        do {
            return try PIDLock(path: self.pidPath, what: "the \(self.name)")
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    /// Starts this command again with `--foreground`, as a daemon, and waits until it holds its lock (or dies).
    func spawn(commandPath: [String], arguments: [String]) async throws -> pid_t {
        if let pid = self.running { throw CommandFailure("the \(self.name) is already running (pid \(pid))") }
        try FileManager.default.createDirectory(atPath: self.stateDirectory, withIntermediateDirectories: true)
        let pid = try self.launch(commandPath + ["--foreground"] + arguments)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            if self.running == pid { return pid }
            if !EngineProcess.isAlive(pid) {
                throw CommandFailure("the \(self.name) exited while starting; its log:\n\(self.logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw CommandFailure("the \(self.name) did not start in 30 s; its log:\n\(self.logTail())")
    }

    /// Starts `decnet <arguments>` (this binary) in a session of its own, its output appended to the daemon's
    /// log, with `DECNET_STATE_DIR` set so it finds this state directory whatever the environment file says.
    func launch(_ arguments: [String]) throws -> pid_t {
        setenv("DECNET_STATE_DIR", self.stateDirectory, 1)
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var pid: pid_t = 0
        let result = EngineProcess.withCStrings([executable] + arguments) {
            decnet_spawn_daemon(executable, $0, self.logPath, &pid)
        }
        guard result == 0 else {
            throw CommandFailure("cannot start the \(self.name) (\(executable)): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// SIGTERM, then SIGKILL after `timeout`; returns the pid stopped, nil when none ran.
    func stop(timeout: Duration = .seconds(15)) async -> pid_t? {
        guard let pid = self.running else { return nil }
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if self.running == nil { return pid }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        return pid
    }

    func writeStatus(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(value) else { return }
        let temporary = self.statusPath + ".tmp"
        if FileManager.default.createFile(atPath: temporary, contents: data) { rename(temporary, self.statusPath) }
    }

    /// `status`: running or not, then the daemon's last status, one `key: value` per line.
    func describe() -> (running: Bool, text: String) {
        var lines: [String]
        if let pid = self.running {
            lines = ["\(self.name): running (pid \(pid))"]
        } else {
            lines = ["\(self.name): not running"]
        }
        if let data = FileManager.default.contents(atPath: self.statusPath),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            lines.append(self.running == nil ? "last status:" : "status:")
            for key in object.keys.sorted() {
                lines.append("  \(key): \(Self.render(object[key]!))")
            }
        }
        return (self.running != nil, lines.joined(separator: "\n"))
    }

    static func render(_ value: Any) -> String {
        if let object = value as? [String: Any] {
            return object.keys.sorted().map { "\($0)=\(Self.render(object[$0]!))" }.joined(separator: ", ")
        }
        if let array = value as? [Any] { return array.map { Self.render($0) }.joined(separator: ", ") }
        if value is NSNull { return "-" }
        return "\(value)"
    }

    func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "(empty)"
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// One line of a daemon's log (its standard output, which the daemon writes to `decnet-<name>.log`).
    static func log(_ message: String) {
        let stamp = ISO8601DateFormatter().string(from: Date())
        FileHandle.standardOutput.write(Data("\(stamp) \(message)\n".utf8))
    }

    /// The arguments after `start` (what the foreground child gets again).
    static func argumentsAfter(_ word: String) -> [String] {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let index = arguments.firstIndex(of: word) else { return [] }
        return Array(arguments[(index + 1)...])
    }
}

/// `stop` and `status` are the same for every daemon.
enum DaemonCommands {
    static func stop(_ name: String) async throws {
        let environment = try await EnvironmentLoading.load()
        let daemon = Daemon(name, stateDirectory: environment.stateDirectory)
        if let pid = await daemon.stop() {
            print("\(name) (pid \(pid)) stopped")
        } else {
            print("\(name): not running")
        }
    }

    /// Prints the status; exits 3 (as `systemctl status` does) when the daemon is not running.
    static func status(_ name: String) async throws {
        let environment = try await EnvironmentLoading.load()
        let (running, text) = Daemon(name, stateDirectory: environment.stateDirectory).describe()
        print(text)
        if !running { throw CommandFailure("", exitCode: ExitCode(3)) }
    }
}
