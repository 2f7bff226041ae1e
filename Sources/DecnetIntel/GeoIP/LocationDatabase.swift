import CLibloc
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What DECNET knows of an attacker's address: its scope, and for a public address the network, country and
/// autonomous system the location database gives, with the database it came from.
public struct GeoRecord: Sendable, Equatable, Codable {
    public var address: String
    public var scope: AddressScope
    /// The database's most specific network holding the address (`8.8.8.0/24`), nil when it has none.
    public var network: String?
    public var countryCode: String?
    public var countryName: String?
    public var continentCode: String?
    public var asn: UInt32?
    public var asName: String?
    /// `anonymous-proxy`, `satellite-provider`, `anycast`, `drop` (Spamhaus DROP: hijacked or criminal space).
    public var flags: [String]
    /// Which data answered: `libloc:YYYY-MM-DD` (the database's creation date), or nil for a non-public address.
    public var source: String?
}

/// The IPFire Location database (libloc), as Debian ships it in `libloc-database`: openly licensed (CC BY-SA 4.0),
/// read from a local file through its C library, no network. Lookups are serialised: libloc's objects are
/// reference counted without atomics.
public final class LocationDatabase: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where it is looked for: `$DECNET_GEOIP_DB`, then the file `location update` keeps current, then Debian's copy.
    public static let searchPath = ["/var/lib/location/database.db", "/usr/share/libloc-location/location.db"]

    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let path = environment["DECNET_GEOIP_DB"], !path.isEmpty { return path }
        return Self.searchPath.first { FileManager.default.isReadableFile(atPath: $0) }
    }

    public let path: String
    public let createdAt: Date
    public let vendor: String
    public let databaseDescription: String
    public let license: String

    private struct Handles: @unchecked Sendable {
        let context: OpaquePointer
        let database: OpaquePointer
    }

    private let handles: Mutex<Handles>

    public init(path: String) throws {
        var context: OpaquePointer?
        guard loc_new(&context) == 0, let context else {
            throw Failure(description: "libloc could not start (out of memory?)")
        }
        guard let file = fopen(path, "r") else {
            loc_unref(context)
            throw Failure(description: "cannot open the location database \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var database: OpaquePointer?
        guard loc_database_new(context, &database, file) == 0, let database else {
            loc_unref(context)
            throw Failure(description: "\(path) is not a location database libloc can read")
        }
        self.path = path
        self.createdAt = Date(timeIntervalSince1970: TimeInterval(loc_database_created_at(database)))
        self.vendor = loc_database_get_vendor(database).map { String(cString: $0) } ?? ""
        self.databaseDescription = loc_database_get_description(database).map { String(cString: $0) } ?? ""
        self.license = loc_database_get_license(database).map { String(cString: $0) } ?? ""
        self.handles = Mutex(Handles(context: context, database: database))
    }

    deinit {
        self.handles.withLock { handles in
            loc_database_unref(handles.database)
            loc_unref(handles.context)
        }
    }

    /// `libloc:YYYY-MM-DD`: stored with every enrichment, so a reader knows how old the answer is.
    public var source: String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return "libloc:" + formatter.string(from: self.createdAt)
    }

    /// Looks an address up; nil when the text is not an IPv4 or IPv6 address.
    public func lookup(_ address: String) -> GeoRecord? {
        guard let bytes = AddressScope.bytes(of: address) else { return nil }
        let scope = AddressScope(bytes: bytes)
        var record = GeoRecord(address: address, scope: scope, flags: [])
        guard scope == .public else { return record }
        record.source = self.source
        // libloc keys everything by IPv6; an IPv4 address is looked up in its mapped form.
        let mapped = bytes.count == 4 ? [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + bytes : bytes
        var in6 = in6_addr()
        withUnsafeMutableBytes(of: &in6) { $0.copyBytes(from: mapped) }
        self.handles.withLock { handles in
            var network: OpaquePointer?
            guard loc_database_lookup(handles.database, &in6, &network) == 0, let network else { return }
            defer { loc_network_unref(network) }
            record.network = loc_network_str(network).map { Self.unmapped(String(cString: $0)) }
            if let code = loc_network_get_country_code(network).map({ String(cString: $0) }), !code.isEmpty {
                record.countryCode = code
                var country: OpaquePointer?
                if loc_database_get_country(handles.database, &country, code) == 0, let country {
                    record.countryName = loc_country_get_name(country).map { String(cString: $0) }
                    record.continentCode = loc_country_get_continent_code(country).map { String(cString: $0) }
                    loc_country_unref(country)
                }
            }
            let asn = loc_network_get_asn(network)
            if asn != 0 {
                record.asn = asn
                var autonomousSystem: OpaquePointer?
                if loc_database_get_as(handles.database, &autonomousSystem, asn) == 0, let autonomousSystem {
                    record.asName = loc_as_get_name(autonomousSystem).map { String(cString: $0) }
                    loc_as_unref(autonomousSystem)
                }
            }
            let flags: [(UInt32, String)] = [
                (UInt32(LOC_NETWORK_FLAG_ANONYMOUS_PROXY.rawValue), "anonymous-proxy"),
                (UInt32(LOC_NETWORK_FLAG_SATELLITE_PROVIDER.rawValue), "satellite-provider"),
                (UInt32(LOC_NETWORK_FLAG_ANYCAST.rawValue), "anycast"),
                (UInt32(LOC_NETWORK_FLAG_DROP.rawValue), "drop"),
            ]
            record.flags = flags.filter { loc_network_has_flag(network, $0.0) != 0 }.map(\.1)
        }
        return record
    }

    /// libloc prints an IPv4 network in its mapped IPv6 form (`::ffff:8.8.8.0/120`); people read `8.8.8.0/24`.
    static func unmapped(_ network: String) -> String {
        guard network.hasPrefix("::ffff:"), let slash = network.lastIndex(of: "/"),
            let prefix = Int(network[network.index(after: slash)...]), prefix >= 96
        else { return network }
        let address = network.dropFirst("::ffff:".count).prefix { $0 != "/" }
        guard address.contains(".") else { return network }
        return "\(address)/\(prefix - 96)"
    }
}
