import DecnetCore
import DecnetPipeline
import DecnetTesting
import Foundation
import PostgresNIO
import Testing

@testable import DecnetStore

/// The shared store over TLS, against a real PostgreSQL with certificates from the project's CA: verified
/// (chain and name), with a client certificate when the server asks for one, and every wrong setup refused with
/// a reason an operator can act on.
@Suite(.serialized, .enabled(if: PostgresServer.isUsable, "needs PostgreSQL 15 and root (CI installs both)"))
struct PostgresTLSTests {
    struct Fixture {
        let directory: TemporaryDirectory
        let authority: CertificateAuthority
        let server: CertificateAuthority.Identity
        let client: CertificateAuthority.Identity
        let stranger: CertificateAuthority

        init() throws {
            self.directory = try TemporaryDirectory()
            self.authority = CertificateAuthority(directory: self.directory.path + "/pki")
            try self.authority.initialize()
            // For a name only: NIOSSL also takes an IP address SAN that matches the peer, whatever name was asked
            // for, so the name check is shown by connecting to the address instead.
            self.server = try self.authority.issue(name: "localhost", roles: [.server])
            // The server checks the client certificate's CN against the user (`clientcert=verify-full`).
            self.client = try self.authority.issue(name: "decnet", roles: [.client])
            self.stranger = CertificateAuthority(directory: self.directory.path + "/other-pki")
            try self.stranger.initialize(name: "Someone else's CA")
        }
    }

    static func store(
        _ server: PostgresServer,
        host: String = "localhost",
        _ tls: PostgresEventStore.TLS
    ) throws -> PostgresEventStore {
        try PostgresEventStore(
            PostgresEventStore.Settings(
                host: host,
                port: server.port,
                user: server.user,
                password: nil,
                database: server.database,
                tls: tls
            )
        )
    }

    /// Migrating is the first thing every command does: it must fail with the reason, not a time-out.
    static func refusal(_ store: PostgresEventStore) async -> String {
        do {
            try await store.migrate()
            return "connected"
        } catch {
            return "\(error)"
        }
    }

    @Test func verifiedTLSWithAClientCertificate() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let server = try await PostgresServer.start(
            tls: PostgresServer.TLSFiles(
                certificate: fixture.server.certificatePath,
                key: fixture.server.keyPath,
                authority: fixture.authority.certificatePath,
                requireClientCertificate: true
            )
        )
        do {
            let full = PostgresEventStore.TLS(
                verification: .full,
                rootCertificates: fixture.authority.certificatePath,
                certificate: fixture.client.certificatePath,
                key: fixture.client.keyPath
            )
            let store = try Self.store(server, full)
            try await store.migrate()
            let result = try await store.ingest(EventStoreTests.scenario().map(LogEntry.init), cursor: nil)
            #expect(result.inserted == 9)
            #expect(try await store.counts() == ["logs": 9, "bounty": 6, "attackers": 2])
            // The server says the session is encrypted.
            let rows = try await store.client.query(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                logger: store.logger
            )
            var seen: [(Bool, String)] = []
            for try await row in rows.decode((Bool, String).self) { seen.append(row) }
            #expect(seen.count == 1 && seen[0].0 && seen[0].1.hasPrefix("TLSv1."), "\(seen)")
            await store.close()

            // No client certificate: the server refuses, and says so.
            var noCertificate = full
            noCertificate.certificate = nil
            noCertificate.key = nil
            let refused = await Self.refusal(try Self.store(server, noCertificate))
            #expect(refused.contains("refused by the server") && refused.contains("certificate"), "\(refused)")

            // A server certificate from another CA fails the check on our side.
            var otherRoots = full
            otherRoots.rootCertificates = fixture.stranger.certificatePath
            let untrusted = await Self.refusal(try Self.store(server, otherRoots))
            #expect(untrusted.contains("TLS failed"), "\(untrusted)")

            // Its name: the certificate is for localhost, not 127.0.0.1. verify-full refuses, verify-ca (the
            // chain only) connects.
            let wrongName = await Self.refusal(try Self.store(server, host: "127.0.0.1", full))
            #expect(wrongName.contains("TLS failed"), "\(wrongName)")
            var chainOnly = full
            chainOnly.verification = .chain
            #expect(await Self.refusal(try Self.store(server, host: "127.0.0.1", chainOnly)) == "connected")

            // In the clear: this server takes only TLS over TCP.
            let clear = await Self.refusal(try Self.store(server, .disabled))
            #expect(clear.contains("refused by the server") && clear.contains("no encryption"), "\(clear)")
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func tlsRequiredOfAServerWithoutItIsRefused() async throws {
        let server = try await PostgresServer.start()
        let refused = await Self.refusal(
            try Self.store(server, PostgresEventStore.TLS(verification: PostgresEventStore.TLS.Verification.none))
        )
        await server.stop()
        #expect(refused.contains("offers no TLS"), "\(refused)")
    }

    @Test func unusableFilesAreNamed() throws {
        let missing = PostgresEventStore.TLS(verification: .full, rootCertificates: "/nonexistent/ca.crt")
        #expect(throws: PostgresEventStore.ConfigurationFailure.self) {
            _ = try PostgresEventStore(
                PostgresEventStore.Settings(
                    host: "10.0.0.5",
                    port: 5432,
                    user: "u",
                    password: nil,
                    database: "d",
                    tls: missing
                )
            )
        }
        do {
            _ = try missing.configuration()
        } catch {
            #expect("\(error)".contains("DECNET_DB_SSLROOTCERT"))
        }
    }
}
