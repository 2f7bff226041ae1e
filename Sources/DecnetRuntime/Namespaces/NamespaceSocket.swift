import CDecnetLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Opens listening sockets inside a network namespace. The namespace is entered with `setns` on a short-lived
/// thread of its own, the socket is bound there and outlives the thread: one process can serve every decky while
/// each socket belongs to its decky's namespace.
public enum NamespaceSocket {
    /// Why a socket could not be opened.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A bound, listening, non-blocking TCP socket on `host:port` in namespace `namespace`
    /// (`/var/run/netns/<namespace>`, as `ip netns add` makes it).
    public static func listeningTCP(namespace: String, host: String, port: Int, backlog: Int32 = 1024) throws -> Int32 {
        try self.onNamespaceThread(namespace) {
            let fd = socket(
                AF_INET,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                0
            )
            guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
                close(fd)
                throw Failure(description: "\(host) is not an IPv4 address")
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(fd, backlog) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw Failure(description: "bind \(host):\(port) in \(namespace): \(reason)")
            }
            return fd
        }
    }

    /// Runs `body` on a new thread that has joined the namespace, and returns its result.
    static func onNamespaceThread<T: Sendable>(
        _ namespace: String,
        _ body: @escaping @Sendable () throws -> T
    ) throws -> T {
        let result = ResultBox<T>()
        let thread = Thread {
            let handle = open("/var/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
            guard handle >= 0 else {
                result.set(
                    .failure(
                        Failure(description: "no network namespace \(namespace): \(String(cString: strerror(errno)))")
                    )
                )
                return
            }
            defer { close(handle) }
            guard decnet_enter_network_namespace(handle) == 0 else {
                result.set(
                    .failure(
                        Failure(
                            description: "setns \(namespace): \(String(cString: strerror(errno))) (needs CAP_SYS_ADMIN)"
                        )
                    )
                )
                return
            }
            result.set(Result { try body() })
        }
        thread.start()
        return try result.wait().get()
    }
}

/// Hands one result from the namespace thread to the caller.
final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) {
        self.condition.lock()
        self.value = value
        self.condition.signal()
        self.condition.unlock()
    }

    func wait() -> Result<T, any Error> {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.value == nil { self.condition.wait() }
        return self.value!
    }
}
