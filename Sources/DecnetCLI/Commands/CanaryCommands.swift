import ArgumentParser
import DecnetConfig
import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation

/// `decnet canary plant|list|revoke|triggers`: canary tokens planted in deckies' file trees, answered by the
/// `canary` service (see docs/canary.md).
struct CanaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary",
        abstract: "Plant, list and revoke canary tokens (files in deckies that call home when used).",
        discussion:
            "A token fires at the canary service of a decky (its web server for url, document, image and email tokens; its DNS zone, canary_zone, for dns tokens). A trigger is a canary.triggered event, published as canary.<id>.triggered.",
        subcommands: [Plant.self, List.self, Revoke.self, Triggers.self]
    )

    struct Plant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Plant a token in a decky; prints its id.")
        @Option(name: .customLong("type"), help: "url, dns, document, image or email.") var kind: String
        @Option(help: "The decky to plant it in (without one the token is only minted, for you to place).")
        var decky: String?
        @Option(help: "What it is, for people (shown with every trigger).") var label: String
        @Option(
            help:
                "Where on the decky (default per type: /opt/app/.env, /root/.ssh/config, /root/Documents/passwords.docx — .pdf for a PDF —, /var/www/html/images/logo.svg, /var/mail/root/1.eml)."
        ) var path: String?
        @Option(name: .customLong("base-url"), help: "The canary web server (default: the fleet's canary decky).")
        var baseURL: String?
        @Option(help: "The canary DNS zone (default: canary_zone of the fleet's canary decky).") var zone: String?
        @Option(help: "Also write the token's file here (to place it on a host of your own).") var output: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            guard let kind = CanaryToken.Kind(rawValue: self.kind.lowercased()) else {
                throw CommandFailure(
                    "--type \(self.kind): expected url, dns, document, image or email",
                    exitCode: .validationFailure
                )
            }
            let environment = try await EnvironmentLoading.load()
            let state = try FleetState.read(fromDirectory: environment.stateDirectory)
            let decky = state?.fleet.deckies.first { $0.name == self.decky }
            if let name = self.decky, decky == nil {
                let names = state?.fleet.deckies.map(\.name).joined(separator: ", ") ?? ""
                throw CommandFailure(
                    "--decky \(name): no such decky in the deployed fleet"
                        + (names.isEmpty ? " (nothing is deployed)" : " (deckies: \(names))"),
                    exitCode: .validationFailure
                )
            }
            var endpoint = CanaryPlanter.Endpoint(fleet: state?.fleet)
            if let url = self.baseURL { endpoint.baseURL = url }
            if let zone = self.zone { endpoint.zone = zone }
            let planter = CanaryPlanter(stateDirectory: environment.stateDirectory)
            let token: CanaryToken
            do {
                let file: [UInt8]
                (token, file) = try planter.plant(
                    kind: kind,
                    decky: decky?.name,
                    hostname: decky?.hostname ?? "fileserver",
                    label: self.label,
                    path: self.path,
                    endpoint: endpoint
                )
                if let output = self.output {
                    guard FileManager.default.createFile(atPath: output, contents: Data(file)) else {
                        throw CommandFailure("--output \(output): cannot be written")
                    }
                }
            } catch let failure as CanaryPlanter.Failure {
                throw CommandFailure(failure.description, exitCode: .validationFailure)
            }
            if self.json { return try JSONOutput.print(token) }
            if let decky = token.decky, let path = token.path {
                print("canary \(token.id) planted: \(token.kind.rawValue) at \(decky):\(path)")
            } else {
                print("canary \(token.id) minted (\(token.kind.rawValue), planted nowhere: place it yourself)")
            }
            print("fires on: \(token.url ?? token.hostname ?? "")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens with their triggers.")
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            var token: CanaryToken
            var triggers: Int?
        }

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let tokens = CanaryTokenDirectory(stateDirectory: environment.stateDirectory).all()
            let store = try? StoreOpening.open(environment, pageCacheBytes: 8 << 20)
            try? await store?.migrate()
            var rows: [Row] = []
            for token in tokens {
                let query = LogQuery(eventType: .canaryTriggered, fields: ["token": token.id])
                rows.append(Row(token: token, triggers: try? await store?.countLogs(query)))
            }
            if self.json { return try JSONOutput.print(rows) }
            var table = TextTable("ID", "Type", "Decky", "Path", "Label", "State", "Triggers")
            for row in rows {
                table.add(
                    row.token.id,
                    row.token.kind.rawValue,
                    row.token.decky ?? "-",
                    row.token.path ?? "-",
                    row.token.label,
                    row.token.isActive ? "active" : "revoked",
                    row.triggers.map(String.init) ?? "?"
                )
            }
            print(table.render())
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token: its file leaves the decky and it stays silent from now on."
        )
        @Argument(help: "The token's id.") var token: String?
        @Option(help: "The token's id (the seed's form).") var id: String?

        func run() async throws {
            guard let id = self.id ?? self.token else {
                throw CommandFailure("name the token: decnet canary revoke --id <id>", exitCode: .validationFailure)
            }
            let environment = try await EnvironmentLoading.load()
            do {
                let token = try CanaryPlanter(stateDirectory: environment.stateDirectory).revoke(id)
                let place = token.decky.map { "; \($0):\(token.path ?? "") removed" } ?? ""
                print("canary \(token.id) revoked\(place)")
            } catch let failure as CanaryPlanter.Failure {
                throw CommandFailure(failure.description)
            }
        }
    }

    struct Triggers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The stored triggers, newest first.")
        @Argument(help: "Only this token's.") var id: String?
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "Print JSON.") var json = false

        struct Row: Encodable {
            var time: Date
            var token: String
            var label: String
            var via: String
            var source: String
            var detail: String
        }

        func run() async throws {
            let environment = try await EnvironmentLoading.load()
            let store = try StoreOpening.open(environment, pageCacheBytes: 8 << 20)
            try await store.migrate()
            var query = LogQuery(eventType: .canaryTriggered, limit: max(1, min(self.limit, LogQuery.maximumLimit)))
            if let id = self.id { query.fields["token"] = id.lowercased() }
            let rows = try await store.logs(query).map { event in
                let field = { (name: String) in event.fields.first { $0.name == name }?.value ?? "" }
                return Row(
                    time: event.time,
                    token: field("token"),
                    label: field("label"),
                    via: field("via"),
                    source: event.source.ip,
                    detail: field("via") == "dns"
                        ? field("qname") : [field("url"), field("user_agent")].joined(separator: " ")
                )
            }
            if self.json { return try JSONOutput.print(rows) }
            var table = TextTable("Time", "Token", "Label", "Via", "Source", "Detail")
            for row in rows {
                table.add(RFC5424Formatter.timestamp(row.time), row.token, row.label, row.via, row.source, row.detail)
            }
            print(table.render())
        }
    }
}
