import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetDocker
import DecnetRuntime
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
        if state.driver == "native", state.deployed {
            return try await self.nativeStatus(state, directory: environment.stateDirectory)
        }
        if state.driver == "docker", state.deployed, !self.json {
            return try self.dockerStatus(state)
        }
        if self.json { return try JSONOutput.print(state) }
        let how = state.deployed ? "deployed" : "planned only (dry run)"
        print("\(how) by the \(state.driver) driver, \(state.mode) mode, at \(state.createdAt)")
        if let config = state.configFile { print("from \(config)") }
        if let compose = state.composeFile { print("compose file \(compose)") }
        print(FleetSummary.render(state.fleet))
    }

    /// The live fleet from its engine; the plan alone when the engine is not running.
    func nativeStatus(_ state: FleetState, directory: String) async throws {
        guard let pid = EngineProcess.running(directory),
            let response = try? await EngineClient.send(EngineRequest(.status), stateDirectory: directory),
            let status = response.status
        else {
            if self.json { return try JSONOutput.print(state) }
            print("native fleet, engine NOT running (run `decnet reconcile` to bring it back)")
            print(FleetSummary.render(state.fleet))
            return
        }
        if self.json { return try JSONOutput.print(status) }
        let megabytes = Double(status.residentBytes) / 1_048_576
        print(
            "native fleet on \(status.network): engine \(pid) \(status.phase) since \(status.startedAt), RSS \(String(format: "%.1f", megabytes)) MiB"
        )
        let running = status.deckies.filter { $0.state == .running }.count
        print("\(running)/\(status.deckies.count) decky(s) running\n")
        print(StatusTable.render(status.deckies))
    }

    /// The Docker driver's fleet: each decky's containers as the engine reports them.
    func dockerStatus(_ state: FleetState) throws {
        let containers: [DockerEngine.Container]
        do {
            containers = try DockerEngine.containers()
        } catch {
            throw CommandFailure("the Docker driver cannot read the fleet's containers: \(error)")
        }
        print("docker fleet, \(state.mode) mode, compose file \(state.composeFile ?? "?")")
        print(DockerFleetTable.render(state.fleet, containers: containers))
    }
}
