import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetDocker
import DecnetRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decnet deploy`: plan a fleet from flags and/or a fleet file, write its state and (Docker driver) its
/// docker-compose.yml, and bring it up unless `--dry-run`.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy deckies (unihost or swarm mode).",
        discussion: """
            Examples:
              sudo decnet deploy --lab --deckies 3 --archetype linux-server
              sudo decnet deploy --config mynet.ini --interface eth0
              decnet deploy --loopback --deckies 3 --services http,redis   (no root)
              decnet deploy --mode unihost --deckies 5 --randomize-services --dry-run
            The native driver (default) makes each decky a network namespace served by one engine process,
            which keeps running as a daemon (decnet-engine.pid, decnet-engine.log in the state directory).
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable { case unihost, swarm }
    enum Driver: String, ExpressibleByArgument, CaseIterable { case native, docker }

    @Option(help: "unihost or swarm.") var mode: Mode = .unihost
    @Option(name: [.customLong("deckies"), .customShort("n")], help: "Number of deckies.") var deckies: Int?
    @Option(
        name: [.customLong("interface"), .customShort("i")],
        help: "Host NIC for MACVLAN (default: the default route's)."
    )
    var interface: String?
    @Option(help: "LAN CIDR (default: the default route's subnet).") var subnet: String?
    @Option(name: .customLong("ip-start"), help: "First decky IP (default: .100 of a /24 or larger).") var ipStart:
        String?
    @Option(help: "Comma-separated service slugs.") var services: String?
    @Flag(name: .customLong("randomize-services"), help: "Random services per decky.") var randomizeServices = false
    @Option(help: "Distro slugs to cycle through, comma-separated (default: all, round-robin).") var distro: String?
    @Flag(name: .customLong("randomize-distros"), help: "Random distro per decky.") var randomizeDistros = false
    @Option(name: [.customLong("archetype"), .customShort("a")], help: "Machine archetype slug.") var archetype: String?
    @Option(
        name: .customLong("log-target"),
        help: "ip:port of a syslog receiver on loopback (RFC 5424 over TCP; other hosts: decnet forwarder)."
    )
    var logTarget: String?
    @Option(name: .customLong("log-file"), help: "Log path inside containers.") var logFile: String?
    @Flag(help: "IPvlan L2 instead of MACVLAN.") var ipvlan = false
    @Flag(name: .customLong("dry-run"), help: "Generate compose and state without starting anything.") var dryRun =
        false
    @Flag(name: .customLong("no-cache"), help: "Force rebuild all images.") var noCache = false
    @Option(name: [.customLong("config"), .customShort("c")], help: "INI config file path.") var config: String?
    @Option(help: "Seed for every random choice, to plan the same fleet again (DECNET-Swift).") var seed: UInt64?
    @Option(help: "How deckies are run: native (network namespaces, one engine) or docker (compose).")
    var driver: Driver = .native
    @Flag(help: "Put the fleet on the lab LAN of namespaces (built if it is not up; see `decnet lab`).") var lab = false
    @Option(name: .customLong("lab-name"), help: "The lab to use with --lab.") var labName = "lab"
    @Flag(help: "No root needed: each decky on its own 127.x address, privileged ports shifted by --port-offset.")
    var loopback = false
    @Option(name: .customLong("port-offset"), help: "Added to ports below 1024 that cannot be bound (--loopback).")
    var portOffset = NativeDeployment.defaultPortOffset
    @Flag(help: "Run the engine in this process instead of as a daemon.") var foreground = false
    @Flag(name: .customLong("no-hairpin"), help: "Do not make the host-side decnet_macvlan0 interface.") var noHairpin =
        false

    /// The macvlan parent when neither the operator nor the default route names one.
    static let fallbackInterface = "eth0"

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        if self.mode == .swarm {
            throw CommandFailure(
                "--mode swarm: deploy on an agent with decnet swarmctl deploy --host NAME --config FILE (hosts: decnet swarm list); here, use --mode unihost"
            )
        }
        var flags = DeployFlags()
        flags.deckies = self.deckies
        flags.interface = self.interface
        flags.subnet = self.subnet
        flags.ipStart = self.ipStart
        flags.services = self.services
        flags.randomizeServices = self.randomizeServices
        flags.distro = self.distro
        flags.randomizeDistros = self.randomizeDistros
        flags.archetype = self.archetype
        flags.logTarget = self.logTarget
        flags.ipvlan = self.ipvlan
        flags.seed = self.seed
        flags.config = self.config

        // A plain dry run plans as the seed does: state plus the compose file, whichever driver would run it.
        if self.driver == .native && (!self.dryRun || self.lab || self.loopback) {
            return try await self.deployNative(flags: flags, environment: environment)
        }
        let route = HostNetwork.defaultRoute().map {
            DetectedRoute(interface: $0.interface, gateway: $0.gateway, subnet: $0.subnet)
        }
        var fleet = try Self.plan(CommandLineFleet.request(flags: flags, detected: route))
        if fleet.interface == nil {
            fleet.interface = Self.fallbackInterface
            print(
                "note: no interface given and no default route found; using \(Self.fallbackInterface) (set --interface)"
            )
        }

        print(FleetSummary.render(fleet))
        let directory = environment.stateDirectory
        let composePath = (directory as NSString).appendingPathComponent("docker-compose.yml")
        // Service containers append to the host's event log (the directory is mounted), so the workers ingest
        // the Docker driver's events exactly as the native engine's.
        let hostLog = URL(fileURLWithPath: self.logFile ?? environment.ingestLogFile).standardizedFileURL
        var options = ComposeWriter.Options()
        options.logDirectory = hostLog.deletingLastPathComponent().path
        options.containerLogFile = "/var/log/decnet/" + hostLog.lastPathComponent
        let yaml = try ComposeWriter(options: options).yaml(for: fleet)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                atPath: (directory as NSString).appendingPathComponent("logs"),
                withIntermediateDirectories: true
            )
            try yaml.write(toFile: composePath, atomically: true, encoding: .utf8)
        } catch {
            throw CommandFailure("\(composePath): cannot be written (\(error.localizedDescription))")
        }
        var state = FleetState(
            driver: self.driver.rawValue,
            mode: self.mode.rawValue,
            deployed: false,
            composeFile: composePath,
            configFile: self.config,
            fleet: fleet
        )
        try state.write(toDirectory: directory)
        print("\nwrote \(composePath)")
        print("wrote \(FleetState.path(in: directory))")
        if self.dryRun {
            print("dry run: nothing was started")
            return
        }

        do {
            try DockerEngine.checkReachable(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandFailure("the Docker driver cannot deploy: \(error)")
        }
        let source = environment.sourceDirectory ?? FileManager.default.currentDirectoryPath
        let build = self.noCache || !DockerEngine.imageExists(options.serviceImage)
        guard
            !build || FileManager.default.fileExists(atPath: (source as NSString).appendingPathComponent("Dockerfile"))
        else {
            throw CommandFailure(
                "the Docker driver cannot deploy: no image \(options.serviceImage) and no Dockerfile in \(source) to build it from (set DECNET_SOURCE_DIR to a checkout, or build it with scripts/docker-image.sh)"
            )
        }
        do {
            if build {
                try DockerEngine.buildImage(tag: options.serviceImage, context: source, noCache: self.noCache)
            } else {
                print("using image \(options.serviceImage) (--no-cache rebuilds it)")
            }
            try FileManager.default.createDirectory(atPath: options.logDirectory, withIntermediateDirectories: true)
            try DockerEngine.compose(["up", "-d"], composeFile: composePath)
        } catch {
            throw CommandFailure("the Docker driver cannot deploy: \(error)")
        }
        state.deployed = true
        try state.write(toDirectory: directory)
        print("deployed \(fleet.deckies.count) deckies")
    }

    static func plan(_ request: FleetRequest) throws -> Fleet {
        do {
            return try FleetPlanner().plan(request)
        } catch {
            throw CommandFailure(error.description, exitCode: .validationFailure)
        }
    }

    /// Writes `state` and hands it to the engine: a running engine reloads it, else one is started (or, in the
    /// foreground, this process serves it until stopped, and nil comes back). Returns the deckies' states.
    static func handToEngine(
        _ state: FleetState,
        previous: FleetState?,
        environment: DecnetEnvironment,
        foreground: Bool
    ) async throws -> EngineStatus? {
        let directory = environment.stateDirectory
        let status: EngineStatus
        if let pid = EngineProcess.running(directory) {
            try state.write(toDirectory: directory)
            let response = try await EngineProcess.send(EngineRequest(.reload), stateDirectory: directory)
            for line in response.report ?? [] where !line.hasPrefix("serving") { print(line) }
            guard let reloaded = response.status else { throw CommandFailure("the engine answered without a status") }
            status = reloaded
            print("engine \(pid) reloaded the fleet")
        } else {
            // Deckies of an earlier fleet whose engine is gone: nobody else will remove them.
            if let previous, previous.driver == "native" {
                let gone = previous.fleet.deckies.map(\.name).filter { name in
                    !state.fleet.deckies.contains { $0.name == name }
                }
                await FleetNetwork.remove(gone, attachment: FleetNetwork.attachment(for: previous))
            }
            try state.write(toDirectory: directory)
            if foreground {
                try await EngineHost.serve(
                    stateDirectory: directory,
                    ingestLogFile: environment.ingestLogFile,
                    rotation: environment.logRotation,
                    sniffer: SnifferSettings.from(environment)
                )
                return nil
            }
            let pid = try EngineProcess.spawn(stateDirectory: directory)
            status = try await EngineProcess.waitReady(stateDirectory: directory, pid: pid)
            print("engine \(pid) started (log \(EngineFiles.log(directory)))")
        }

        return status
    }

    /// The native driver: plan, attach (lab, macvlan, ipvlan or loopback), hand the fleet to the engine and
    /// return when every decky is served.
    func deployNative(flags: DeployFlags, environment: DecnetEnvironment) async throws {
        var flags = flags
        let network: NativeDeployment.Network =
            self.loopback ? .loopback : self.lab ? .lab : self.ipvlan ? .ipvlan : .macvlan
        if self.lab && self.loopback {
            throw CommandFailure("--lab and --loopback exclude each other", exitCode: .validationFailure)
        }
        if self.ipvlan && (self.lab || self.loopback) {
            throw CommandFailure(
                "--ipvlan hangs deckies off a host NIC; it cannot be combined with --lab or --loopback",
                exitCode: .validationFailure
            )
        }
        if network != .loopback && getuid() != 0 && !self.dryRun {
            throw CommandFailure(
                """
                native deckies are network namespaces, which need root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run with sudo.
                To try DECNET without root, put the deckies on this machine's loopback instead:
                  decnet deploy --loopback \(CommandLine.arguments.dropFirst(2).joined(separator: " "))
                (each decky gets its own 127.x address; ports below 1024 move up by --port-offset, default \(NativeDeployment.defaultPortOffset))
                """
            )
        }
        if network == .ipvlan, !self.dryRun, !(await FleetNetwork.kernelHasIPvlan()) {
            throw CommandFailure(
                "--ipvlan: this kernel cannot make IPvlan interfaces (no CONFIG_IPVLAN or ipvlan module); drop --ipvlan to use macvlan"
            )
        }
        var detected = HostNetwork.defaultRoute().map {
            DetectedRoute(interface: $0.interface, gateway: $0.gateway, subnet: $0.subnet)
        }
        var existingLab: LabNetwork?
        if network == .lab {
            detected = nil
            if let recorded = try? LabCommand.load(environment), recorded.name == self.labName, await recorded.isUp() {
                existingLab = recorded
            }
            if flags.subnet == nil && flags.config == nil {
                flags.subnet = existingLab?.subnet.description ?? LabUpCommand.defaultSubnet
            }
        }
        if network == .loopback {
            detected = nil
            // A fleet file's own `net` (which must then be a 127.x subnet) wins over the default loopback subnet.
            if flags.subnet == nil && flags.config == nil { flags.subnet = Self.loopbackSubnet }
        }
        var request = CommandLineFleet.request(flags: flags, detected: detected)
        if network == .lab || network == .loopback {
            // The lab (or loopback) supplies the gateway; a fleet file need not name one.
            request.diagnostics.removeAll { $0.key == "[general] gw" && $0.message.hasPrefix("missing") }
        }
        var labNetwork: LabNetwork?
        if network == .lab, let subnet = request.net?.value {
            if let existingLab, existingLab.subnet != subnet {
                throw CommandFailure(
                    "the lab \(existingLab.name) is up on \(existingLab.subnet) but the fleet is on \(subnet); deploy on \(existingLab.subnet) or run `decnet lab down` first"
                )
            }
            let lab = existingLab ?? LabNetwork(name: self.labName, subnet: subnet)
            labNetwork = lab
            request.gateway = Located(lab.gateway, at: .commandLine, key: "--lab (gateway)")
            request.interface = nil
            request.reserved = [(lab.attackerAddress, "the lab's attacker")]
        }
        if network == .loopback, let subnet = request.net?.value {
            guard IPv4Network("127.0.0.0/8")!.contains(subnet.network) else {
                throw CommandFailure(
                    "--loopback puts deckies on 127.x addresses; the fleet's net is \(subnet) (drop its net/--subnet or use a 127.x subnet)",
                    exitCode: .validationFailure
                )
            }
            request.gateway = Located(subnet.usableRange.lowerBound, at: .commandLine, key: "--loopback")
            request.interface = nil
        }
        var fleet = try Self.plan(request)
        if (network == .macvlan || network == .ipvlan) && fleet.interface == nil {
            fleet.interface = Self.fallbackInterface
            print(
                "note: no interface given and no default route found; using \(Self.fallbackInterface) (set --interface)"
            )
        }
        if network == .ipvlan { fleet.networkDriver = .ipvlan }
        let label: String? =
            switch network {
            case .lab: "lab \(self.labName)"
            case .loopback: "loopback"
            case .macvlan, .ipvlan, .maze: nil
            }
        print(FleetSummary.render(fleet, network: label))

        let directory = environment.stateDirectory
        let native = NativeDeployment(
            network: network,
            lab: network == .lab ? self.labName : nil,
            parent: (network == .macvlan || network == .ipvlan) ? fleet.interface : nil,
            hairpin: network == .macvlan && !self.noHairpin,
            portOffset: self.portOffset
        )
        let previous = try? FleetState.read(fromDirectory: directory)
        let state = FleetState(
            driver: "native",
            mode: self.mode.rawValue,
            deployed: !self.dryRun,
            composeFile: nil,
            configFile: self.config,
            native: native,
            fleet: fleet
        )
        if self.dryRun {
            try state.write(toDirectory: directory)
            print("\nwrote \(FleetState.path(in: directory))")
            print("dry run: nothing was started")
            return
        }
        if let lab = labNetwork, existingLab == nil {
            if !(await lab.isUp()) {
                do {
                    try await lab.up()
                } catch {
                    await lab.down()
                    throw CommandFailure("cannot build the lab: \(error)")
                }
            }
            try LabCommand.record(lab, environment: environment)
            print("lab \(lab.name) up on \(lab.subnet); attacker \(lab.attackerAddress)")
        }
        guard
            let status = try await Self.handToEngine(
                state,
                previous: previous,
                environment: environment,
                foreground: self.foreground
            )
        else { return }
        print(StatusTable.render(status.deckies))
        print("events: \(environment.ingestLogFile)")
        if let lab = labNetwork, let first = fleet.deckies.first {
            print("try: sudo decnet lab exec -- nmap -sV \(first.ip)   (the lab's attacker is \(lab.attackerAddress))")
        }
        let failed = status.deckies.filter { $0.state == .failed }
        if !failed.isEmpty {
            throw CommandFailure(
                "\(failed.count) of \(status.deckies.count) decky(s) failed; see above and \(EngineFiles.log(directory))"
            )
        }
    }

    /// Where --loopback deckies live.
    static let loopbackSubnet = "127.77.0.0/16"
}
