import ArgumentParser
import DecnetConfig
import Foundation

/// The seed's deployment modes: on an agent (`DECNET_MODE=agent`) the master-only commands are hidden from
/// `--help` and refused, and so is the full API; the agent is driven by its master over the control channel.
enum DeploymentMode {
    /// What only a master runs: the store and its workers, the API and dashboard, the intelligence, the swarm.
    static let masterOnly: [any ParsableCommand.Type] = [
        APICommand.self, WebCommand.self, DatabaseCommand.self, WorkersCommand.self, ProfilerCommand.self,
        ListenerCommand.self, SwarmCommand.self, SwarmctlCommand.self, UpdaterCommand.self, TTPCommand.self,
        WebhookCommand.self, CanaryCommand.self, TopologyCommand.self,
    ]

    static var masterOnlyNames: Set<String> {
        Set(Self.masterOnly.map { $0.configuration.commandName ?? $0._commandName })
    }

    /// `commands` less the master-only ones when the process's environment says this host is an agent (what
    /// `--help` lists; `.env.local` is read later, by `refusal(for:)`).
    static func visible(_ commands: [any ParsableCommand.Type]) -> [any ParsableCommand.Type] {
        guard ProcessInfo.processInfo.environment["DECNET_MODE"]?.lowercased() == "agent" else { return commands }
        let hidden = Set(Self.masterOnly.map(ObjectIdentifier.init))
        return commands.filter { !hidden.contains(ObjectIdentifier($0)) }
    }

    /// Why `arguments` may not run here: a master-only command on a host whose environment (the process's or
    /// `.env.local`) sets `DECNET_MODE=agent`. Nil otherwise, and when the environment cannot be read (the
    /// command itself then says why).
    static func refusal(for arguments: [String]) async -> String? {
        guard let word = arguments.first(where: { !$0.hasPrefix("-") }), Self.masterOnlyNames.contains(word) else {
            return nil
        }
        guard
            let environment = try? await DecnetEnvironment.load(environment: ProcessInfo.processInfo.environment),
            environment.mode == .agent
        else { return nil }
        return
            "decnet \(word) runs on the master; this host is an agent (DECNET_MODE=agent), driven by its master (decnet swarmctl, decnet updater)"
    }
}
