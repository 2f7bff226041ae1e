import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPipeline
import DecnetRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decnet topology list|create|deploy|teardown`: MazeNET topologies, several segments joined by router deckies,
/// deployed as this host's fleet on segments of namespaces (each its own switch; the routers the only way between
/// them) with the lab's attacker on the entry segment.
struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Manage MazeNET topologies (segments joined by router deckies).",
        discussion:
            "A topology file is a fleet file with [subnet:NAME] sections, a subnet = NAME in each decky and router = segment:address, … in each router (docs/mazenet.md).",
        subcommands: [List.self, Create.self, Deploy.self, Teardown.self]
    )

    static func store(_ environment: DecnetEnvironment) -> TopologyStore {
        TopologyStore(stateDirectory: environment.stateDirectory)
    }

    static func find(_ reference: String, environment: DecnetEnvironment) throws -> TopologyRecord {
        guard let record = Self.store(environment).find(reference) else {
            throw CommandFailure(
                "no topology \(reference) (decnet topology list)",
                exitCode: .validationFailure
            )
        }
        return record
    }

    /// The topology's fleet and its wiring, from its file's text; every problem named by file, line and key.
    static func plan(_ source: String, path: String, name: String) throws -> (Fleet, MazeLayout) {
        do {
            return try TopologyFileLoader.plan(source, path: path, name: name)
        } catch let error as ConfigurationError {
            throw CommandFailure(error.description, exitCode: .validationFailure)
        } catch {
            throw CommandFailure("\(path): \(error)", exitCode: .validationFailure)
        }
    }

    /// Records a mutation's state and says it on the bus (`topology.{id}.mutation.{state}`).
    static func mutate(
        _ id: String,
        _ mutation: String,
        operation: String,
        state: String,
        message: String,
        environment: DecnetEnvironment
    ) async {
        _ = try? Self.store(environment).update(id) { record in
            if let index = record.mutations.firstIndex(where: { $0.id == mutation }) {
                record.mutations[index].state = state
                record.mutations[index].message = message
                if state == "done" || state == "failed" { record.mutations[index].finished = Date() }
            } else {
                record.mutations.append(
                    TopologyRecord.Mutation(
                        id: mutation,
                        operation: operation,
                        state: state,
                        message: message,
                        started: Date(),
                        finished: nil
                    )
                )
            }
            if state == "done" { record.status = operation == "teardown" ? "torn-down" : "deployed" }
        }
        let bus = BusPublisher(
            socketPath: BusTopics.socket(stateDirectory: environment.stateDirectory),
            name: "topology"
        )
        let running = Task { await bus.run() }
        bus.publish(
            "topology.\(id).mutation.\(state)",
            json: ["topology": id, "mutation": mutation, "operation": operation, "message": message]
        )
        await bus.close(running: running, grace: .milliseconds(500))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the topologies.")
        @Flag(help: "JSON instead of a table.") var json = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let records = TopologyCommand.store(environment).all()
            if self.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(records), as: UTF8.self))
                return
            }
            guard !records.isEmpty else {
                print("no topologies (decnet topology create --name NAME --config FILE)")
                return
            }
            print("ID            NAME                  STATUS      LAST MUTATION")
            for record in records {
                let last = record.mutations.last.map { "\($0.operation) \($0.state)" } ?? "-"
                print(
                    record.id + "  " + record.name.padding(toLength: 20, withPad: " ", startingAt: 0) + "  "
                        + record.status.padding(toLength: 10, withPad: " ", startingAt: 0) + "  " + last
                )
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topology from a topology file.")
        @Option(help: "Its name.") var name: String
        @Option(help: "The topology file (INI).") var config: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            guard InputSyntax.isName(self.name) else {
                throw CommandFailure(
                    "--name \(self.name): expected letters, digits, '-' or '_'",
                    exitCode: .validationFailure
                )
            }
            let store = TopologyCommand.store(environment)
            if store.find(self.name) != nil {
                throw CommandFailure("a topology named \(self.name) exists", exitCode: .validationFailure)
            }
            let source: String
            do { source = try String(contentsOfFile: self.config, encoding: .utf8) } catch {
                throw CommandFailure("--config \(self.config): \(error)", exitCode: .validationFailure)
            }
            let (_, layout) = try TopologyCommand.plan(source, path: self.config, name: "m")
            let record = TopologyRecord.created(name: self.name, source: source, summary: layout.summary)
            try store.save(record)
            print("topology \(record.name) created: \(record.id) (\(layout.summary))")
        }
    }

    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy a topology as this host's fleet: its segments, routers and deckies."
        )
        @Option(help: "The topology's id (or name).") var id: String
        @Option(help: "Record progress under this mutation id (the API's).") var mutation: String?

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let record = try TopologyCommand.find(self.id, environment: environment)
            let mutation = self.mutation ?? UUID().uuidString.lowercased()
            await TopologyCommand.mutate(
                record.id,
                mutation,
                operation: "deploy",
                state: "running",
                message: "planning",
                environment: environment
            )
            do {
                let status = try await Self.deploy(record, environment: environment)
                print(StatusTable.render(status.deckies))
                let failed = status.deckies.filter { $0.state == .failed }
                guard failed.isEmpty else {
                    throw CommandFailure("\(failed.count) of \(status.deckies.count) decky(s) failed")
                }
                await TopologyCommand.mutate(
                    record.id,
                    mutation,
                    operation: "deploy",
                    state: "done",
                    message: "\(status.deckies.count) decky(s) running",
                    environment: environment
                )
                print("the lab's attacker: sudo decnet lab exec --name \(record.networkName) -- …")
            } catch {
                await TopologyCommand.mutate(
                    record.id,
                    mutation,
                    operation: "deploy",
                    state: "failed",
                    message: "\(error)",
                    environment: environment
                )
                throw error
            }
        }

        static func deploy(_ record: TopologyRecord, environment: DecnetEnvironment) async throws -> EngineStatus {
            guard getuid() == 0 else {
                throw CommandFailure("a topology's segments are network namespaces, which need root: run with sudo")
            }
            let (fleet, layout) = try TopologyCommand.plan(
                record.source,
                path: "topology \(record.name)",
                name: record.networkName
            )
            let maze = MazeNetwork(layout: layout)
            if !(await maze.isUp()) {
                await maze.down()
                do { try await maze.up() } catch {
                    await maze.down()
                    throw CommandFailure("cannot build the topology's segments: \(error)")
                }
            }
            let directory = environment.stateDirectory
            let previous = try? FleetState.read(fromDirectory: directory)
            let state = FleetState(
                driver: "native",
                mode: "unihost",
                deployed: true,
                composeFile: nil,
                configFile: nil,
                native: NativeDeployment(network: .maze, maze: layout),
                fleet: fleet
            )
            guard
                let status = try await DeployCommand.handToEngine(
                    state,
                    previous: previous,
                    environment: environment,
                    foreground: false
                )
            else { throw CommandFailure("the engine did not start") }
            return status
        }
    }

    struct Teardown: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tear a deployed topology down: its deckies, routers, segments and attacker."
        )
        @Option(help: "The topology's id (or name).") var id: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let record = try TopologyCommand.find(self.id, environment: environment)
            guard getuid() == 0 else { throw CommandFailure("tearing down namespaces needs root: run with sudo") }
            let mutation = UUID().uuidString.lowercased()
            await TopologyCommand.mutate(
                record.id,
                mutation,
                operation: "teardown",
                state: "running",
                message: "tearing down",
                environment: environment
            )
            let directory = environment.stateDirectory
            var removed = 0
            if let state = try? FleetState.read(fromDirectory: directory), let layout = state.native?.maze,
                layout.name == record.networkName
            {
                await TeardownCommand.tearDownAll(state, directory: directory)
                removed = state.fleet.deckies.count
                await MazeNetwork(layout: layout).down()
            } else if let (_, layout) = try? TopologyCommand.plan(
                record.source,
                path: record.name,
                name: record.networkName
            ) {
                // Not this host's fleet: only its segments, if any are left.
                await MazeNetwork(layout: layout).down()
            }
            await TopologyCommand.mutate(
                record.id,
                mutation,
                operation: "teardown",
                state: "done",
                message: "\(removed) decky(s) removed",
                environment: environment
            )
            print("topology \(record.name) torn down (\(removed) decky(s))")
        }
    }
}
