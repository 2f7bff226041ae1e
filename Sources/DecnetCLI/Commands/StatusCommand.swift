import ArgumentParser
import DecnetConfig
import DecnetCore

/// `decnet status`: the fleet table from the state file.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Print fleet state table.")

    @Flag(help: "Print the state file's JSON for scripts.") var json = false

    func run() async throws {
        let environment = try await EnvironmentLoading.load()
        let state: FleetState?
        do {
            state = try FleetState.read(fromDirectory: environment.stateDirectory)
        } catch {
            throw CommandFailure("\(error)")
        }
        guard let state else {
            if self.json { return try JSONOutput.print([String: String]()) }
            print(
                "Nothing is deployed: no \(FleetState.fileName) in \(environment.stateDirectory). Run `decnet deploy` first."
            )
            return
        }
        if self.json { return try JSONOutput.print(state) }
        let how = state.deployed ? "deployed" : "planned only (dry run)"
        print("\(how) by the \(state.driver) driver, \(state.mode) mode, at \(state.createdAt)")
        if let config = state.configFile { print("from \(config)") }
        if let compose = state.composeFile { print("compose file \(compose)") }
        print(FleetSummary.render(state.fleet))
    }
}
