import DecnetConfig
import DecnetCore
import DecnetTesting
import Foundation
import Testing

@Suite struct DecnetEnvironmentTests {
    @Test func defaultsWhenNothingIsSet() async throws {
        let environment = try await DecnetEnvironment.load(environment: [:], environmentFile: nil)
        #expect(environment == DecnetEnvironment())
        #expect(environment.apiPort == 8000)
        #expect(environment.apiHost == "127.0.0.1")
        #expect(environment.databaseBackend == .sqlite)
        #expect(environment.resolvedDatabasePath == "./decnet.db")
    }

    @Test func processEnvironmentBeatsTheEnvFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent(".env.local").path
        try """
        # comment
        DECNET_API_PORT=9000
        DECNET_WEB_PORT=9090
        DECNET_DB_BACKEND=postgres
        DECNET_DB_POOL_SIZE=5
        DECNET_JWT_SECRET=from-file
        DECNET_TRACING=yes
        DECNET_STATE_DIR=/srv/decnet
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let environment = try await DecnetEnvironment.load(
            environment: ["DECNET_API_PORT": "8443", "DECNET_MODE": "agent"],
            environmentFile: file
        )
        #expect(environment.apiPort == 8443)
        #expect(environment.webPort == 9090)
        #expect(environment.mode == .agent)
        #expect(environment.databaseBackend == .postgres)
        #expect(environment.databasePoolSize == 5)
        #expect(environment.jwtSecret == "from-file")
        #expect(environment.tracing)
        #expect(environment.stateDirectory == "/srv/decnet")
    }

    @Test func badValuesNameTheirVariableAndAreAllReported() async throws {
        await #expect {
            _ = try await DecnetEnvironment.load(
                environment: [
                    "DECNET_API_PORT": "eighty", "DECNET_DB_BACKEND": "mysql", "DECNET_TRACING": "maybe",
                    "DECNET_MODE": "slave", "DECNET_WEB_HOST": "not a host",
                ],
                environmentFile: nil
            )
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let text = error.diagnostics.map(\.description)
            return text.count == 5
                && text.contains(
                    "environment: DECNET_API_PORT: 'eighty' is out of range; expected a whole number from 1 to 65535"
                )
                && text.contains { $0.hasPrefix("environment: DECNET_DB_BACKEND: mysql is the seed's shared store") }
                && text.contains("environment: DECNET_TRACING: 'maybe' is not a yes/no value; expected true or false")
                && text.contains("environment: DECNET_MODE: 'slave' is not recognised; expected master or agent")
                && text.contains { $0.hasPrefix("environment: DECNET_WEB_HOST:") }
        }
    }

    @Test func tlsToPostgreSQLIsOnUnlessTheHostIsLoopback() async throws {
        func load(_ variables: [String: String]) async throws -> DecnetEnvironment {
            try await DecnetEnvironment.load(environment: variables, environmentFile: nil)
        }
        #expect(try await load([:]).resolvedDatabaseTLSMode == .disable, "127.0.0.1 by default")
        #expect(try await load(["DECNET_DB_HOST": "localhost"]).resolvedDatabaseTLSMode == .disable)
        #expect(try await load(["DECNET_DB_HOST": "10.0.0.5"]).resolvedDatabaseTLSMode == .verifyFull)
        #expect(try await load(["DECNET_DB_HOST": "db.lab"]).resolvedDatabaseTLSMode == .verifyFull)
        let chosen = try await load([
            "DECNET_DB_HOST": "10.0.0.5", "DECNET_DB_SSLMODE": "verify-ca", "DECNET_DB_SSLROOTCERT": "/etc/ca.crt",
            "DECNET_DB_SSLCERT": "/etc/c.crt", "DECNET_DB_SSLKEY": "/etc/c.key",
        ])
        #expect(chosen.resolvedDatabaseTLSMode == .verifyCA && chosen.databaseTLSRootCertificates == "/etc/ca.crt")
        #expect(chosen.databaseTLSCertificate == "/etc/c.crt" && chosen.databaseTLSKey == "/etc/c.key")
        await #expect {
            _ = try await load(["DECNET_DB_SSLMODE": "prefer", "DECNET_DB_SSLCERT": "/etc/c.crt"])
        } throws: { error in
            let text = (error as? ConfigurationError)?.diagnostics.map(\.description) ?? []
            return text.count == 2
                && text.contains {
                    $0.hasPrefix("environment: DECNET_DB_SSLMODE: 'prefer' is not recognised; expected auto or disable")
                }
                && text.contains { $0.hasPrefix("environment: DECNET_DB_SSLKEY: a client certificate needs its key") }
        }
    }

    @Test func everyDocumentedVariableIsInEnvExample() throws {
        let example = try String(
            contentsOf: PackageLayout.root.appendingPathComponent(".env.example"),
            encoding: .utf8
        )
        for variable in DecnetEnvironment.variables {
            #expect(example.contains("\(variable)="), "\(variable) missing from .env.example")
        }
    }
}
