import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPipeline
import Foundation

/// `decnet swarm add|remove|list`: the agent hosts the master accepts, each pinned to its client certificate.
struct SwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Manage swarm hosts (agents pinned to their client certificates, <state>/swarm/hosts.json).",
        discussion:
            "The master's listener (decnet listener start --swarm) lets in only the pinned certificates: one from the project's CA that is not pinned is refused, and so is every certificate of a host after swarm remove.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    static func registry(_ environment: DecnetEnvironment) -> SwarmRegistry {
        SwarmRegistry(stateDirectory: environment.stateDirectory)
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Add a host, pinned to its client certificate (issued from the local CA when --cert is not given)."
        )

        @Option(help: "The agent's address, as the master reaches it.") var host: String
        @Option(help: "The host's name in the swarm (letters, digits, '-', '_', '.').") var name: String
        @Option(help: "The agent's client certificate (PEM) to pin; default: issue one from the local CA.")
        var cert: String?

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            do {
                let (added, identity) = try SwarmEnrolment.enrol(
                    stateDirectory: environment.stateDirectory,
                    name: self.name,
                    address: self.host,
                    certificatePath: self.cert
                )
                if let identity {
                    print(
                        "the agent's identity is in \(identity) (copy it to \(self.host) and pass it to decnet agent start --identity)"
                    )
                }
                print("swarm host \(added.name) (\(added.address)) pinned to \(added.fingerprint)")
            } catch {
                throw CommandFailure("\(error)", exitCode: .validationFailure)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a host: its certificate is refused from now on."
        )

        @Option(help: "The host's name.") var name: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            do {
                let removed = try SwarmCommand.registry(environment).remove(name: self.name)
                print("swarm host \(removed.name) removed; \(removed.fingerprint) is refused from now on")
            } catch {
                throw CommandFailure("\(error)", exitCode: .validationFailure)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the hosts, their pinned certificates and when the master's listener last heard them."
        )

        @Flag(help: "JSON instead of a table.") var json = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let hosts: [SwarmHostView]
            do { hosts = try SwarmStatus.hosts(stateDirectory: environment.stateDirectory) } catch {
                throw CommandFailure("\(error)")
            }
            let dates = ISO8601DateFormatter()
            if self.json {
                let rows = hosts.map { view -> [String: Any] in
                    var row: [String: Any] = [
                        "name": view.host.name, "address": view.host.address, "fingerprint": view.host.fingerprint,
                        "subject": view.host.subject, "added": dates.string(from: view.host.added), "state": view.state,
                    ]
                    if let date = view.lastSeen { row["last_seen"] = dates.string(from: date) }
                    if let interval = view.heartbeatSeconds { row["heartbeat_seconds"] = interval }
                    return row
                }
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !hosts.isEmpty else {
                print("no swarm hosts (decnet swarm add --host ADDRESS --name NAME)")
                return
            }
            print("NAME  ADDRESS  STATE  CERTIFICATE  LAST SEEN")
            for view in hosts {
                let seen = view.lastSeen.map { dates.string(from: $0) } ?? "never"
                print(
                    "\(view.host.name)  \(view.host.address)  \(view.state)  \(view.host.fingerprint.prefix(23))…  \(seen)"
                )
            }
        }
    }
}
