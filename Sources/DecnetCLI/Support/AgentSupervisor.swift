import CDecnetLinux
import DecnetPipeline
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `decnet agent start`'s daemon: runs the agent (`decnet agent serve`) from the current release and keeps it
/// running. A pushed release is on trial until its agent writes its health marker; if it exits first, or is not
/// up within `trialWindow`, the previous release comes back. The agent exits with `restartStatus` after an
/// update or a rollback so the supervisor starts what is current now.
///
/// The supervisor itself stays the binary it was started from (a small loop that reads a record and starts a
/// process); an operator's `agent stop` and `agent start` move it to the current release too.
struct AgentSupervisor {
    static let restartStatus: Int32 = 75
    static let parentVariable = "DECNET_AGENT_SUPERVISOR"
    static let trialWindow: Duration = .seconds(30)

    let daemon: Daemon
    let arguments: [String]

    func run() async throws {
        let releases = AgentReleases(
            directory: (self.daemon.stateDirectory as NSString).appendingPathComponent("agent")
        )
        let own =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let stopping = Mutex(false)
        let child = Mutex<pid_t>(0)
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) {
            stopping.withLock { $0 = true }
            let pid = child.withLock { $0 }
            if pid > 0 { kill(pid, SIGTERM) }
        }
        defer { signals.cancel() }
        setenv(Self.parentVariable, String(getpid()), 1)
        Daemon.log("agent supervisor \(getpid()) started")
        while !stopping.withLock({ $0 }) {
            var record = releases.load()
            var binary = record?.current ?? own
            if !FileManager.default.isExecutableFile(atPath: binary) {
                if record?.state == "trial", let back = try? releases.rollBack(because: "\(binary) is not executable") {
                    binary = back
                } else {
                    Daemon.log("agent supervisor: \(binary) is not executable; running \(own)")
                    binary = own
                }
                record = releases.load()
            }
            try? FileManager.default.removeItem(atPath: releases.healthPath)
            var pid: pid_t = 0
            let spawned = EngineProcess.withCStrings([binary] + self.arguments) {
                decnet_spawn_daemon(binary, $0, self.daemon.logPath, &pid)
            }
            guard spawned == 0 else {
                // A supervisor never gives up: back to the previous release, or the same one again in a second.
                let reason = "cannot start \(binary): \(String(cString: strerror(spawned)))"
                Daemon.log("agent supervisor: \(reason)")
                if record?.state == "trial", (try? releases.rollBack(because: reason)) != nil { continue }
                try await Task.sleep(for: .seconds(1))
                continue
            }
            child.withLock { $0 = pid }
            if stopping.withLock({ $0 }) { kill(pid, SIGTERM) }
            Daemon.log("agent supervisor: agent \(pid) from \(binary)")
            let started = ContinuousClock.now
            var status: Int32 = 0
            while true {
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result < 0 && errno != EINTR) { break }
                // Only a trial of the binary this agent runs: the agent that receives a push begins the new
                // release's trial and exits, and its own health marker must not confirm the release it hands over
                // to (seen under load: a broken release confirmed before it ever ran, then never rolled back).
                if let trial = releases.load(), trial.state == "trial", trial.current == binary {
                    let marker = (try? String(contentsOfFile: releases.healthPath, encoding: .utf8)) ?? ""
                    if marker.trimmingCharacters(in: .whitespacesAndNewlines) == String(pid) {
                        do { try releases.confirm() } catch {
                            Daemon.log("agent supervisor: the release record cannot be written: \(error)")
                        }
                        Daemon.log("agent supervisor: release \(binary) is up; confirmed")
                    } else if ContinuousClock.now - started > Self.trialWindow {
                        Daemon.log("agent supervisor: release \(binary) not up in \(Self.trialWindow); stopping it")
                        kill(pid, SIGKILL)
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            child.withLock { $0 = 0 }
            let exit = Self.describe(status)
            if stopping.withLock({ $0 }) { break }
            if Self.exitStatus(status) == Self.restartStatus {
                Daemon.log("agent supervisor: agent \(pid) asked for the current release")
                continue
            }
            if releases.load()?.state == "trial" {
                let reason = "the pushed binary \(exit) before its agent was up"
                Daemon.log("agent supervisor: \(reason)")
                do { try releases.rollBack(because: reason) } catch {
                    Daemon.log("agent supervisor: the release record cannot be written: \(error)")
                    try await Task.sleep(for: .seconds(1))
                }
                continue
            }
            Daemon.log("agent supervisor: agent \(pid) \(exit); starting it again in 1 s")
            try await Task.sleep(for: .seconds(1))
        }
        Daemon.log("agent supervisor \(getpid()) stopped")
    }

    static func exitStatus(_ status: Int32) -> Int32? {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : nil
    }

    static func describe(_ status: Int32) -> String {
        if let code = Self.exitStatus(status) { return "exited with status \(code)" }
        return "was killed by signal \(status & 0x7F)"
    }
}
