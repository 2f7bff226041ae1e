import CDecnetLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs work inside a network namespace. The namespace is entered with `setns` on a short-lived thread of its
/// own; what the work opens there (sockets, netlink, `/proc/sys/net`) belongs to that namespace and outlives
/// the thread. The caller's task waits without holding a thread.
public enum NamespaceThread {
    /// Why the namespace could not be entered.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The path `ip netns add NAME` binds the namespace to.
    public static func path(of namespace: String) -> String { "/var/run/netns/\(namespace)" }

    /// Whether `ip netns` knows the namespace.
    public static func exists(_ namespace: String) -> Bool {
        FileManager.default.fileExists(atPath: self.path(of: namespace))
    }

    /// Runs `body` on a new thread that has joined `namespace` (or stays in the process's own namespace when
    /// nil), and returns its result.
    public static func run<T: Sendable>(
        _ namespace: String?,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                if let namespace {
                    let handle = open(self.path(of: namespace), O_RDONLY | O_CLOEXEC)
                    guard handle >= 0 else {
                        let reason = String(cString: strerror(errno))
                        continuation.resume(
                            throwing: Failure(description: "no network namespace \(namespace): \(reason)")
                        )
                        return
                    }
                    defer { close(handle) }
                    guard decnet_enter_network_namespace(handle) == 0 else {
                        let reason = String(cString: strerror(errno))
                        continuation.resume(
                            throwing: Failure(description: "setns \(namespace): \(reason) (needs CAP_SYS_ADMIN)")
                        )
                        return
                    }
                }
                continuation.resume(with: Result { try body() })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}

/// Opens listening sockets, usually inside a decky's namespace (through `NamespaceThread`): one process serves
/// every decky while each socket belongs to its decky.
public enum NamespaceSocket {
    /// Why a socket could not be opened; `code` is the errno (EACCES for a privileged port, EADDRINUSE …).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public let code: Int32
    }

    /// A bound, listening, non-blocking TCP socket on `host:port` in namespace `namespace`
    /// (`/var/run/netns/<namespace>`, as `ip netns add` makes it).
    public static func listeningTCP(
        namespace: String,
        host: String,
        port: Int,
        backlog: Int32 = 1024
    ) async throws -> Int32 {
        try await NamespaceThread.run(namespace) {
            try self.openListeningTCP(host: host, port: port, backlog: backlog)
        }
    }

    /// `count` listening sockets on the same address, in network namespace `namespace`, sharing the port with
    /// SO_REUSEPORT (the kernel spreads incoming connections over them); port 0 is the port the first one got.
    public static func listeningTCP(
        namespace: String,
        host: String,
        port: Int,
        count: Int,
        backlog: Int32 = 1024
    ) async throws -> [Int32] {
        guard count > 1 else { return [try await self.listeningTCP(namespace: namespace, host: host, port: port)] }
        return try await NamespaceThread.run(namespace) {
            var sockets: [Int32] = []
            var boundPort = port
            do {
                for _ in 0..<count {
                    let socket = try self.openListeningTCP(
                        host: host,
                        port: boundPort,
                        backlog: backlog,
                        reusePort: true
                    )
                    sockets.append(socket)
                    if boundPort == 0 { boundPort = self.localPort(socket) }
                }
            } catch {
                for socket in sockets { close(socket) }
                throw error
            }
            return sockets
        }
    }

    /// The port a bound IPv4 socket has.
    static func localPort(_ fd: Int32) -> Int {
        // A sockaddr_in read by layout (see `call`): the port is its bytes 2 and 3, in network order.
        var bytes = [UInt8](repeating: 0, count: 16)
        var length = socklen_t(bytes.count)
        let named = bytes.withUnsafeMutableBytes {
            getsockname(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        return named == 0 ? Int(bytes[2]) << 8 | Int(bytes[3]) : 0
    }

    /// A bound, listening, non-blocking TCP socket in the calling thread's namespace.
    public static func openListeningTCP(
        host: String,
        port: Int,
        backlog: Int32 = 1024,
        reusePort: Bool = false
    ) throws -> Int32 {
        let fd = socket(
            AF_INET,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0
        )
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))", code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = try self.call(fd, host, port) { bind($0, $1, $2) }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            throw Failure(description: "bind \(host):\(port): \(String(cString: strerror(code)))", code: code)
        }
        return fd
    }

    /// Calls `body` (bind or connect) on `fd` with the address `host:port`; closes `fd` when `host` is not an
    /// IPv4 address.
    static func call(
        _ fd: Int32,
        _ host: String,
        _ port: Int,
        _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) throws -> Int32 {
        // A sockaddr_in by layout (family in host order, port and address in network order, 8 bytes of zero):
        // which C module owns `sockaddr_in`'s fields differs between debug and whole-module builds.
        var address = SocketAddress4Bytes()
        let parsed = withUnsafeMutableBytes(of: &address.raw) { raw -> Bool in
            raw.storeBytes(of: sa_family_t(AF_INET), toByteOffset: 0, as: sa_family_t.self)
            raw.storeBytes(of: UInt16(truncatingIfNeeded: port).bigEndian, toByteOffset: 2, as: UInt16.self)
            return inet_pton(AF_INET, host, raw.baseAddress! + 4) == 1
        }
        guard parsed else {
            close(fd)
            throw Failure(description: "\(host) is not an IPv4 address", code: EINVAL)
        }
        return withUnsafeBytes(of: &address.raw) {
            body(
                fd,
                $0.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                socklen_t(MemoryLayout<SocketAddress4Bytes>.size)
            )
        }
    }

    /// A TCP socket connected to `host:port` from the calling thread's namespace, waiting at most `timeout`
    /// seconds, handed back non-blocking.
    public static func openConnectedTCP(host: String, port: Int, timeout: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))", code: errno) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = try self.call(fd, host, port) { connect($0, $1, $2) }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw Failure(description: "connect \(host):\(port): \(String(cString: strerror(code)))", code: code)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }
}

/// Sysctls of the calling thread's network namespace, read and written through `/proc/sys/net`, which shows
/// the namespace of whoever opens it.
public enum NamespaceSysctl {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `value` to `key` (`net.ipv4.ip_default_ttl`) and reads it back: a refused write can look like a
    /// success, so only the value read back counts.
    public static func write(_ key: String, _ value: String) throws {
        let path = "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")
        let handle = open(path, O_WRONLY | O_CLOEXEC)
        if handle >= 0 {
            let bytes = Array((value + "\n").utf8)
            _ = bytes.withUnsafeBytes { Glibc.write(handle, $0.baseAddress, $0.count) }
            close(handle)
        }
        let readBack = try self.read(key)
        guard readBack == value else {
            throw Failure(description: "sysctl \(key) reads '\(readBack)' after writing '\(value)'")
        }
    }

    /// The value of `key`, whitespace runs folded to one space.
    public static func read(_ key: String) throws -> String {
        let path = "/proc/sys/" + key.replacingOccurrences(of: ".", with: "/")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(description: "sysctl \(key) cannot be read (\(path))")
        }
        return text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

/// What an interface of the calling thread's namespace looks like, from `getifaddrs` (a netlink query made in
/// that namespace).
public struct InterfaceFacts: Sendable, Equatable, Codable {
    public var name: String
    public var up: Bool
    public var mac: String?
    public var addresses: [String]

    /// The interface `name`, or nil when the namespace has none by that name.
    public static func read(_ name: String) -> InterfaceFacts? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var facts: InterfaceFacts?
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            let item = entry.pointee
            guard let namePointer = item.ifa_name, String(cString: namePointer) == name else { continue }
            if facts == nil {
                facts = InterfaceFacts(
                    name: name,
                    up: item.ifa_flags & UInt32(IFF_UP) != 0,
                    mac: nil,
                    addresses: []
                )
            }
            guard let address = item.ifa_addr else { continue }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                // sin_addr sits 4 bytes into a sockaddr_in (read by layout, as above).
                let ip = UInt32(bigEndian: UnsafeRawPointer(address).loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                facts?.addresses.append(
                    "\(ip >> 24).\((ip >> 16) & 0xff).\((ip >> 8) & 0xff).\(ip & 0xff)"
                )
            case AF_PACKET:
                var bytes = [UInt8](repeating: 0, count: 8)
                let length = Int(decnet_link_address(address, &bytes, Int32(bytes.count)))
                let mac = bytes.prefix(min(length, 8)).map { String(format: "%02x", $0) }.joined(separator: ":")
                facts?.mac = mac
            default:
                continue
            }
        }
        return facts
    }
}
