import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds out whether a Docker engine answers, before the Docker driver tries to use one.
public enum DockerEngine {
    /// Why the engine cannot be used.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The engine's UNIX socket: `DOCKER_HOST=unix://…` or the default path.
    public static func socketPath(environment: [String: String]) -> String? {
        guard let host = environment["DOCKER_HOST"], !host.isEmpty else { return "/var/run/docker.sock" }
        guard host.hasPrefix("unix://") else { return nil }
        return String(host.dropFirst("unix://".count))
    }

    /// Throws unless something accepts connections on the engine's socket.
    public static func checkReachable(environment: [String: String]) throws(Unavailable) {
        guard let path = socketPath(environment: environment) else {
            // tcp:// engines are checked by the docker client itself when it runs.
            return
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw Unavailable(
                description:
                    "no Docker engine: \(path) does not exist. Start Docker, or use --dry-run to only write docker-compose.yml"
            )
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            throw Unavailable(description: "cannot open a socket: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw Unavailable(description: "socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            throw Unavailable(
                description:
                    "no Docker engine answers on \(path) (\(String(cString: strerror(errno)))). Start Docker, or use --dry-run to only write docker-compose.yml"
            )
        }
    }

    /// Runs `docker compose` (or `docker-compose`) with `arguments`, streaming its output, and throws on failure.
    public static func compose(_ arguments: [String], composeFile: String) throws {
        let candidates: [[String]] = [["docker", "compose"], ["docker-compose"]]
        for command in candidates {
            guard let executable = self.which(command[0]) else { continue }
            if command.count == 2 {
                // `docker compose` only exists with the compose plugin installed.
                guard (try? self.run(executable, [command[1], "version"], quiet: true)) == 0 else { continue }
            }
            let status = try self.run(
                executable,
                Array(command.dropFirst()) + ["-f", composeFile] + arguments,
                quiet: false
            )
            guard status == 0 else {
                throw Unavailable(
                    description:
                        "\(command.joined(separator: " ")) \(arguments.joined(separator: " ")) failed with status \(status)"
                )
            }
            return
        }
        throw Unavailable(description: "neither `docker compose` nor `docker-compose` is installed")
    }

    /// Builds the project image (`decnet-swift:latest`) from a source checkout's Dockerfile.
    public static func buildImage(tag: String, context: String, noCache: Bool) throws {
        guard let docker = self.which("docker") else {
            throw Unavailable(description: "the docker client is not installed")
        }
        let arguments = ["build", "-t", tag] + (noCache ? ["--no-cache"] : []) + [context]
        let status = try self.run(docker, arguments, quiet: false)
        guard status == 0 else { throw Unavailable(description: "docker build of \(tag) failed with status \(status)") }
    }

    /// Whether the engine already has `tag` (`docker image inspect`).
    public static func imageExists(_ tag: String) -> Bool {
        guard let docker = self.which("docker") else { return false }
        return (try? self.run(docker, ["image", "inspect", tag], quiet: true)) == 0
    }

    /// One container of a fleet, as the engine reports it.
    public struct Container: Sendable, Equatable {
        /// `web-01` or `web-01-ssh`.
        public var name: String
        /// The decky it belongs to (label `org.decnet.decky`).
        public var decky: String
        /// `base` or `service`.
        public var role: String
        /// The service slug of a service container; empty for a base container.
        public var service: String
        /// `running`, `exited`, `created` …
        public var state: String
        /// Docker's own words: `Up 3 minutes`, `Exited (0) 2 seconds ago`.
        public var status: String
    }

    /// Every container labelled as a decky's (`org.decnet.decky`), running or not, sorted by name.
    public static func containers() throws(Unavailable) -> [Container] {
        guard let docker = self.which("docker") else {
            throw Unavailable(description: "the docker client is not installed")
        }
        let format =
            #"{{.Names}}\t{{.Label "org.decnet.decky"}}\t{{.Label "org.decnet.role"}}\t{{.Label "org.decnet.service"}}\t{{.State}}\t{{.Status}}"#
        let (status, output): (Int32, String)
        do {
            (status, output) = try self.output(
                docker,
                ["ps", "-a", "--filter", "label=org.decnet.decky", "--format", format]
            )
        } catch {
            throw Unavailable(description: "docker ps could not run: \(error)")
        }
        guard status == 0 else { throw Unavailable(description: "docker ps failed with status \(status)") }
        return Self.parseContainers(output)
    }

    /// The rows of `docker ps --format` with the fields `containers()` asks for, tab-separated.
    static func parseContainers(_ output: String) -> [Container] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 6 else { return nil }
            return Container(
                name: fields[0],
                decky: fields[1],
                role: fields[2],
                service: fields[3],
                state: fields[4],
                status: fields[5]
            )
        }.sorted { $0.name < $1.name }
    }

    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func run(_ executable: String, _ arguments: [String], quiet: Bool) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if quiet {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs `executable` and returns its status and standard output (standard error is passed through).
    static func output(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
