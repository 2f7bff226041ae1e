import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decnet lab`: a LAN made of network namespaces (a switch with a bridge, an attacker host) for trying
/// deckies with no real network. Nothing is attached to the host's own interfaces.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build, inspect or remove a lab LAN of network namespaces, and run commands as its attacker.",
        subcommands: [LabUpCommand.self, LabDownCommand.self, LabStatusCommand.self, LabExecCommand.self]
    )

    /// What `lab up` remembers in the state directory, so the other subcommands find the lab.
    struct Record: Codable {
        var name: String
        var subnet: IPv4Network
    }

    static let fileName = "decnet-lab.json"

    static func recordPath(_ environment: DecnetEnvironment) -> String {
        (environment.stateDirectory as NSString).appendingPathComponent(Self.fileName)
    }

    static func load(_ environment: DecnetEnvironment) throws -> LabNetwork {
        let path = Self.recordPath(environment)
        guard let data = FileManager.default.contents(atPath: path),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else { throw CommandFailure("no lab is up here (no \(path)); run `decnet lab up` first") }
        return LabNetwork(name: record.name, subnet: record.subnet)
    }

    /// Remembers `lab` in the state directory.
    static func record(_ lab: LabNetwork, environment: DecnetEnvironment) throws {
        let record = Record(name: lab.name, subnet: lab.subnet)
        try FileManager.default.createDirectory(atPath: environment.stateDirectory, withIntermediateDirectories: true)
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: Self.recordPath(environment)))
    }

    static func requireRoot() throws {
        guard getuid() == 0 else {
            throw CommandFailure("network namespaces need root (CAP_NET_ADMIN and CAP_SYS_ADMIN); run with sudo")
        }
    }
}

struct LabUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create the lab's switch and attacker."
    )

    static let defaultSubnet = "10.77.0.0/24"

    @Option(help: "Lab subnet (the bridge takes its first address as gateway, the attacker its last).")
    var subnet: String = LabUpCommand.defaultSubnet
    @Option(help: "Name that prefixes the lab's namespaces (decnet-NAME-switch, decnet-NAME-attacker).") var name:
        String = "lab"

    func run() async throws {
        try LabCommand.requireRoot()
        guard let network = IPv4Network(self.subnet), network.prefixLength <= 30 else {
            throw CommandFailure(
                "--subnet \(self.subnet): expected a CIDR with host bits zero, /30 or larger",
                exitCode: .validationFailure
            )
        }
        guard InputSyntax.isName(self.name), self.name.count <= 20 else {
            throw CommandFailure(
                "--name \(self.name): expected up to 20 letters, digits, '-' or '_'",
                exitCode: .validationFailure
            )
        }
        let environment = try await EnvironmentLoading.load()
        let lab = LabNetwork(name: self.name, subnet: network)
        if await lab.isUp() {
            print("lab \(self.name) is already up (\(lab.switchNamespace), \(lab.attackerNamespace))")
            return
        }
        do {
            try await lab.up()
        } catch {
            await lab.down()
            throw CommandFailure("cannot build the lab: \(error)")
        }
        try LabCommand.record(lab, environment: environment)
        print("lab \(self.name) up: \(network), bridge \(LabNetwork.bridge) in \(lab.switchNamespace)")
        print("attacker: \(lab.attackerAddress) in \(lab.attackerNamespace)   try: decnet lab exec -- ip addr")
    }
}

struct LabDownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Remove the lab (safe to run twice)."
    )

    func run() async throws {
        try LabCommand.requireRoot()
        let environment = try await EnvironmentLoading.load()
        guard let lab = try? LabCommand.load(environment) else {
            print("no lab is up")
            return
        }
        await lab.down()
        try? FileManager.default.removeItem(atPath: LabCommand.recordPath(environment))
        print("lab \(lab.name) removed")
    }
}

struct LabStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show whether the lab is up.")

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        guard let lab = try? LabCommand.load(environment) else {
            print("no lab is up")
            return
        }
        let up = await lab.isUp()
        print(
            "lab \(lab.name) \(lab.subnet): \(up ? "up" : "down (its namespaces are gone)"); attacker \(lab.attackerAddress)"
        )
    }
}

struct LabExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command as the lab's attacker (nmap, ssh, curl …).",
        discussion: """
            The command follows `--`, so that its own options are never taken for this command's.
              decnet lab exec -- nmap -sV 10.77.0.10
              decnet lab exec --name bench -- ip addr      # the attacker of the lab named bench
            """
    )

    @Option(help: "The lab to use, by the name given to `lab up --name` (default: the lab recorded here).")
    var name: String?
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after `--`.") var command: [String] = []

    func run() async throws {
        try LabCommand.requireRoot()
        let namespace: String
        if let name = self.name {
            guard InputSyntax.isName(name) else {
                throw CommandFailure(
                    "--name \(name): expected letters, digits, '-' or '_'",
                    exitCode: .validationFailure
                )
            }
            namespace = LabNetwork.attackerNamespace(name: name)
            guard NamespaceThread.exists(namespace) else {
                throw CommandFailure("no lab named \(name) is up (no namespace \(namespace))")
            }
        } else {
            namespace = try LabCommand.load(try await EnvironmentLoading.load()).attackerNamespace
        }
        guard !self.command.isEmpty else {
            throw CommandFailure(
                "expected a command after --, e.g. decnet lab exec -- ip addr",
                exitCode: .validationFailure
            )
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace] + self.command
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw ExitCode(process.terminationStatus) }
    }
}
