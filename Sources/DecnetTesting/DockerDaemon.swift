import Foundation

/// A private Docker engine for one test: Debian's `dockerd` (docker.io) with its own data root, exec root and
/// UNIX socket in `directory`, and nothing on the host's network: no docker0 bridge (`--bridge=none`), no
/// iptables rules, no IP forwarding or masquerading. Containers reach only the networks the test gives them (a
/// macvlan on a lab veth). The machine's own engine, if any, is not touched.
public final class DockerDaemon: @unchecked Sendable {
    public static let binary = "/usr/sbin/dockerd"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }
    /// Whether a test needing an engine should run: installed and root, or CI (where its absence fails).
    public static var isUsable: Bool { (Self.isInstalled && getuid() == 0) || ExternalTool.isCI }

    public let directory: String
    private let process: Process

    /// `unix://…/docker.sock`, for `DOCKER_HOST`.
    public var host: String { "unix://\(self.directory)/docker.sock" }

    private init(directory: String, process: Process) {
        self.directory = directory
        self.process = process
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Starts the engine in `directory` (made if missing) and waits until it answers.
    public static func start(in directory: String) async throws -> DockerDaemon {
        guard Self.isInstalled else {
            throw Failure("dockerd is not installed (apt-get install docker.io; .ci/run does)")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = [
            "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-forward=false", "--ip-masq=false",
            "--data-root", "\(directory)/data", "--exec-root", "\(directory)/exec",
            "--pidfile", "\(directory)/docker.pid", "-H", "unix://\(directory)/docker.sock",
        ]
        let log = FileManager.default.createFile(atPath: "\(directory)/dockerd.log", contents: nil)
        precondition(log, "cannot create \(directory)/dockerd.log")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/dockerd.log"))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let daemon = DockerDaemon(directory: directory, process: process)
        for _ in 0..<300 {
            let probe = try await ProcessRunner.run(
                "/usr/bin/docker",
                ["version", "--format", "{{.Server.Version}}"],
                environment: ["DOCKER_HOST": daemon.host]
            )
            if probe.status == 0 { return daemon }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await daemon.stop()
        let tail = (try? String(contentsOfFile: "\(directory)/dockerd.log", encoding: .utf8))?.suffix(2000) ?? ""
        throw Failure("dockerd did not answer within 30 s; its log ends:\n\(tail)")
    }

    /// Runs the Debian docker client against this engine.
    public func docker(_ arguments: [String]) async throws -> ProcessResult {
        try await ProcessRunner.run("/usr/bin/docker", arguments, environment: ["DOCKER_HOST": self.host])
    }

    /// Stops the engine (its containerd with it) and removes its data.
    public func stop() async {
        if self.process.isRunning {
            self.process.terminate()
            for _ in 0..<200 where self.process.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
            if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
        }
        // Overlay mounts under the data root outlive a killed engine; unmount before removing.
        _ = try? await ProcessRunner.run(
            "/bin/sh",
            ["-c", "grep -o ' \(self.directory)/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l"]
        )
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}
