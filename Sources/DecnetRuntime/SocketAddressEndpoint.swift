import DecnetCore

#if canImport(Glibc)
import Glibc
#endif

extension Endpoint {
    /// An IPv4 socket address as an endpoint.
    init(socketAddress address: sockaddr_in) {
        var address = address
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        let written = inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
        self.init(ip: written == nil ? "?" : String(cString: text), port: Int(UInt16(bigEndian: address.sin_port)))
    }

    /// An IPv6 socket address as an endpoint.
    init(socketAddress address: sockaddr_in6) {
        var address = address
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = inet_ntop(AF_INET6, &address.sin6_addr, &text, socklen_t(text.count))
        self.init(ip: written == nil ? "?" : String(cString: text), port: Int(UInt16(bigEndian: address.sin6_port)))
    }
}
