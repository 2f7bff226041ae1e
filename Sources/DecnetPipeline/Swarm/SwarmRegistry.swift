import Crypto
import Foundation
import NIOSSL

/// One agent host of the swarm, as the master knows it: its name, the address it is reached at, and the SHA-256
/// fingerprint of its client certificate, pinned when it was added.
public struct SwarmHost: Codable, Sendable, Equatable {
    public var name: String
    public var address: String
    /// `sha256:` and the lower-case hex digest of the certificate's DER.
    public var fingerprint: String
    /// The certificate's subject common name and expiry, for `decnet swarm list`.
    public var subject: String
    public var notAfter: Date?
    public var added: Date

    public init(name: String, address: String, fingerprint: String, subject: String, notAfter: Date?, added: Date) {
        self.name = name
        self.address = address
        self.fingerprint = fingerprint
        self.subject = subject
        self.notAfter = notAfter
        self.added = added
    }
}

/// The master's register of swarm hosts (`decnet swarm add|remove|list`), `<state>/swarm/hosts.json`, written whole
/// and renamed into place so that a reader never sees half of it.
///
/// Pinning is the seed's rule: an agent is let in by the certificate it was added with, not by any certificate the
/// project's CA issued. A certificate from the CA that is not pinned is refused, and so is every certificate of a
/// host once it is removed (the way to revoke one). The listener reads the register again at every handshake, so
/// `add` and `remove` take effect at once.
public struct SwarmRegistry: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public let path: String

    public init(stateDirectory: String) {
        self.path = ((stateDirectory as NSString).appendingPathComponent("swarm") as NSString)
            .appendingPathComponent("hosts.json")
    }

    public init(path: String) { self.path = path }

    /// The hosts, in the order they were added; none when the register does not exist yet.
    public func hosts() throws -> [SwarmHost] {
        guard let data = FileManager.default.contents(atPath: self.path) else { return [] }
        do {
            return try Self.decoder.decode([SwarmHost].self, from: data)
        } catch {
            throw Failure("\(self.path): not a swarm register (\(error))")
        }
    }

    /// The host whose pinned certificate has this fingerprint.
    public func host(fingerprint: String) -> SwarmHost? {
        (try? self.hosts())?.first { $0.fingerprint == fingerprint }
    }

    /// Adds a host pinned to the certificate in `certificatePath` (PEM). A name or a certificate already in the
    /// register is refused: a host's certificate changes by removing and adding it again.
    @discardableResult
    public func add(name: String, address: String, certificatePath: String, now: Date = Date()) throws -> SwarmHost {
        guard Self.isName(name) else {
            throw Failure("a host name is letters, digits, '-', '_' and '.', at most 63 (got \(name.debugDescription))")
        }
        let certificate: NIOSSLCertificate
        do {
            guard let first = try NIOSSLCertificate.fromPEMFile(certificatePath).first else {
                throw Failure("\(certificatePath): no certificate in it")
            }
            certificate = first
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure("\(certificatePath): not a PEM certificate (\(error))")
        }
        let fingerprint = try Self.fingerprint(certificate)
        var hosts = try self.hosts()
        if let taken = hosts.first(where: { $0.name == name }) {
            throw Failure("a host named \(name) is already in the swarm (\(taken.address)); remove it first")
        }
        if let taken = hosts.first(where: { $0.fingerprint == fingerprint }) {
            throw Failure("that certificate is already pinned to \(taken.name)")
        }
        let host = SwarmHost(
            name: name,
            address: address,
            fingerprint: fingerprint,
            subject: SyslogListener.commonName(certificate) ?? "?",
            notAfter: Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter)),
            added: now
        )
        hosts.append(host)
        try self.save(hosts)
        return host
    }

    /// Removes a host: its certificate is refused from now on.
    @discardableResult
    public func remove(name: String) throws -> SwarmHost {
        var hosts = try self.hosts()
        guard let index = hosts.firstIndex(where: { $0.name == name }) else {
            throw Failure("no swarm host named \(name)")
        }
        let host = hosts.remove(at: index)
        try self.save(hosts)
        return host
    }

    func save(_ hosts: [SwarmHost]) throws {
        let directory = (self.path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = self.path + ".\(getpid()).tmp"
        try Self.encoder.encode(hosts).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, self.path) == 0 else {
            let error = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure("\(self.path): \(error)")
        }
    }

    /// `sha256:` and the hex digest of the certificate's DER encoding.
    public static func fingerprint(_ certificate: NIOSSLCertificate) throws -> String {
        "sha256:" + SHA256.hash(data: try certificate.toDERBytes()).map { String(format: "%02x", $0) }.joined()
    }

    public static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63
            && name.unicodeScalars.allSatisfy {
                ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || "-_.".unicodeScalars.contains($0)
            }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
