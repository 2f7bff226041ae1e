import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetPacket
import DecnetRuntime
import Foundation

/// `decnet sniffer start|stop|status`: the seed's passive capture. Here it is the engine's packet layer (one
/// capture per decky namespace, see docs/architecture.md); these commands switch it and report on it.
struct SnifferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sniffer",
        abstract: "Manage passive packet capture (scan detection, attacker TCP fingerprints).",
        discussion: """
            The packet layer runs inside the native engine, one capture per decky. `stop` turns it off (kept \
            across engine restarts) and `start` on again; DECNET_SNIFFER=false leaves it out entirely.
            """,
        subcommands: [Start.self, Stop.self, Status.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start capturing on every decky.")
        func run() async throws { try await SnifferCommand.send(.snifferStart) }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop capturing (scans in progress end).")
        func run() async throws { try await SnifferCommand.send(.snifferStop) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what the packet layer sees.")
        @Flag(help: "Print the status as JSON.") var json = false

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let directory = environment.stateDirectory
            guard EngineProcess.running(directory) != nil else {
                throw CommandFailure("no engine runs in \(directory); `decnet deploy` starts one", exitCode: .failure)
            }
            let response = try await EngineProcess.send(EngineRequest(.status, brief: true), stateDirectory: directory)
            guard let status = response.status?.sniffer else {
                print("sniffer: not in this engine (DECNET_SNIFFER=false, or the loopback network)")
                return
            }
            if self.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print(SnifferCommand.render(status))
        }
    }

    static func send(_ operation: EngineRequest.Operation) async throws {
        let environment = try await EnvironmentLoading.load()
        let directory = environment.stateDirectory
        guard let state = try FleetStateLoading.load(environment), state.driver == "native" else {
            throw CommandFailure("the packet layer runs in the native engine; no native fleet is deployed here")
        }
        try FleetStateLoading.requireRoot(for: state.native)
        guard EngineProcess.running(directory) != nil else {
            throw CommandFailure("no engine runs in \(directory); `decnet deploy` or `decnet reconcile` starts one")
        }
        let response = try await EngineProcess.send(EngineRequest(operation, brief: true), stateDirectory: directory)
        for line in response.report ?? [] { print(line) }
        if let status = response.status?.sniffer { print(Self.render(status)) }
    }

    static func render(_ status: SnifferStatus) -> String {
        var lines = [
            "sniffer: \(status.running ? "running" : "stopped"), capturing on \(status.deckies) decky(s)",
            "frames \(status.frames), probes \(status.probes), dropped by the kernel \(status.kernelDrops)",
            "sources followed \(status.sources), scans going on \(status.activeScans), scan reports \(status.reports), "
                + "fingerprints \(status.fingerprints)",
            "capture thread CPU \(String(format: "%.3f", Double(status.cpuMicroseconds) / 1_000_000)) s",
        ]
        for (decky, reason) in status.failures.sorted(by: { $0.key < $1.key }) {
            lines.append("failed on \(decky): \(reason)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The packet layer's settings from the environment (nil when DECNET_SNIFFER=false).
enum SnifferSettings {
    static func from(_ environment: DecnetEnvironment) -> PacketLayer.Settings? {
        guard environment.sniffer else { return nil }
        var settings = PacketLayer.Settings()
        settings.bufferBytes = Int32(environment.snifferBufferKB * 1024)
        return settings
    }
}
