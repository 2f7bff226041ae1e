import ArgumentParser
import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import Foundation
import NIOCore

/// `decnet service`: run one honeypot service without any decky (tests, workstations, the Docker driver's
/// service containers).
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Run a single honeypot service without deckies.",
        subcommands: [ServiceRunCommand.self]
    )
}

/// `decnet service run redis --bind 127.0.0.1:6379 --persona redis_version=7.2.4`
struct ServiceRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Serve one service; events go to standard output and/or a log file as RFC 5424 lines.",
        discussion: "Stops cleanly on SIGINT or SIGTERM, after writing every event it captured."
    )

    @Argument(help: "Service slug (see `decnet services`).") var slug: String
    @Option(help: "host:port to listen on (default: every TCP port of the service on 0.0.0.0).") var bind: String?
    @Option(name: .customLong("persona"), help: "A persona setting key=value; repeatable.") var personaSettings:
        [String] = []
    @Option(help: "Decky name the events carry.") var decky: String?
    @Option(help: "Hostname the events and banners carry.") var hostname: String?
    @Option(help: "Distro whose persona defaults apply (default: $DECNET_DISTRO, else debian).") var distro: String?
    @Option(
        name: .customLong("nmap-os"),
        help: "OS family whose persona defaults apply (default: $DECNET_NMAP_OS, else linux)."
    )
    var nmapOS: String?
    @Option(name: .customLong("log-file"), help: "Append events to this file.") var logFile: String?
    @Flag(help: "Do not print events to standard output.") var quiet = false
    @Flag(help: "Serve the service's UDP emulator (sip, conpot's SNMP, canary's DNS) rather than its TCP one.")
    var udp = false
    @Flag(help: "Speak TLS on the bound port (automatic on 443, 993, 995, 636, 2376, 6443).") var tls = false
    @Option(name: .customLong("artifact-dir"), help: "Where captured files are stored (default: ./artifacts).")
    var artifactDirectory = "artifacts"
    @Option(name: .customLong("max-per-source"), help: "Concurrent connections from one address.")
    var maximumPerSource = 256
    @Option(name: .customLong("max-connections"), help: "Concurrent connections in all.") var maximumConnections =
        10_000
    @Option(name: .customLong("idle-timeout"), help: "Seconds a silent connection stays open.") var idleTimeout = 300

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let kind = ServiceKind(self.slug.lowercased())
        guard let definition = ServiceCatalogue.definition(for: kind) else {
            throw CommandFailure(
                "unknown service '\(self.slug)'; expected one of `decnet services`",
                exitCode: .validationFailure
            )
        }
        let distroSlug = self.distro ?? environment["DECNET_DISTRO"] ?? "debian"
        guard let profile = DistroCatalogue.profile(for: distroSlug.lowercased()) else {
            throw CommandFailure("--distro: unknown distro '\(distroSlug)'", exitCode: .validationFailure)
        }
        let familyName = self.nmapOS ?? environment["DECNET_NMAP_OS"] ?? "linux"
        guard let family = OSFamily(rawValue: familyName.lowercased()) else {
            throw CommandFailure("--nmap-os: unknown OS family '\(familyName)'", exitCode: .validationFailure)
        }
        let hostname = self.hostname ?? environment["DECNET_HOSTNAME"] ?? "decnet"
        var persona = PersonaDefaults.values(
            for: kind,
            distro: profile,
            osFamily: family,
            archetype: nil,
            hostname: hostname
        )
        var problems: [String] = []
        // The Docker driver passes the persona as DECNET_PERSONA_* variables; --persona wins over them.
        let fromEnvironment = environment.compactMap { name, value -> String? in
            guard name.hasPrefix("DECNET_PERSONA_") else { return nil }
            return name.dropFirst("DECNET_PERSONA_".count).lowercased() + "=" + value
        }
        for setting in fromEnvironment.sorted() + self.personaSettings {
            let parts = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let key = definition.personaKey(named: String(parts[0]).lowercased()) else {
                let accepted = definition.personaKeys.map(\.name).joined(separator: ", ")
                problems.append(
                    "--persona \(setting): unknown key for \(kind); expected key=value with one of: \(accepted)"
                )
                continue
            }
            if let problem = key.problem(with: String(parts[1])) {
                problems.append("--persona \(setting): \(problem)")
                continue
            }
            persona[key.name] = String(parts[1]).trimmingWhitespace()
        }
        if !problems.isEmpty { throw CommandFailure(problems.joined(separator: "\n"), exitCode: .validationFailure) }

        // Without --bind, every TCP port of the service on all addresses (http: 80 and 443), as in a container.
        // A service with only a UDP emulator (llmnr) is served on its UDP ports instead.
        let datagram =
            ServiceRegistry.builtin.service(for: kind) == nil || self.udp
            ? ServiceRegistry.builtin.datagramService(for: kind) : nil
        if self.udp && datagram == nil {
            throw CommandFailure("--udp: \(kind) has no UDP emulator", exitCode: .validationFailure)
        }
        let transport: Transport = datagram == nil ? .tcp : .udp
        let addresses: [(host: String, port: Int)]
        if let bind = self.bind {
            addresses = [try Self.address(bind, defaultPort: 0)]
        } else {
            addresses = definition.ports.filter { $0.transport == transport }.map { ("0.0.0.0", Int($0.number)) }
        }
        var outputs: [any EventOutput] = []
        if !self.quiet { outputs.append(StandardOutput()) }
        if let path = self.logFile ?? environment["DECNET_INGEST_LOG_FILE"] {
            do {
                outputs.append(try LogFileOutput(path: path))
            } catch {
                throw CommandFailure("--log-file \(path): cannot be opened for appending")
            }
        }
        let dispatcher = EventDispatcher(outputs: outputs)
        let tlsPorts = Set(addresses.map(\.port).filter { self.tls || Self.tlsPorts.contains($0) })
        var context = ServiceContext(
            decky: self.decky ?? environment["DECNET_DECKY"] ?? hostname,
            hostname: hostname,
            service: kind,
            persona: persona,
            sink: dispatcher,
            artifactDirectory: self.artifactDirectory,
            osFamily: family,
            kernelVersion: profile.kernelVersion,
            distro: profile.slug,
            dataChannels: PosixDataChannels(),
            tlsPorts: tlsPorts,
            address: addresses.first.map(\.host).flatMap { $0 == "0.0.0.0" ? nil : $0 } ?? environment["DECNET_IP"]
        )
        // Files planted for this decky name and the canary tokens of the state directory, as the engine has them.
        let stateDirectory = environment["DECNET_STATE_DIR"] ?? "."
        context.planted = PlantedFiles(root: PlantedFiles.root(stateDirectory: stateDirectory, decky: context.decky))
        context.canaryTokens = CanaryTokenLookup(CanaryTokenDirectory(stateDirectory: stateDirectory))
        let limits = ConnectionLimits(
            idleTimeout: .seconds(Int64(max(1, self.idleTimeout))),
            maximumPerSource: max(1, self.maximumPerSource),
            maximumConnections: max(1, self.maximumConnections)
        )
        var listeners: [any RunningService] = []
        for address in addresses {
            do {
                let listener: any RunningService
                if datagram != nil {
                    // On every address the socket joins the service's multicast groups (LLMNR, mDNS).
                    listener = try await ServiceLauncher.serveDatagrams(
                        kind,
                        registry: .builtin,
                        context: context,
                        host: address.host,
                        port: address.port,
                        namespace: nil,
                        multicast: address.host == "0.0.0.0"
                    )
                } else {
                    listener = try await ServiceLauncher.bind(
                        kind,
                        registry: .builtin,
                        context: context,
                        host: address.host,
                        port: address.port,
                        limits: limits
                    )
                }
                listeners.append(listener)
                let bound =
                    listener.localAddress.map { "\($0.ipAddress ?? address.host):\($0.port ?? address.port)" } ?? "?"
                let tls = datagram != nil ? " (UDP)" : tlsPorts.contains(address.port) ? " (TLS)" : ""
                FileHandle.standardError.write(Data("decnet: \(kind) listening on \(bound)\(tls)\n".utf8))
            } catch let failure as ServiceLauncher.Failure {
                throw CommandFailure(failure.description)
            } catch {
                for listener in listeners { await listener.close() }
                throw CommandFailure("cannot listen on \(address.host):\(address.port): \(error)")
            }
        }
        let running = listeners
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) {
            Task { for listener in running { await listener.close() } }
        }
        // Event delivery writes the log file with blocking calls: it runs off the pool that serves connections.
        let delivery = Task(executorPreference: BlockingIOExecutor.shared) { await dispatcher.run() }
        await withDiscardingTaskGroup { group in
            for listener in running { group.addTask { await listener.run() } }
        }
        signals.cancel()
        dispatcher.finish()
        await delivery.value
    }

    static let tlsPorts = ServiceContext.conventionalTLSPorts

    /// Parses `host:port`; a bare port binds all addresses.
    static func address(_ text: String?, defaultPort: Int) throws -> (host: String, port: Int) {
        guard let text else { return ("0.0.0.0", defaultPort) }
        guard let colon = text.lastIndex(of: ":") else {
            guard let port = Int(text), (0...65535).contains(port) else {
                throw CommandFailure(
                    "--bind \(text): expected host:port, e.g. 127.0.0.1:6379",
                    exitCode: .validationFailure
                )
            }
            return ("0.0.0.0", port)
        }
        let host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else {
            throw CommandFailure(
                "--bind \(text): expected host:port, e.g. 127.0.0.1:6379",
                exitCode: .validationFailure
            )
        }
        return (host, port)
    }
}

/// Calls `handler` when one of `signals` arrives (they no longer kill the process while watched).
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        self.sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in self.sources { source.cancel() }
    }
}
