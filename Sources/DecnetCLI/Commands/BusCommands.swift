import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPipeline
import DecnetRuntime
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `decnet bus start|stop|status|sub|pub`: the service bus broker on `<state>/decnet-bus.sock`.
struct BusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Manage the service bus broker (NATS protocol on a UNIX socket; wildcards * and >).",
        subcommands: [Start.self, Stop.self, Status.self, Subscribe.self, Publish.self]
    )

    static let name = "bus"

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the broker.")

        @Option(help: "Messages each subscription may have waiting; past that they are dropped and counted.")
        var queue = 10_000
        @Option(
            help: """
                Also take NATS clients over TCP at this loopback address (host:port, e.g. 127.0.0.1:4222), for \
                client libraries without UNIX sockets. Any local user can reach it; it is never bound off loopback.
                """
        )
        var listen: String?
        @Option(
            help: """
                An upstream NATS server (host:port; Debian's nats-server, clustered with the other hosts'), to carry \
                this host's bus to and from the swarm, with TLS and the identity's client certificate when it asks.
                """
        )
        var upstream: String?
        @Option(
            help: "Folder with cert.pem, key.pem, ca.crt for the upstream (default: issued from the local CA as 'bus')."
        )
        var identity: String?
        @Flag(help: "Stay in the foreground.") var foreground = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            var tcp: (host: String, port: Int)?
            if let listen = self.listen {
                guard let (host, port) = InputSyntax.hostPort(listen), "\(host)".hasPrefix("127.") else {
                    throw CommandFailure(
                        "--listen \(listen): expected a loopback host:port such as 127.0.0.1:4222 (the bus has no "
                            + "authentication of its own; off this machine, events go by `decnet forwarder`)"
                    )
                }
                tcp = ("\(host)", Int(port))
            }
            let daemon = Daemon(BusCommand.name, stateDirectory: environment.stateDirectory)
            let socket = BusTopics.socket(stateDirectory: daemon.stateDirectory)
            var upstream: (host: String, port: Int, identity: CertificateAuthority.Identity?)?
            if let text = self.upstream {
                guard let (host, port) = InputSyntax.hostPort(text) else {
                    throw CommandFailure("--upstream \(text): expected host:port of a NATS server, e.g. 10.0.0.1:4222")
                }
                let identity = try PKILayout.identity(
                    self.identity,
                    name: "bus",
                    role: .client,
                    alternativeNames: [],
                    environment: environment
                )
                upstream = ("\(host)", Int(port), identity)
            }
            guard self.foreground else {
                let pid = try await daemon.spawn(
                    commandPath: ["bus", "start"],
                    arguments: Daemon.argumentsAfter("start")
                )
                print("bus started (pid \(pid)) on \(socket)\(self.listen.map { " and \($0)" } ?? "")")
                return
            }
            let lock = try daemon.lock()
            let broker: BusBroker
            do {
                broker = try await BusBroker.start(socketPath: socket, tcp: tcp, queueCapacity: max(1, self.queue)) {
                    Daemon.log($0)
                }
            } catch {
                throw CommandFailure("bus socket \(socket)\(self.listen.map { " or \($0)" } ?? ""): \(error)")
            }
            Daemon.log("bus \(getpid()) on \(socket)\(broker.tcpAddress.map { " and \($0)" } ?? "")")
            var bridging: Task<Void, Never>?
            if let upstream {
                do {
                    let bridge = try broker.bridge(
                        host: upstream.host,
                        port: upstream.port,
                        identity: upstream.identity,
                        name: "decnet-bus@" + ProcessInfo.processInfo.hostName
                    ) { Daemon.log($0) }
                    bridging = Task { await bridge.run() }
                } catch {
                    throw CommandFailure("--upstream: \(error)")
                }
            }
            let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) { Task { await broker.close() } }
            let started = Date()
            let reporting = Task {
                while !Task.isCancelled {
                    daemon.writeStatus(BusStatus(pid: getpid(), started: started, socket: socket, bus: broker.status))
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            await broker.run()
            bridging?.cancel()
            reporting.cancel()
            daemon.writeStatus(BusStatus(pid: getpid(), started: started, socket: socket, bus: broker.status))
            signals.cancel()
            Daemon.log("bus \(getpid()) stopped")
            withExtendedLifetime(lock) {}
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the broker.")
        func run() async throws { try await DaemonCommands.stop(BusCommand.name) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the broker carried and what each subscriber lost to a full queue."
        )
        func run() async throws { try await DaemonCommands.status(BusCommand.name) }
    }

    struct Subscribe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sub",
            abstract: "Print messages on a subject pattern (e.g. 'attacker.>' or 'decky.*.state'), one per line."
        )

        @Argument(help: "Subject pattern; * is one token, > the rest.") var pattern: String
        @Option(help: "Exit after this many messages.") var count: Int?

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let socket = BusTopics.socket(stateDirectory: environment.stateDirectory)
            do {
                _ = try Subject.pattern(self.pattern)
            } catch {
                throw CommandFailure("\(self.pattern): \(error)", exitCode: .validationFailure)
            }
            var seen = 0
            let limit = self.count
            do {
                try await BusConnection.subscribe(socket, pattern: self.pattern) { subject, payload in
                    FileHandle.standardOutput.write(Data("\(subject) \(String(buffer: payload))\n".utf8))
                    seen += 1
                    return limit.map { seen < $0 } ?? true
                }
            } catch {
                throw CommandFailure("bus \(socket): \(error) (is `decnet bus start` running?)")
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "pub", abstract: "Publish one message.")

        @Argument(help: "Subject (no wildcards).") var subject: String
        @Argument(help: "Payload.") var payload: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let socket = BusTopics.socket(stateDirectory: environment.stateDirectory)
            let subject: Subject
            do {
                subject = try Subject(self.subject)
            } catch {
                throw CommandFailure("\(self.subject): \(error)", exitCode: .validationFailure)
            }
            // Exit 0 only once the broker has the message (its PONG to a PING sent after it, as `nats pub`
            // flushes): a fixed grace and a cancelled writer once exited 0 with the message never sent.
            do {
                try await BusConnection.publishConfirmed(
                    socket,
                    BusMessage(subject: subject, payload: Array(self.payload.utf8)),
                    name: "decnet-bus-pub"
                )
            } catch let failure as BusConnection.Failure {
                throw CommandFailure("bus \(socket): \(failure.description)")
            } catch {
                throw CommandFailure("bus \(socket): no broker answered (is `decnet bus start` running?)")
            }
        }
    }
}

struct BusStatus: Codable {
    var pid: Int32
    var started: Date
    var socket: String
    var bus: BusBroker.Status
}
