import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import NIOPosix

/// A listener of some service, type-erased for code that runs services by slug.
public protocol RunningService: Sendable {
    var localAddress: SocketAddress? { get }
    var openConnections: Int { get }
    var totalConnections: Int { get }
    /// Accepts until closed or cancelled, then waits for open connections.
    func run() async
    /// Stops accepting.
    func close() async
}

extension TCPListener: RunningService {}
extension UDPListener: RunningService {}

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
        socket: Int32? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any RunningService {
        guard let type = registry.service(for: kind) else {
            if let socket { close(socket) }
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
            socket: socket,
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
        socket: Int32?,
        group: any EventLoopGroup
    ) async throws -> any RunningService {
        let service: S
        do {
            service = try S(context: context)
        } catch {
            // The socket was handed over to be served; nobody else will close it.
            if let socket { close(socket) }
            throw error
        }
        return try await TCPListener.bind(
            service,
            host: host,
            port: port,
            context: context,
            limits: limits,
            namespace: namespace,
            socket: socket,
            group: group
        )
    }

    /// Serves the registry's UDP emulator for a slug on `host:port`, its socket made in `namespace`, joined to the
    /// emulator's multicast groups when `multicast` (a socket on every address of a decky's own namespace).
    public static func serveDatagrams(
        _ kind: ServiceKind,
        registry: ServiceRegistry,
        context: ServiceContext,
        host: String,
        port: Int,
        namespace: String?,
        multicast: Bool,
        limits: UDPLimits = UDPLimits(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any RunningService {
        guard let type = registry.datagramService(for: kind) else {
            throw Failure(description: "no UDP emulator for '\(kind)' yet")
        }
        return try await self.serveDatagrams(
            type,
            context: context,
            host: host,
            port: port,
            namespace: namespace,
            multicast: multicast,
            limits: limits,
            group: group
        )
    }

    private static func serveDatagrams<S: DatagramService>(
        _ type: S.Type,
        context: ServiceContext,
        host: String,
        port: Int,
        namespace: String?,
        multicast: Bool,
        limits: UDPLimits,
        group: any EventLoopGroup
    ) async throws -> any RunningService {
        let service = try S(context: context)
        return try await UDPListener.bind(
            service,
            host: host,
            port: port,
            context: context,
            namespace: namespace,
            groups: multicast ? S.multicastGroups(port: port) : [],
            limits: limits,
            group: group
        )
    }
}
