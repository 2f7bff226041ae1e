import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPipeline
import DecnetRuntime
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the CA and the identities it issues live: `<state>/pki`.
enum PKILayout {
    static func authority(_ environment: DecnetEnvironment) -> CertificateAuthority {
        CertificateAuthority(directory: (environment.stateDirectory as NSString).appendingPathComponent("pki"))
    }

    /// The identity in `directory`, or the one the local CA issued for `name`, issuing it when the CA is here.
    static func identity(
        _ directory: String?,
        name: String,
        role: CertificateAuthority.Role,
        alternativeNames: [String],
        environment: DecnetEnvironment
    ) throws -> CertificateAuthority.Identity {
        if let directory {
            let identity = CertificateAuthority.Identity(directory: directory)
            do { try identity.check() } catch { throw CommandFailure("--identity: \(error)") }
            return identity
        }
        let authority = Self.authority(environment)
        if let issued = authority.issued(name) { return issued }
        do {
            if role == .server { try authority.initialize() }
            guard authority.exists else {
                throw CommandFailure(
                    "no identity for the \(name): on the master, run `decnet ca issue \(name) --client --out DIR` and copy DIR here, then pass --identity DIR"
                )
            }
            let identity = try authority.issue(name: name, roles: [role], subjectAlternativeNames: alternativeNames)
            print("issued a \(role.rawValue) certificate for \(name) from the CA in \(authority.directory)")
            return identity
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

/// `decnet ca init|issue|list`: the small CA behind DECNET's mutual TLS.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Manage the CA that issues the certificates of DECNET's mutual TLS links (<state>/pki).",
        subcommands: [Initialize.self, Issue.self, List.self]
    )

    struct Initialize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "init", abstract: "Create the CA (once).")

        func run() async throws {
            let authority = PKILayout.authority(try await EnvironmentLoading.load())
            do {
                let made = try authority.initialize()
                print(made ? "CA created in \(authority.directory)" : "a CA already exists in \(authority.directory)")
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a certificate (cert.pem, key.pem and ca.crt in one folder, to copy to its host)."
        )

        @Argument(help: "The certificate's name (its CN and first SAN), e.g. edge-01.") var name: String
        @Flag(help: "For a server (a listener).") var server = false
        @Flag(help: "For a client (a forwarder).") var client = false
        @Option(name: .customLong("san"), help: "Another DNS name or IP address it is valid for (repeatable).")
        var alternativeNames: [String] = []
        @Option(help: "Folder to write to (default <state>/pki/<name>).") var out: String?

        func run() async throws {
            let authority = PKILayout.authority(try await EnvironmentLoading.load())
            var roles: Set<CertificateAuthority.Role> = []
            if self.server { roles.insert(.server) }
            if self.client { roles.insert(.client) }
            guard !roles.isEmpty else { throw CommandFailure("say what it is for: --server, --client or both") }
            do {
                try authority.initialize()
                let identity = try authority.issue(
                    name: self.name,
                    roles: roles,
                    subjectAlternativeNames: self.alternativeNames,
                    output: self.out
                )
                print("issued \(identity.certificatePath) (key \(identity.keyPath), CA \(identity.caPath))")
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the certificates issued into <state>/pki.")

        func run() async throws {
            let authority = PKILayout.authority(try await EnvironmentLoading.load())
            guard authority.exists else {
                throw CommandFailure("no CA in \(authority.directory) (run `decnet ca init`)")
            }
            var table = TextTable("NAME", "EXPIRES", "VALID FOR")
            for entry in authority.list() {
                table.add(
                    entry.name,
                    ISO8601DateFormatter().string(from: entry.notAfter),
                    entry.alternativeNames.joined(separator: " ")
                )
            }
            print(table.render())
        }
    }
}

/// `decnet listener start|stop|status`: the RFC 5425 receiver (mutual TLS, :6514).
struct ListenerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listener",
        abstract: "Manage the inbound syslog listener (RFC 5425 over mutual TLS, :6514).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    static let name = "listener"

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Receive agents' events into the received-events log the workers ingest."
        )

        @Option(help: "Address and port to listen on.") var bind = "0.0.0.0:6514"
        @Option(help: "Where received events go (default: decnet-received.log beside DECNET_INGEST_LOG_FILE).")
        var logFile: String?
        @Option(help: "Folder with cert.pem, key.pem, ca.crt (default: issued from the local CA as 'listener').")
        var identity: String?
        @Option(name: .customLong("san"), help: "Another name or address the listener's certificate names.")
        var alternativeNames: [String] = []
        @Flag(help: "Plain TCP instead of TLS (only on a loopback address).") var plain = false
        @Flag(help: "Let in only the swarm hosts' pinned certificates (decnet swarm add), as a master does.")
        var swarm = false
        @Flag(help: "Stay in the foreground.") var foreground = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let daemon = Daemon(ListenerCommand.name, stateDirectory: environment.stateDirectory)
            if self.swarm && self.plain {
                throw CommandFailure("--swarm pins client certificates: it needs TLS, not --plain")
            }
            let (host, port) = try ServiceRunCommand.address(self.bind, defaultPort: 6514)
            let identity =
                self.plain
                ? nil
                : try PKILayout.identity(
                    self.identity,
                    name: "listener",
                    role: .server,
                    alternativeNames: ["localhost", "127.0.0.1", Self.hostName()] + self.alternativeNames
                        + (host == "0.0.0.0" ? [] : [host]),
                    environment: environment
                )
            let logFile = self.logFile ?? environment.receivedLogFile
            guard self.foreground else {
                let pid = try await daemon.spawn(
                    commandPath: ["listener", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                print("listener started (pid \(pid)) on \(host):\(port); received events go to \(logFile)")
                return
            }
            let lock = try daemon.lock()
            let bus = BusPublisher(
                socketPath: BusTopics.socket(stateDirectory: daemon.stateDirectory),
                name: "listener"
            )
            var settings = SyslogListener.Settings(
                host: host,
                port: port,
                identity: identity,
                logPath: logFile,
                rotation: environment.logRotation,
                swarm: self.swarm ? SwarmRegistry(stateDirectory: environment.stateDirectory) : nil
            )
            // swarm.<host>.down when an agent's heartbeats stop, swarm.<host>.up when it is heard again.
            settings.hostStateChanged = { name, up in
                Daemon.log("swarm host \(name) is \(up ? "up again" : "down (no heartbeat)")")
                bus.publish(
                    "swarm.\(name).\(up ? "up" : "down")",
                    json: [
                        "host": name, "state": up ? "up" : "down", "time": ISO8601DateFormatter().string(from: Date()),
                    ]
                )
            }
            let listener: SyslogListener
            do {
                listener = try await SyslogListener.start(settings, log: { Daemon.log($0) })
            } catch {
                throw CommandFailure("listener on \(host):\(port): \(error)")
            }
            Daemon.log(
                "listener \(getpid()) on \(host):\(listener.port) (\(identity == nil ? "plain TCP" : self.swarm ? "mutual TLS, pinned swarm hosts only" : "mutual TLS")), events to \(logFile)"
            )
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { Task { await listener.close() } }
            let publishing = Task { await bus.run() }
            let heartbeat = Task {
                await BusTopics.heartbeat("listener", on: bus) {
                    let statistics = listener.statistics
                    return [
                        "accepted": String(statistics.accepted), "refused": String(statistics.refused),
                        "open": String(statistics.open),
                    ]
                }
            }
            let started = Date()
            let reporting = Task {
                while !Task.isCancelled {
                    daemon.writeStatus(
                        ListenerStatus(
                            pid: getpid(),
                            started: started,
                            address: "\(host):\(listener.port)",
                            tls: identity != nil,
                            log: logFile,
                            statistics: listener.statistics
                        )
                    )
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            await listener.run()
            reporting.cancel()
            heartbeat.cancel()
            await bus.close(running: publishing, grace: .seconds(1))
            signals.cancel()
            Daemon.log("listener \(getpid()) stopped: \(listener.statistics.accepted) event(s) received")
            withExtendedLifetime(lock) {}
        }

        static func hostName() -> String { ProcessInfo.processInfo.hostName }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the listener.")
        func run() async throws { try await DaemonCommands.stop(ListenerCommand.name) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the listener's state and counts.")
        func run() async throws { try await DaemonCommands.status(ListenerCommand.name) }
    }
}

struct ListenerStatus: Codable {
    var pid: Int32
    var started: Date
    var address: String
    var tls: Bool
    var log: String
    var statistics: SyslogListener.Statistics
}

/// `decnet forwarder start|stop|status`: the event log to a listener (RFC 5425 over mutual TLS).
struct ForwarderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forwarder",
        abstract: "Manage the syslog-over-TLS forwarder (the event log to a master's listener, RFC 5425).",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    static let name = "forwarder"

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forward the event log; while the target is down it waits, and nothing is lost."
        )

        @Option(help: "The listener, host:port (port 6514 by default).") var target: String
        @Option(help: "The event log to forward (default: DECNET_INGEST_LOG_FILE).") var logFile: String?
        @Option(help: "Folder with cert.pem, key.pem, ca.crt (default: issued from the local CA as 'forwarder').")
        var identity: String?
        @Flag(help: "Plain TCP instead of TLS (only to a loopback address).") var plain = false
        @Option(help: "Seconds between heartbeats to a swarm master (it reports the host down after three missed).")
        var heartbeat: Double?
        @Flag(help: "Stay in the foreground.") var foreground = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let daemon = Daemon(ForwarderCommand.name, stateDirectory: environment.stateDirectory)
            if let heartbeat = self.heartbeat, !(0.1...3600).contains(heartbeat) {
                throw CommandFailure("--heartbeat: seconds from 0.1 to 3600 (got \(heartbeat))")
            }
            let (host, port) = try Self.target(self.target)
            let identity =
                self.plain
                ? nil
                : try PKILayout.identity(
                    self.identity,
                    name: "forwarder",
                    role: .client,
                    alternativeNames: [],
                    environment: environment
                )
            let logFile = self.logFile ?? environment.ingestLogFile
            var settings = SyslogForwarder.Settings(
                logPath: logFile,
                host: host,
                port: port,
                identity: identity,
                cursorPath: (daemon.stateDirectory as NSString).appendingPathComponent("decnet-forwarder.cursor")
            )
            settings.heartbeat = self.heartbeat.map { .milliseconds(Int64($0 * 1000)) }
            settings.hostName = ProcessInfo.processInfo.hostName
            var forwarder: SyslogForwarder
            do { forwarder = try SyslogForwarder(settings) } catch { throw CommandFailure("\(error)") }
            guard self.foreground else {
                let pid = try await daemon.spawn(
                    commandPath: ["forwarder", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                print("forwarder started (pid \(pid)): \(logFile) to \(host):\(port)")
                return
            }
            let lock = try daemon.lock()
            let started = Date()
            let latest = LatestStatus()
            forwarder.log = { Daemon.log($0) }
            forwarder.report = { status in
                latest.value.withLock { $0 = status }
                daemon.writeStatus(ForwarderStatus(pid: getpid(), started: started, log: logFile, forwarding: status))
            }
            let bus = BusPublisher(
                socketPath: BusTopics.socket(stateDirectory: daemon.stateDirectory),
                name: "forwarder"
            )
            let publishing = Task { await bus.run() }
            let heartbeat = Task {
                await BusTopics.heartbeat("forwarder", on: bus) {
                    guard let status = latest.value.withLock({ $0 }) else { return [:] }
                    return [
                        "connected": String(status.connected), "sent": String(status.sent),
                        "spooled_bytes": String(status.spooledBytes),
                    ]
                }
            }
            Daemon.log(
                "forwarder \(getpid()): \(logFile) to \(host):\(port) (\(identity == nil ? "plain TCP" : "mutual TLS"))"
            )
            let work = Task(executorPreference: BlockingIOExecutor.shared) { [forwarder] in await forwarder.run() }
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { work.cancel() }
            await work.value
            heartbeat.cancel()
            await bus.close(running: publishing, grace: .seconds(1))
            signals.cancel()
            Daemon.log("forwarder \(getpid()) stopped")
            withExtendedLifetime(lock) {}
        }

        /// `host[:port]`, the port 6514 by default.
        static func target(_ text: String) throws -> (host: String, port: Int) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), !parts[0].isEmpty,
                let port = parts.count == 2 ? Int(parts[1]) : 6514, (1...65535).contains(port)
            else {
                throw CommandFailure(
                    "--target \(text): expected host:port, e.g. 10.0.0.5:6514",
                    exitCode: .validationFailure
                )
            }
            return (String(parts[0]), port)
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the forwarder.")
        func run() async throws { try await DaemonCommands.stop(ForwarderCommand.name) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the forwarder's connection and spool.")
        func run() async throws { try await DaemonCommands.status(ForwarderCommand.name) }
    }
}

/// The forwarder's last reported status, for its heartbeat.
final class LatestStatus: Sendable {
    let value = Mutex<SyslogForwarder.Status?>(nil)
}

struct ForwarderStatus: Codable {
    var pid: Int32
    var started: Date
    var log: String
    var forwarding: SyslogForwarder.Status
}
