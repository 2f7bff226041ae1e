import ArgumentParser
import DecnetConfig
import DecnetCore
import Foundation

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
            let directory = URL(fileURLWithPath: environment.stateDirectory).standardizedFileURL.path
            print("Nothing is deployed: no \(FleetState.fileName) in \(directory). Run `decnet deploy` first.")
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
