import Crypto
import Dispatch
import Foundation
import NIOCore
import NIOSSL
import SwiftASN1
import Synchronization
import X509

/// A decky's TLS certificate, made when first needed. An RSA 2048 key takes tens of milliseconds to generate,
/// so making one per decky at start would cost a thousand-decky fleet a minute; instead a kept certificate is
/// read at once, a missing one is generated in the background (one at a time, `prewarm`), and a handshake that
/// arrives first has it generated on a thread of its own and waits for it. The handshake gets the certificate
/// through NIOSSL's per-handshake override, so the certificate a client sees is always the decky's.
final class LazyCertificate: Sendable {
    typealias Pair = (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey)

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    let hostname: String
    let directory: String?
    private let made: BackgroundMade<Pair>

    init(hostname: String, directory: String?) {
        self.hostname = hostname
        self.directory = directory
        self.made = BackgroundMade(kept: try? DeckyCertificate.kept(in: directory)) {
            try DeckyCertificate.load(hostname: hostname, directory: directory)
        }
    }

    /// Starts generating in the background unless it is done or under way.
    func prewarm() { self.made.prewarm() }

    /// For NIOSSL's context callback: completes `promise` with the certificate, now or when it is made.
    func provide(_ promise: EventLoopPromise<NIOSSLContextConfigurationOverride>) {
        self.made.request { result in
            switch result {
            case .success(let pair): promise.succeed(Self.override(pair))
            case .failure(let error):
                promise.fail(Unavailable(description: "the decky's certificate cannot be made: \(error)"))
            }
        }
    }

    private static func override(
        _ pair: (certificate: NIOSSLCertificate, key: NIOSSLPrivateKey)
    ) -> NIOSSLContextConfigurationOverride {
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = [.certificate(pair.certificate)]
        override.privateKey = .privateKey(pair.key)
        return override
    }

    /// A server context that presents this certificate (through the override; the context's own certificate,
    /// a process-wide P-256 stand-in, is replaced before any ServerHello is sent).
    func serverContext(applicationProtocols: [String], maximumVersion: TLSVersion? = nil) throws -> NIOSSLContext {
        let standIn = try Self.standIn.get()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(standIn.certificate)],
            privateKey: .privateKey(standIn.key)
        )
        configuration.applicationProtocols = applicationProtocols
        if let maximumVersion { configuration.maximumTLSVersion = maximumVersion }
        configuration.sslContextCallback = { [self] _, promise in self.provide(promise) }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Made once per process: NIOSSL needs some certificate to build a server context.
    private static let standIn: Result<(certificate: NIOSSLCertificate, key: NIOSSLPrivateKey), any Error> =
        Result {
            let key = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("localhost") }
            let now = Date()
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now,
                notValidAfter: now.addingTimeInterval(86_400),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions(),
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return (
                try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der),
                try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)
            )
        }
}
