import ArgumentParser
import DecnetConfig
import DecnetPipeline
import Foundation

/// `decnet updater push|rollback|sign`: new `decnet` binaries for swarm agents, signed with the master's release
/// key (`<state>/updater/signing.key`, Ed25519; agents hold its public half as `updater.pub` in their identity).
struct UpdaterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "updater",
        abstract: "Push signed decnet binaries to swarm agents, and roll them back.",
        discussion:
            "An agent checks the binary's SHA-256 and the release key's signature before it keeps anything, runs the new binary on trial, and goes back to the previous one if its agent does not come up.",
        subcommands: [Push.self, Rollback.self, Sign.self]
    )

    static func keyDirectory(_ environment: DecnetEnvironment) -> String {
        SwarmEnrolment.releaseKeyDirectory(stateDirectory: environment.stateDirectory)
    }

    /// The agent's health, read again until `done` says it is what was asked for (or `deadline` passes); the
    /// agent restarts in between, so refused connections are waited through.
    static func await(
        _ name: String,
        environment: DecnetEnvironment,
        deadline: Duration = .seconds(90),
        done: (AgentHealth) throws -> Bool
    ) async throws -> AgentHealth {
        let clock = ContinuousClock()
        let end = clock.now + deadline
        var last = "no answer"
        while clock.now < end {
            var reply: AgentControl.Reply?
            do {
                reply = try await SwarmctlCommand.call(
                    name,
                    AgentControl.Request(op: "health"),
                    environment: environment
                )
            } catch let failure as CommandFailure {
                if failure.description.contains("not the pinned") { throw failure }
                last = failure.description
            }
            if let reply, let health = try? JSONDecoder().decode(AgentHealth.self, from: Data(reply.output.utf8)) {
                if try done(health) { return health }
                last = "runs \(health.sha256.prefix(12)) (\(health.release))"
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw CommandFailure("\(name): not done within \(deadline); the agent \(last)")
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push a decnet binary to an agent, which runs it once it verifies (or goes back if it fails)."
        )

        @Option(help: "The swarm host.") var host: String
        @Option(help: "The binary to push (default: this decnet).") var binary: String?
        @Option(help: "A detached signature (base64, from decnet updater sign) instead of signing here.")
        var signature: String?

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let binary =
                self.binary
                ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: binary),
                let size = (attributes[.size] as? NSNumber)?.intValue, size > 0
            else { throw CommandFailure("--binary \(binary): no such file", exitCode: .validationFailure) }
            let sha = try Self.digest(binary)
            let signed: String
            if let file = self.signature {
                do { signed = try String(contentsOfFile: file, encoding: .utf8) } catch {
                    throw CommandFailure("--signature \(file): \(error)", exitCode: .validationFailure)
                }
            } else {
                do {
                    signed = try ReleaseSigning.sign(
                        sha256: sha,
                        keyDirectory: UpdaterCommand.keyDirectory(environment)
                    )
                } catch {
                    throw CommandFailure("release key: \(error)")
                }
            }
            let (host, address, port, identity) = try SwarmctlCommand.target(self.host, environment: environment)
            let reply: AgentControl.Reply
            do {
                reply = try await AgentControl.call(
                    host: address,
                    port: port,
                    identity: identity,
                    pinned: host.fingerprint,
                    request: AgentControl.Request(op: "update", payload: size, sha256: sha, signature: signed),
                    payload: binary,
                    timeout: .seconds(600)
                )
            } catch {
                throw CommandFailure("\(self.host): \(error)")
            }
            guard reply.ok else { throw CommandFailure("\(self.host) refused the update: \(reply.error)") }
            print("\(self.host): \(sha.prefix(12)) (\(size) bytes) verified and staged; waiting for its agent")
            let health = try await UpdaterCommand.await(self.host, environment: environment) { health in
                if health.release == "rolled-back" {
                    throw CommandFailure("\(self.host) rolled back: \(health.message)")
                }
                return health.sha256 == sha && health.release == "confirmed"
            }
            print("\(self.host): runs \(health.sha256) (decnet \(health.version), pid \(health.pid))")
        }

        static func digest(_ path: String) throws -> String {
            do { return try ReleaseSigning.sha256(ofFile: path) } catch {
                throw CommandFailure("\(path): \(error)", exitCode: .validationFailure)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put an agent back on the binary it ran before.")

        @Option(help: "The swarm host.") var host: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let reply = try await SwarmctlCommand.call(
                self.host,
                AgentControl.Request(op: "rollback"),
                environment: environment
            )
            guard reply.ok else { throw CommandFailure("\(self.host) did not roll back: \(reply.error)") }
            let target = (try? JSONDecoder().decode([String: String].self, from: Data(reply.output.utf8))) ?? [:]
            let sha = target["sha256"] ?? ""
            print("\(self.host): rolling back to \(sha.prefix(12))")
            let health = try await UpdaterCommand.await(self.host, environment: environment) { $0.sha256 == sha }
            print("\(self.host): runs \(health.sha256) (decnet \(health.version), pid \(health.pid))")
        }
    }

    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the release key's signature of a binary (for updater push --signature)."
        )

        @Option(help: "The binary.") var binary: String

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let sha = try Push.digest(self.binary)
            do {
                print(try ReleaseSigning.sign(sha256: sha, keyDirectory: UpdaterCommand.keyDirectory(environment)))
            } catch {
                throw CommandFailure("release key: \(error)")
            }
        }
    }
}
