import Crypto
import Foundation

/// RFC 9562 version 5 UUIDs (SHA-1 of a namespace and a name): the same input names the same object in every
/// export, which is what STIX requires of observable ids and what makes an export reproducible. STIX wants its
/// other objects' ids in version 4's form (the validator's {103}); `random` gives the same hash in that form, so
/// those ids are reproducible too.
enum NameUUID {
    /// STIX 2.1's namespace for cyber-observable ids (§2.9).
    static let stix = UUID(uuidString: "00abedb4-aa42-466c-9c01-fed23315a9b7")!
    /// DECNET-Swift's namespace for the objects it names itself (the sensor, indicators, sightings …).
    static let decnet = UUID(uuidString: "6a2c0a5e-5b1f-4c0e-9d35-2f6f0d9b7a11")!

    static func make(_ namespace: UUID, _ name: String) -> String { Self.hashed(namespace, name, version: 5) }

    /// The name's hash in version 4's form.
    static func random(_ namespace: UUID, _ name: String) -> String { Self.hashed(namespace, name, version: 4) }

    private static func hashed(_ namespace: UUID, _ name: String, version: UInt8) -> String {
        var bytes = withUnsafeBytes(of: namespace.uuid) { Array($0) }
        bytes += Array(name.utf8)
        var digest = Array(Insecure.SHA1.hash(data: bytes).prefix(16))
        digest[6] = (digest[6] & 0x0F) | (version << 4)
        digest[8] = (digest[8] & 0x3F) | 0x80
        let uuid = digest.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }
        return uuid.uuidString.lowercased()
    }
}
