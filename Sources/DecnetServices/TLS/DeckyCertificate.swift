import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509
import _CryptoExtras

/// The certificate a decky's TLS services present: what Debian's `ssl-cert` package makes on install (the
/// "snakeoil" certificate): self-signed, RSA 2048, CN and SAN the hostname, ten years.
enum DeckyCertificate {
    static let certificateFile = "tls-certificate.pem"
    static let keyFile = "tls-key.pem"

    /// The certificate kept in `directory`, or nil when there is none.
    static func kept(in directory: String?) throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey)? {
        guard let directory else { return nil }
        let certificatePath = (directory as NSString).appendingPathComponent(Self.certificateFile)
        let keyPath = (directory as NSString).appendingPathComponent(Self.keyFile)
        guard FileManager.default.fileExists(atPath: certificatePath), FileManager.default.fileExists(atPath: keyPath)
        else { return nil }
        let certificate = try Data(contentsOf: URL(fileURLWithPath: certificatePath))
        let key = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        return (
            try NIOSSLCertificate(bytes: Array(certificate), format: .pem),
            try NIOSSLPrivateKey(bytes: Array(key), format: .pem)
        )
    }

    /// The decky's certificate: the one kept in `directory` when there is one, else a fresh one, kept there
    /// (key readable by root only) so the decky shows the same certificate after a restart.
    static func load(
        hostname: String,
        directory: String?
    ) throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        guard let directory else { return try self.make(hostname: hostname) }
        if let kept = try self.kept(in: directory) { return kept }
        let certificatePath = (directory as NSString).appendingPathComponent(Self.certificateFile)
        let keyPath = (directory as NSString).appendingPathComponent(Self.keyFile)
        let made = try self.makePEM(hostname: hostname)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard
            FileManager.default.createFile(
                atPath: keyPath,
                contents: Data(made.key.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: keyPath]) }
        try Data(made.certificate.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
        return (
            try NIOSSLCertificate(bytes: Array(made.certificate.utf8), format: .pem),
            try NIOSSLPrivateKey(bytes: Array(made.key.utf8), format: .pem)
        )
    }

    /// A fresh certificate and key for `hostname`, as PEM.
    static func makePEM(hostname: String, now: Date = Date()) throws -> (certificate: String, key: String) {
        let (certificate, rsa) = try self.makeCertificate(hostname: hostname, now: now)
        return (try certificate.serializeAsPEM().pemString, rsa.pemRepresentation)
    }

    /// A fresh certificate and key for `hostname`, ready for NIOSSL.
    static func make(
        hostname: String,
        now: Date = Date()
    ) throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
        let (certificate, rsa) = try self.makeCertificate(hostname: hostname, now: now)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let nioCertificate = try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        let nioKey = try NIOSSLPrivateKey(bytes: Array(rsa.derRepresentation), format: .der)
        return (nioCertificate, nioKey)
    }

    private static func makeCertificate(
        hostname: String,
        now: Date
    ) throws -> (certificate: Certificate, rsa: _RSA.Signing.PrivateKey) {
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let key = Certificate.PrivateKey(rsa)
        let name = try DistinguishedName { CommonName(hostname) }
        // Installed some while ago, as a real host's certificate was.
        let issued = now.addingTimeInterval(-Double(Int.random(in: 30...700)) * 86_400)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: issued,
            notValidAfter: issued.addingTimeInterval(10 * 365 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName(hostname)])
                Critical(BasicConstraints.notCertificateAuthority)
            },
            issuerPrivateKey: key
        )
        return (certificate, rsa)
    }
}
