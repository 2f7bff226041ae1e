import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// The docker_api service against the real docker CLI (version, ps, run with a pull, exec) and nmap's
/// docker-version: every call and payload captured, nothing ever run.
@Suite struct DockerAPILiveTests {
    static let docker = ExternalTool("docker", package: "docker.io")

    @Test(
        .enabled(if: docker.isUsable && ExternalTool.nmap.isUsable, "needs the docker CLI and nmap (required under CI)")
    )
    func theDockerCLIRunsAndExecsAgainstTheFakeDaemon() async throws {
        let docker = try #require(Self.docker.path, "\(Self.docker.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "docker_api",
            persona: ["docker_version": "24.0.7"],
            host: "127.77.19.29",
            port: 2375,
            osFamily: .linux,
            hostname: "build-01"
        )
        let host = ["-H", "tcp://127.77.19.29:2375"]
        let environment = ["DOCKER_CONFIG": "/nonexistent-decnet-docker-config"]
        let version = try await ProcessRunner.run(
            docker,
            host + ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"],
            environment: environment
        )
        #expect(version.standardOutput.contains("24.0.7 1.43"), "\(version.standardOutput)\(version.standardError)")
        let ps = try await ProcessRunner.run(
            docker,
            host + ["ps", "--format", "{{.Names}} {{.Image}}"],
            environment: environment
        )
        #expect(ps.standardOutput.contains("web nginx:1.25"), "\(ps.standardOutput)\(ps.standardError)")
        let run = try await ProcessRunner.run(
            docker,
            host + [
                "run", "-d", "--name", "miner", "-v", "/:/host", "--privileged", "alpine", "sh", "-c", "id; sleep 3600",
            ],
            environment: environment
        )
        let id = run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit), "\(run.standardOutput)\(run.standardError)")
        let exec = try await ProcessRunner.run(
            docker,
            host + ["exec", "miner", "uname", "-a"],
            environment: environment
        )
        #expect(exec.standardOutput.hasPrefix("Linux \(id.prefix(12)) "), "\(exec.standardOutput)\(exec.standardError)")
        let scan = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "2375", "--script", "docker-version", "127.77.19.29"]
        )
        await service.stop()
        #expect(scan.standardOutput.contains("24.0.7"), "\(scan.standardOutput)")
        let creates = service.capture.events(.commandInput).filter { $0[field: "command"] == "container.create" }
        #expect(
            creates.contains {
                $0[field: "binds"] == "/:/host" && $0[field: "privileged"] == "true"
                    && $0[field: "args"] == "sh -c id; sleep 3600"
            }
        )
        #expect(
            service.capture.events(.commandInput).contains {
                $0[field: "command"] == "image.pull" && $0[field: "image"] == "alpine:latest"
            }
        )
        #expect(service.capture.events(.commandInput).contains { $0[field: "command"] == "container.exec" })
        #expect(
            service.capture.events(.clientFingerprint).contains {
                $0[field: "user_agent"]?.hasPrefix("Docker-Client/") == true
            }
        )
    }
}
