import Crypto
import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
import Synchronization
import X509
import _CryptoExtras

/// The API server's serving certificate as kubeadm issues it: `CN=kube-apiserver` signed by the cluster CA
/// `CN=kubernetes`, valid a year from the CA's birth, with kubeadm's SANs (the node name, `kubernetes`,
/// `kubernetes.default`, `kubernetes.default.svc`, `kubernetes.default.svc.cluster.local`, `10.96.0.1` and the
/// node's address). Made when first needed (RSA 2048 twice), kept in the decky's key directory.
final class K8sCertificate: Sendable {
    struct Made: Sendable {
        var certificate: NIOSSLCertificate
        var key: NIOSSLPrivateKey
        var caPEM: String
    }

    static let files = (certificate: "k8s-apiserver.pem", key: "k8s-apiserver-key.pem", ca: "k8s-ca.pem")

    let hostname: String
    let directory: String?
    /// The node address, shared with the maker.
    private final class Address: Sendable {
        let value: Mutex<String?>
        init(_ value: String?) { self.value = Mutex(value) }
    }

    private let address: Address
    let made: BackgroundMade<Made>

    init(hostname: String, directory: String?, address: String?) {
        self.hostname = hostname
        self.directory = directory
        let box = Address(address)
        self.address = box
        let name = String(hostname.split(separator: ".").first ?? Substring(hostname)).lowercased()
        self.made = BackgroundMade(kept: try? Self.kept(in: directory)) {
            let ip = box.value.withLock { $0 } ?? "10.0.0.10"
            return try Self.load(node: name, address: ip, directory: directory)
        }
    }

    /// The node address for the SAN, learned from the first connection when the decky's is not known.
    func learn(address: String?) {
        guard let address else { return }
        self.address.value.withLock { if $0 == nil { $0 = address } }
    }

    var knownAddress: String? { self.address.value.withLock { $0 } }

    static func kept(in directory: String?) throws -> Made? {
        guard let directory else { return nil }
        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        guard let certificate = FileManager.default.contents(atPath: path(Self.files.certificate)),
            let key = FileManager.default.contents(atPath: path(Self.files.key)),
            let ca = FileManager.default.contents(atPath: path(Self.files.ca))
        else { return nil }
        return Made(
            certificate: try NIOSSLCertificate(bytes: Array(certificate), format: .pem),
            key: try NIOSSLPrivateKey(bytes: Array(key), format: .pem),
            caPEM: String(decoding: ca, as: UTF8.self)
        )
    }

    static func load(node: String, address: String, directory: String?) throws -> Made {
        let pem = try Self.makePEM(node: node, address: address)
        if let directory {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
            guard
                FileManager.default.createFile(
                    atPath: path(Self.files.key),
                    contents: Data(pem.key.utf8),
                    attributes: [.posixPermissions: 0o600]
                )
            else { throw CocoaError(.fileWriteNoPermission) }
            try Data(pem.certificate.utf8).write(
                to: URL(fileURLWithPath: path(Self.files.certificate)),
                options: .atomic
            )
            try Data(pem.ca.utf8).write(to: URL(fileURLWithPath: path(Self.files.ca)), options: .atomic)
        }
        return Made(
            certificate: try NIOSSLCertificate(bytes: Array(pem.certificate.utf8), format: .pem),
            key: try NIOSSLPrivateKey(bytes: Array(pem.key.utf8), format: .pem),
            caPEM: pem.ca
        )
    }

    /// Go's pkix writes printable names as PrintableString, which client certificates' issuers then match
    /// byte for byte.
    static func name(_ commonName: String) throws -> DistinguishedName {
        DistinguishedName([
            RelativeDistinguishedName(try .init(type: .RDNAttributeType.commonName, printableString: commonName))
        ])
    }

    /// A CA and the serving certificate it signed, as PEM.
    static func makePEM(
        node: String,
        address: String,
        now: Date = Date()
    ) throws -> (certificate: String, key: String, ca: String) {
        let caKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let caPrivate = Certificate.PrivateKey(caKey)
        let caName = try Self.name("kubernetes")
        // kubeadm init some months ago; the serving certificate shares the CA's notBefore and lasts a year.
        let born = now.addingTimeInterval(
            -Double(Int.random(in: 30...300)) * 86_400 - Double(Int.random(in: 0...86_000))
        )
        let caIdentifier = SubjectKeyIdentifier(hash: caPrivate.publicKey)
        let ca = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(bytes: Self.serial()),
            publicKey: caPrivate.publicKey,
            notValidBefore: born,
            notValidAfter: born.addingTimeInterval(10 * 365 * 86_400),
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true, keyCertSign: true))
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                caIdentifier
                SubjectAlternativeNames([.dnsName("kubernetes")])
            },
            issuerPrivateKey: caPrivate
        )
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let leafPrivate = Certificate.PrivateKey(key)
        var addresses: [GeneralName] = [.ipAddress(ASN1OctetString(contentBytes: [10, 96, 0, 1]))]
        let octets = address.split(separator: ".").compactMap { UInt8($0) }
        if octets.count == 4 { addresses.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(octets)))) }
        let names: [GeneralName] =
            [
                node, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ]
            .map { .dnsName($0) } + addresses
        let leaf = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(bytes: Self.serial()),
            publicKey: leafPrivate.publicKey,
            notValidBefore: born,
            notValidAfter: born.addingTimeInterval(365 * 86_400),
            issuer: caName,
            subject: try Self.name("kube-apiserver"),
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                Critical(BasicConstraints.notCertificateAuthority)
                AuthorityKeyIdentifier(keyIdentifier: caIdentifier.keyIdentifier)
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: caPrivate
        )
        return (try leaf.serializeAsPEM().pemString, key.pemRepresentation, try ca.serializeAsPEM().pemString)
    }

    /// A positive serial below 2^63, as Go's `rand.Int(rand.Reader, MaxInt64)` gives.
    static func serial() -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        var bytes = (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes[0] &= 0x7F
        if bytes[0] == 0 { bytes[0] = 0x01 }
        return bytes
    }

    /// The server context: TLS 1.2 and 1.3, the serving certificate through the per-handshake override, and a
    /// CertificateRequest naming `CN=kubernetes` that asks for a client certificate without requiring one.
    func serverContext() throws -> NIOSSLContext {
        let standIn = try Self.standIn.get()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(standIn.certificate)],
            privateKey: .privateKey(standIn.key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates([standIn.ca])
        configuration.sendCANameList = true
        configuration.sslContextCallback = { [self] _, promise in
            self.made.request { result in
                switch result {
                case .success(let made):
                    var override = NIOSSLContextConfigurationOverride()
                    override.certificateChain = [.certificate(made.certificate)]
                    override.privateKey = .privateKey(made.key)
                    promise.succeed(override)
                case .failure(let error):
                    promise.fail(error)
                }
            }
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Made once per process: NIOSSL needs a certificate to build the context (replaced per handshake), and the
    /// CA whose name the CertificateRequest carries.
    private static let standIn:
        Result<(certificate: NIOSSLCertificate, key: NIOSSLPrivateKey, ca: NIOSSLCertificate), any Error> =
            Result {
                let key = P256.Signing.PrivateKey()
                let now = Date()
                func make(_ name: DistinguishedName, authority: Bool) throws -> NIOSSLCertificate {
                    let certificate = try Certificate(
                        version: .v3,
                        serialNumber: Certificate.SerialNumber(),
                        publicKey: Certificate.PublicKey(key.publicKey),
                        notValidBefore: now,
                        notValidAfter: now.addingTimeInterval(86_400),
                        issuer: name,
                        subject: name,
                        signatureAlgorithm: .ecdsaWithSHA256,
                        extensions: try Certificate.Extensions {
                            if authority { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)) }
                        },
                        issuerPrivateKey: Certificate.PrivateKey(key)
                    )
                    var serializer = DER.Serializer()
                    try serializer.serialize(certificate)
                    return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
                }
                return (
                    try make(try K8sCertificate.name("localhost"), authority: false),
                    try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der),
                    try make(try K8sCertificate.name("kubernetes"), authority: true)
                )
            }

    /// The DNS names and addresses a PEM certificate is valid for, in order.
    static func subjectAlternativeNames(pem: String) throws -> [String] {
        let certificate = try Certificate(pemEncoded: pem)
        guard let names = try certificate.extensions.subjectAlternativeNames else { return [] }
        return names.map { name in
            switch name {
            case .dnsName(let dns): dns
            case .ipAddress(let octets): octets.bytes.map(String.init).joined(separator: ".")
            default: "\(name)"
            }
        }
    }

    static func identity(pem: String) throws -> K8sClientCertificate? {
        Self.identity(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))
    }

    /// The identity a client certificate claims (CN user, O groups), its issuer and digest.
    static func identity(_ certificate: NIOSSLCertificate) -> K8sClientCertificate? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return nil
        }
        var commonName = ""
        var organizations: [String] = []
        for rdn in parsed.subject {
            for attribute in rdn {
                if attribute.type == .RDNAttributeType.commonName { commonName = attribute.value.description }
                if attribute.type == .RDNAttributeType.organizationName {
                    organizations.append(attribute.value.description)
                }
            }
        }
        return K8sClientCertificate(
            commonName: commonName,
            organizations: organizations,
            issuer: String(describing: parsed.issuer),
            sha256: SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
        )
    }
}

/// Keeps the certificate a client presented in the handshake (the verification callback accepts any, as the
/// API server's does: its x509 authenticator rejects it later, per request).
final class K8sPeerCertificate: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let value = Mutex<K8sClientCertificate?>(nil)

    var certificate: K8sClientCertificate? { self.value.withLock { $0 } }

    func keep(_ chain: [NIOSSLCertificate]) {
        guard let leaf = chain.first, let identity = K8sCertificate.identity(leaf) else { return }
        self.value.withLock { $0 = identity }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }
}
