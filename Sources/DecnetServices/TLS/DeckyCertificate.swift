import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509
import _CryptoExtras

/// The certificate a decky's TLS services present: what Debian's `ssl-cert` package makes on install (the
/// "snakeoil" certificate): self-signed, RSA 2048, CN and SAN the hostname, ten years.
enum DeckyCertificate {
    /// A fresh certificate and key for `hostname`, ready for NIOSSL.
    static func make(
        hostname: String,
        now: Date = Date()
    ) throws -> (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey) {
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
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let nioCertificate = try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        let nioKey = try NIOSSLPrivateKey(bytes: Array(rsa.derRepresentation), format: .der)
        return (nioCertificate, nioKey)
    }
}
