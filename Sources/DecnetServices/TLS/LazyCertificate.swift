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
    private enum State {
        case idle
        case generating([EventLoopPromise<NIOSSLContextConfigurationOverride>])
        case ready(NIOSSLContextConfigurationOverride)
        case failed(String)
    }

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    let hostname: String
    let directory: String?
    private let state: Mutex<State>

    /// Background generation, one key at a time at utility priority, so it never crowds out serving.
    static let prewarmQueue = DispatchQueue(label: "decnet.tls-certificates", qos: .utility)

    init(hostname: String, directory: String?) {
        self.hostname = hostname
        self.directory = directory
        if let kept = try? DeckyCertificate.kept(in: directory) {
            self.state = Mutex(.ready(Self.override(kept)))
        } else {
            self.state = Mutex(.idle)
        }
    }

    /// Starts generating in the background unless it is done or under way.
    func prewarm() {
        Self.prewarmQueue.async {
            if self.claim() { self.generate() }
        }
    }

    /// For NIOSSL's context callback: completes `promise` with the certificate, now or when it is made.
    func provide(_ promise: EventLoopPromise<NIOSSLContextConfigurationOverride>) {
        enum Action {
            case succeed(NIOSSLContextConfigurationOverride)
            case fail(String)
            case wait
            case start
        }
        let action = self.state.withLock { state -> Action in
            switch state {
            case .ready(let override): return .succeed(override)
            case .failed(let reason): return .fail(reason)
            case .generating(var waiting):
                waiting.append(promise)
                state = .generating(waiting)
                return .wait
            case .idle:
                state = .generating([promise])
                return .start
            }
        }
        switch action {
        case .succeed(let override): promise.succeed(override)
        case .fail(let reason): promise.fail(Unavailable(description: reason))
        case .wait: break
        case .start:
            let thread = Thread { self.generate() }
            thread.start()
        }
    }

    /// Moves idle → generating; false when someone else has it.
    private func claim() -> Bool {
        self.state.withLock { state in
            guard case .idle = state else { return false }
            state = .generating([])
            return true
        }
    }

    private func generate() {
        let result = Result { try DeckyCertificate.load(hostname: self.hostname, directory: self.directory) }
        let waiting = self.state.withLock { state -> [EventLoopPromise<NIOSSLContextConfigurationOverride>] in
            guard case .generating(let waiting) = state else { return [] }
            switch result {
            case .success(let made): state = .ready(Self.override(made))
            case .failure(let error): state = .failed("the decky's certificate cannot be made: \(error)")
            }
            return waiting
        }
        for promise in waiting {
            switch result {
            case .success(let made): promise.succeed(Self.override(made))
            case .failure(let error): promise.fail(Unavailable(description: "\(error)"))
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
    func serverContext(applicationProtocols: [String]) throws -> NIOSSLContext {
        let standIn = try Self.standIn.get()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(standIn.certificate)],
            privateKey: .privateKey(standIn.key)
        )
        configuration.applicationProtocols = applicationProtocols
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

/// Lets the engine hold background key generation while it brings a fleet up (a thousand RSA keys would take a
/// core for a minute and slow the deploy), and release it once every decky is served. A key a handshake needs
/// is still made at once.
public enum BackgroundKeyGeneration {
    private static let held = Mutex(0)

    public static func hold() {
        let first = Self.held.withLock { count -> Bool in
            count += 1
            return count == 1
        }
        if first { LazyCertificate.prewarmQueue.suspend() }
    }

    public static func release() {
        let last = Self.held.withLock { count -> Bool in
            guard count > 0 else { return false }
            count -= 1
            return count == 0
        }
        if last { LazyCertificate.prewarmQueue.resume() }
    }
}
