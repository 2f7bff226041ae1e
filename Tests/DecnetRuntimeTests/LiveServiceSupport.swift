import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import DecnetServices
import DecnetTesting
import NIOCore

/// A service running on a loopback socket for one test, with its events captured.
struct LiveService {
    let listener: any RunningService
    let capture: EventCapture
    let task: Task<Void, Never>
    let host: String

    var port: Int { self.listener.localAddress?.port ?? 0 }

    static func start(
        _ kind: ServiceKind,
        persona: [String: String] = [:],
        host: String = "127.0.0.1",
        port: Int = 0,
        limits: ConnectionLimits = ConnectionLimits(),
        artifactDirectory: String? = nil,
        distro: String = "debian",
        osFamily: OSFamily = .linux,
        hostname: String = "db-01",
        tls: Bool = false,
        registry: ServiceRegistry = .builtin,
        keyDirectory: String? = nil
    ) async throws -> LiveService {
        let capture = EventCapture()
        let context = ServiceContext(
            decky: "decky-test",
            hostname: hostname,
            service: kind,
            persona: persona,
            sink: capture,
            artifactDirectory: artifactDirectory,
            osFamily: osFamily,
            kernelVersion: "6.1.0-18-amd64",
            distro: distro,
            dataChannels: PosixDataChannels(),
            tlsPorts: tls ? [port] : [],
            keyDirectory: keyDirectory
        )
        let listener = try await ServiceLauncher.bind(
            kind,
            registry: registry,
            context: context,
            host: host,
            port: port,
            limits: limits
        )
        let task = Task { await listener.run() }
        return LiveService(listener: listener, capture: capture, task: task, host: host)
    }

    func stop() async {
        await self.listener.close()
        await self.task.value
    }
}
