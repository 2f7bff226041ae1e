import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOPosix

/// A listener of some service, type-erased for code that runs services by slug.
public protocol RunningService: Sendable {
    var localAddress: SocketAddress? { get }
    var openConnections: Int { get }
    /// Accepts until closed or cancelled, then waits for open connections.
    func run() async
    /// Stops accepting.
    func close() async
}

extension TCPListener: RunningService {}

/// Starts the registry's emulator for a slug on an address.
public enum ServiceLauncher {
    /// Why a service could not be started.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func bind(
        _ kind: ServiceKind,
        registry: ServiceRegistry,
        context: ServiceContext,
        host: String,
        port: Int,
        limits: ConnectionLimits = ConnectionLimits(),
        namespace: String? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any RunningService {
        guard let type = registry.service(for: kind) else {
            let available = registry.kinds.map(\.rawValue).joined(separator: ", ")
            throw Failure(description: "no emulator for '\(kind)' yet; available: \(available)")
        }
        return try await self.bind(
            type,
            context: context,
            host: host,
            port: port,
            limits: limits,
            namespace: namespace,
            group: group
        )
    }

    private static func bind<S: HoneypotService>(
        _ type: S.Type,
        context: ServiceContext,
        host: String,
        port: Int,
        limits: ConnectionLimits,
        namespace: String?,
        group: any EventLoopGroup
    ) async throws -> any RunningService {
        let service = try S(context: context)
        return try await TCPListener.bind(
            service,
            host: host,
            port: port,
            context: context,
            limits: limits,
            namespace: namespace,
            group: group
        )
    }
}
