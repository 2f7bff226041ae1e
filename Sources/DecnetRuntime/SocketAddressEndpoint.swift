import DecnetCore

#if canImport(Glibc)
import Glibc
#endif

extension Endpoint {
    /// An IPv4 socket address as an endpoint.
    init(socketAddress address: sockaddr_in) {
        // Read by layout (family 2 bytes, port 2, address 4): the members' owning C module differs per build.
        self = withUnsafeBytes(of: address) { Self.endpoint(raw: $0, family: AF_INET, addressOffset: 4) }
    }

    /// An IPv6 socket address as an endpoint.
    init(socketAddress address: sockaddr_in6) {
        // family 2, port 2, flow info 4, address 16.
        self = withUnsafeBytes(of: address) { Self.endpoint(raw: $0, family: AF_INET6, addressOffset: 8) }
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
