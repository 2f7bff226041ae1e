import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The small CA that DECNET manages for its own mutual TLS (syslog forwarding now, agents later): a P-256 root
/// kept in `<state>/pki/` (`ca.crt`, `ca.key`, the key readable by root only), and leaf certificates it issues
/// for servers and clients, each in a folder of its own (`<name>/cert.pem`, `key.pem`, beside a copy of
/// `ca.crt`), ready to copy to the host that uses them.
///
/// Only certificates this CA issued are accepted on either side of a DECNET mTLS link; a certificate from any
/// other CA is refused in the handshake.
public struct CertificateAuthority: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// What a leaf certificate is for.
    public enum Role: String, Sendable, CaseIterable {
        case server, client
    }

    /// A certificate, its key and the CA that issued it, as PEM files on disk.
    public struct Identity: Sendable, Equatable {
        public var certificatePath: String
        public var keyPath: String
        public var caPath: String

        public init(certificatePath: String, keyPath: String, caPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.caPath = caPath
        }

        /// The identity kept in `directory` (`cert.pem`, `key.pem`, `ca.crt`).
        public init(directory: String) {
            self.init(
                certificatePath: (directory as NSString).appendingPathComponent("cert.pem"),
                keyPath: (directory as NSString).appendingPathComponent("key.pem"),
                caPath: (directory as NSString).appendingPathComponent("ca.crt")
            )
        }

        /// Fails naming the first file that is missing.
        public func check() throws {
            for path in [self.certificatePath, self.keyPath, self.caPath]
            where !FileManager.default.fileExists(atPath: path) {
                throw Failure("\(path) does not exist (make it with `decnet ca issue`)")
            }
        }
    }

    public let directory: String
    public var certificatePath: String { (self.directory as NSString).appendingPathComponent("ca.crt") }
    public var keyPath: String { (self.directory as NSString).appendingPathComponent("ca.key") }

    /// The CA kept in `directory` (default `<state>/pki`).
    public init(directory: String) {
        self.directory = directory
    }

    public var exists: Bool {
        FileManager.default.fileExists(atPath: self.certificatePath)
            && FileManager.default.fileExists(atPath: self.keyPath)
    }

    /// Makes the root when there is none; returns whether it made one.
    @discardableResult
    public func initialize(name: String = "DECNET CA", now: Date = Date()) throws -> Bool {
        if self.exists { return false }
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("DECNET")
            CommonName(name)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: Self.keyIdentifier(key.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        try Self.write(key.pemRepresentation, to: self.keyPath, secret: true)
        try Self.write(try certificate.serializeAsPEM().pemString, to: self.certificatePath, secret: false)
        return true
    }

    /// Issues a certificate for `name` into `<directory>/<name>/` (or `output`), valid for the DNS names and
    /// IP addresses in `subjectAlternativeNames` (the name itself is always one).
    @discardableResult
    public func issue(
        name: String,
        roles: Set<Role>,
        subjectAlternativeNames: [String] = [],
        output: String? = nil,
        now: Date = Date()
    ) throws -> Identity {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw Failure("'\(name)' cannot name a certificate (no '/', not empty)")
        }
        let (caCertificate, caKey) = try self.load()
        let key = P256.Signing.PrivateKey()
        var names: [GeneralName] = []
        for alternative in [name] + subjectAlternativeNames {
            if let address = Self.addressBytes(alternative) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))))
            } else {
                names.append(.dnsName(alternative))
            }
        }
        let usages: [ExtendedKeyUsage.Usage] = roles.sorted { $0.rawValue < $1.rawValue }.map {
            $0 == .server ? .serverAuth : .clientAuth
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(5 * 365 * 86_400),
            issuer: caCertificate.subject,
            subject: try DistinguishedName {
                OrganizationName("DECNET")
                CommonName(name)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                try ExtendedKeyUsage(usages)
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(keyIdentifier: Self.keyIdentifier(key.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: Self.keyIdentifier(caKey.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey)
        )
        let folder = output ?? (self.directory as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let identity = Identity(directory: folder)
        try Self.write(key.pemRepresentation, to: identity.keyPath, secret: true)
        try Self.write(try certificate.serializeAsPEM().pemString, to: identity.certificatePath, secret: false)
        try Self.write(try caCertificate.serializeAsPEM().pemString, to: identity.caPath, secret: false)
        return identity
    }

    /// The identity issued for `name` earlier, if any.
    public func issued(_ name: String) -> Identity? {
        let identity = Identity(directory: (self.directory as NSString).appendingPathComponent(name))
        return (try? identity.check()) == nil ? nil : identity
    }

    /// Every certificate issued into the CA's folder: name, roles and expiry.
    public func list() -> [(name: String, subject: String, notAfter: Date, alternativeNames: [String])] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? []
        return names.sorted().compactMap { name in
            guard let identity = self.issued(name),
                let text = try? String(contentsOfFile: identity.certificatePath, encoding: .utf8),
                let certificate = try? Certificate(pemEncoded: text)
            else { return nil }
            let alternatives =
                (try? certificate.extensions.subjectAlternativeNames)??.map { "\($0)" } ?? []
            return (name, "\(certificate.subject)", certificate.notValidAfter, alternatives)
        }
    }

    private func load() throws -> (Certificate, P256.Signing.PrivateKey) {
        guard self.exists else { throw Failure("no CA in \(self.directory) (run `decnet ca init`)") }
        do {
            let certificate = try Certificate(
                pemEncoded: try String(contentsOfFile: self.certificatePath, encoding: .utf8)
            )
            let key = try P256.Signing.PrivateKey(
                pemRepresentation: try String(contentsOfFile: self.keyPath, encoding: .utf8)
            )
            return (certificate, key)
        } catch {
            throw Failure("the CA in \(self.directory) cannot be read: \(error)")
        }
    }

    /// RFC 5280 §4.2.1.2, method 1: SHA-1 of the public key's bits.
    static func keyIdentifier(_ key: P256.Signing.PublicKey) -> ArraySlice<UInt8> {
        ArraySlice(Insecure.SHA1.hash(data: key.x963Representation))
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address, or nil for a DNS name.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func write(_ text: String, to path: String, secret: Bool) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        guard
            FileManager.default.createFile(
                atPath: temporary,
                contents: Data(text.utf8),
                attributes: [.posixPermissions: secret ? 0o600 : 0o644]
            ), rename(temporary, path) == 0
        else { throw Failure("\(path) cannot be written (\(String(cString: strerror(errno))))") }
    }
}

/// TLS settings for DECNET's mutual TLS links: TLS 1.2 or 1.3, our CA as the only trust root, and a
/// certificate required from the peer on both sides.
public enum MutualTLS {
    public static func server(_ identity: CertificateAuthority.Identity) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(identity.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: identity.keyPath, format: .pem))
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .file(identity.caPath)
        // Chain verification against our CA alone; a client is named by its certificate, not its address.
        configuration.certificateVerification = .noHostnameVerification
        return try NIOSSLContext(configuration: configuration)
    }

    /// - Parameter verifyingName: check the server's certificate names the host connected to (give the host to
    ///   `NIOSSLClientHandler` as `serverHostname`). A target given by name is checked; one given as an address
    ///   is trusted by our CA alone, since a listener's certificate often names no address it is reached by.
    public static func client(
        _ identity: CertificateAuthority.Identity,
        verifyingName: Bool = false
    ) throws
        -> NIOSSLContext
    {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(identity.certificatePath).map {
            .certificate($0)
        }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: identity.keyPath, format: .pem))
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .file(identity.caPath)
        // Only our CA issues certificates this link trusts; the server's name is checked against its SANs
        // when the target is given by name (see SyslogForwarder).
        configuration.certificateVerification = verifyingName ? .fullVerification : .noHostnameVerification
        return try NIOSSLContext(configuration: configuration)
    }
}
