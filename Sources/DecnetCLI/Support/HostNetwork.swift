import DecnetCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads (never changes) the host's default route, for the seed's "auto" `--interface` and `--subnet`.
enum HostNetwork {
    struct DefaultRoute: Equatable {
        var interface: String
        var gateway: IPv4Address
        var subnet: IPv4Network?
    }

    /// The default route from `/proc/net/route`, and the subnet of that interface's first IPv4 address.
    static func defaultRoute() -> DefaultRoute? {
        guard let table = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8),
            var route = self.parseRouteTable(table)
        else { return nil }
        route.subnet = self.subnet(of: route.interface)
        return route
    }

    /// Parses the kernel's route table text: the first line whose destination and mask are zero.
    static func parseRouteTable(_ text: String) -> DefaultRoute? {
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                let gatewayLE = UInt32(fields[2], radix: 16), gatewayLE != 0
            else { continue }
            return DefaultRoute(interface: String(fields[0]), gateway: IPv4Address(gatewayLE.byteSwapped), subnet: nil)
        }
        return nil
    }

    static func subnet(of interface: String) -> IPv4Network? {
        #if canImport(Glibc)
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            let item = entry.pointee
            guard let name = item.ifa_name, String(cString: name) == interface,
                let address = item.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                let mask = item.ifa_netmask
            else { continue }
            let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
            }
            let bits = mask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
            }
            return IPv4Network(containing: IPv4Address(ip), prefixLength: bits.nonzeroBitCount)
        }
        #endif
        return nil
    }
}
