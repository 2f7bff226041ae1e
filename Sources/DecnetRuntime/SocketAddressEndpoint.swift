import DecnetCore

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a `sockaddr_in` (family 2, port 2, address 4, padding 8), as `getsockopt` fills them. Our own
/// type, not the C struct: which C module owns `sockaddr_in` differs per build, and a file that imports NIO
/// must not name it.
struct SocketAddress4Bytes: Sendable {
    var raw: (UInt64, UInt64) = (0, 0)
}

/// The bytes of a `sockaddr_in6` (family 2, port 2, flow info 4, address 16, scope 4): 28.
struct SocketAddress6Bytes: Sendable {
    var raw: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)
}

/// `SOL_SOCKET`/`SO_PEERNAME`, named here so that no file importing NIO also imports Glibc: in a whole-module
/// build such a file makes NIO's C module own `sockaddr_in`, and the files that use its fields stop compiling.
enum PeerNameOption {
    static let level = Int32(SOL_SOCKET)
    static let name = Int32(SO_PEERNAME)
}

extension Endpoint {
    init(socketAddress address: SocketAddress4Bytes) {
        self = withUnsafeBytes(of: address.raw) { Self.endpoint(raw: $0, family: AF_INET, addressOffset: 4) }
    }

    init(socketAddress address: SocketAddress6Bytes) {
        self = withUnsafeBytes(of: address.raw) { Self.endpoint(raw: $0, family: AF_INET6, addressOffset: 8) }
    }

    private static func endpoint(raw: UnsafeRawBufferPointer, family: Int32, addressOffset: Int) -> Endpoint {
        let port = Int(raw[2]) << 8 | Int(raw[3])
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = inet_ntop(family, raw.baseAddress! + addressOffset, &text, socklen_t(text.count))
        guard written != nil else { return Endpoint(ip: "?", port: port) }
        return Endpoint(
            ip: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            port: port
        )
    }
}
