import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetDocker
import Foundation

/// `decnet deploy`: plan a fleet from flags and/or a fleet file, write its state and (Docker driver) its
/// docker-compose.yml, and bring it up unless `--dry-run`.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy deckies (unihost or swarm mode).",
        discussion: """
            Examples:
              decnet deploy --mode unihost --deckies 5 --randomize-services --dry-run
              decnet deploy --config mynet.ini --dry-run
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable { case unihost, swarm }
    enum Driver: String, ExpressibleByArgument, CaseIterable { case docker }

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
    @Option(name: .customLong("log-target"), help: "ip:port RFC 5424 syslog target.") var logTarget: String?
    @Option(name: .customLong("log-file"), help: "Log path inside containers.") var logFile: String?
    @Flag(help: "IPvlan L2 instead of MACVLAN.") var ipvlan = false
    @Flag(name: .customLong("dry-run"), help: "Generate compose and state without starting anything.") var dryRun =
        false
    @Flag(name: .customLong("no-cache"), help: "Force rebuild all images.") var noCache = false
    @Option(name: [.customLong("config"), .customShort("c")], help: "INI config file path.") var config: String?
    @Option(help: "Seed for every random choice, to plan the same fleet again (DECNET-Swift).") var seed: UInt64?
    @Option(help: "How deckies are run: docker (compose).") var driver: Driver = .docker

    /// The macvlan parent when neither the operator nor the default route names one.
    static let fallbackInterface = "eth0"

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        if self.mode == .swarm {
            throw CommandFailure(
                "--mode swarm needs agent hosts (decnet swarm add), which DECNET-Swift does not have yet; use --mode unihost"
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

        let route = HostNetwork.defaultRoute().map {
            DetectedRoute(interface: $0.interface, gateway: $0.gateway, subnet: $0.subnet)
        }
        let request = CommandLineFleet.request(flags: flags, detected: route)
        var fleet: Fleet
        do {
            fleet = try FleetPlanner().plan(request)
        } catch {
            throw CommandFailure(error.description, exitCode: .validationFailure)
        }
        if fleet.interface == nil {
            fleet.interface = Self.fallbackInterface
            print(
                "note: no interface given and no default route found; using \(Self.fallbackInterface) (set --interface)"
            )
        }

        print(FleetSummary.render(fleet))
        let directory = environment.stateDirectory
        let composePath = (directory as NSString).appendingPathComponent("docker-compose.yml")
        var options = ComposeWriter.Options()
        if let logFile = self.logFile { options.containerLogFile = logFile }
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
            let source =
                environment.sourceDirectory ?? FileManager.default.currentDirectoryPath
            if FileManager.default.fileExists(atPath: (source as NSString).appendingPathComponent("Dockerfile")) {
                try DockerEngine.buildImage(tag: options.serviceImage, context: source, noCache: self.noCache)
            }
            try DockerEngine.compose(["up", "-d"], composeFile: composePath)
        } catch {
            throw CommandFailure("the Docker driver cannot deploy: \(error)")
        }
        state.deployed = true
        try state.write(toDirectory: directory)
        print("deployed \(fleet.deckies.count) deckies")
    }
}
