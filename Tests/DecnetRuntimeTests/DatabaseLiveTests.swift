import DecnetCore
import DecnetTesting
import Foundation
import Testing

/// mysql and postgres against Debian's `mariadb` and `psql` clients.
@Suite struct DatabaseLiveTests {
    @Test(.enabled(if: ExternalTool.mariadb.isUsable, "needs mariadb (required under CI)"))
    func mariadbClientLogsInAndQueriesAreCaptured() async throws {
        let client = try #require(ExternalTool.mariadb.path, "\(ExternalTool.mariadb.missingMessage)")
        let service = try await LiveService.start(
            "mysql",
            persona: ["mysql_version": "8.0.36-0ubuntu0.22.04.1", "users": "root:toor"]
        )
        let port = String(service.port)
        let good = try await ProcessRunner.run(
            client,
            ["-h", "127.0.0.1", "-P", port, "-u", "root", "-ptoor", "-N", "-e", "select version()"]
        )
        #expect(good.standardOutput == "8.0.36-0ubuntu0.22.04.1\n", "\(good.standardError)")
        let bad = try await ProcessRunner.run(
            client,
            ["-h", "127.0.0.1", "-P", port, "-u", "sa", "-pWinter2024", "-e", "select 1"]
        )
        #expect(
            bad.standardError.contains(
                "ERROR 1045 (28000): Access denied for user 'sa'@'127.0.0.1' (using password: YES)"
            )
        )
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 2 }
        await service.stop()

        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(success[field: "username"] == "root" && success[field: "password"] == "toor")
        #expect(success.service == "mysql" && success.decky == "decky-test" && success.source.ip == "127.0.0.1")
        #expect(success[field: "salt_hex"]?.count == 40 && success[field: "scramble_hex"]?.isEmpty == false)
        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "sa" && failure[field: "password"] == "Winter2024")
        #expect(service.capture.events(.commandInput).contains { $0[field: "args"] == "select version()" })
        #expect(
            service.capture.events(.clientFingerprint).contains {
                $0[field: "client"]?.contains("_client_name=libmariadb") == true
            }
        )
    }

    @Test(.enabled(if: ExternalTool.psql.isUsable, "needs psql (required under CI)"))
    func psqlLogsInAndQueriesAreCaptured() async throws {
        let client = try #require(ExternalTool.psql.path, "\(ExternalTool.psql.missingMessage)")
        let service = try await LiveService.start("postgres", persona: ["pg_version": "15.6", "users": "app:s3cret"])
        let port = String(service.port)
        let good = try await ProcessRunner.run(
            client,
            ["-h", "127.0.0.1", "-p", port, "-U", "app", "-d", "shop", "-tA", "-c", "select version()"],
            environment: ["PGPASSWORD": "s3cret", "PGCONNECT_TIMEOUT": "15"]
        )
        #expect(good.standardOutput.hasPrefix("PostgreSQL 15.6 (Debian 15.6-0+deb12u1)"), "\(good.standardError)")
        let bad = try await ProcessRunner.run(
            client,
            ["-h", "127.0.0.1", "-p", port, "-U", "postgres", "-c", "select 1"],
            environment: ["PGPASSWORD": "postgres", "PGCONNECT_TIMEOUT": "15"]
        )
        #expect(bad.standardError.contains("password authentication failed for user \"postgres\""))
        await service.capture.wait { $0.filter { $0.id == .connectionClose }.count >= 2 }
        await service.stop()

        let success = try #require(service.capture.events(.loginSuccess).first)
        #expect(
            success[field: "username"] == "app" && success[field: "password"] == "s3cret"
                && success[field: "database"] == "shop"
        )
        #expect(success.service == "postgres" && success.source.ip == "127.0.0.1")
        let failure = try #require(service.capture.events(.loginFailed).first)
        #expect(failure[field: "username"] == "postgres" && failure[field: "password"] == "postgres")
        #expect(service.capture.events(.commandInput).contains { $0[field: "args"] == "select version()" })
        #expect(service.capture.events(.clientFingerprint).contains { $0[field: "client"] == "psql" })
    }
}
