import ArgumentParser
import Foundation

/// `decnet`: the root of the seed's command tree. Only commands that work are registered; later features add
/// theirs here.
public struct DecnetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "decnet",
        abstract: "DECNET-Swift: a honeypot deception network of fake LAN hosts (deckies).",
        version: DecnetVersion.current,
        subcommands: DeploymentMode.visible(DecnetCommand.all)
    )

    /// Every command, in the order `--help` lists them.
    static let all: [any ParsableCommand.Type] = [
        DeployCommand.self,
        StatusCommand.self,
        TeardownCommand.self,
        LifecycleCommand.self,
        ReconcileCommand.self,
        InventoryCommand.self,
        ServicesCommand.self,
        ArchetypesCommand.self,
        DistrosCommand.self,
        InitCommand.self,
        ServiceCommand.self,
        LabCommand.self,
        EngineCommand.self,
        DatabaseCommand.self,
        WorkersCommand.self,
        BusCommand.self,
        ForwarderCommand.self,
        ListenerCommand.self,
        CACommand.self,
        SwarmCommand.self,
        SwarmctlCommand.self,
        AgentCommand.self,
        UpdaterCommand.self,
        TopologyCommand.self,
        SnifferCommand.self,
        APICommand.self,
        WebCommand.self,
        GeoIPCommand.self,
        ProfilerCommand.self,
        TTPCommand.self,
        WebhookCommand.self,
        CanaryCommand.self,
    ]

    public init() {}

    /// Parses the process arguments and runs the chosen command; a `CommandFailure` prints its message alone
    /// (no usage text) and exits with its code. A word that names no subcommand is an error even beside `--help`.
    public static func runMain() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let refusal = await DeploymentMode.refusal(for: arguments) {
            FileHandle.standardError.write(Data("error: \(refusal)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        if let unknown = CommandTree.unknownSubcommand(in: arguments) {
            FileHandle.standardError.write(
                Data(
                    "error: '\(unknown.word)' is not a subcommand of '\(unknown.parent)'; see '\(unknown.parent) --help'\n"
                        .utf8
                )
            )
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try self.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            if !failure.description.isEmpty {
                FileHandle.standardError.write(Data(("error: " + failure.description + "\n").utf8))
            }
            Foundation.exit(failure.exitCode.rawValue)
        } catch {
            self.exit(withError: error)
        }
    }
}

/// The version `decnet --version` prints.
public enum DecnetVersion {
    public static let current = "0.1.0"
}
