import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/canary`: the tokens of the state directory (`decnet canary plant|list|revoke|triggers`), their triggers
    /// (stored `canary.triggered` events), planting one and revoking one.
    func addCanary(to group: RouterGroup<APIRequestContext>) {
        group.get("canary") { request, _ -> Page<CanaryTokenBody> in
            let reader = QueryReader(request)
            let limit = try reader.integer("limit", in: 1...1000, default: 50)
            let offset = try reader.integer("offset", in: 0...10_000_000, default: 0)
            let tokens = CanaryTokenDirectory(stateDirectory: self.settings.stateDirectory).all().reversed()
            var items: [CanaryTokenBody] = []
            for token in tokens.dropFirst(offset).prefix(limit) {
                items.append(CanaryTokenBody(token, triggers: try await self.canaryTriggerCount(token.id)))
            }
            return Page(total: tokens.count, limit: limit, offset: offset, items: items)
        }
        group.post("canary") { request, context -> EditedResponse<CanaryTokenBody> in
            _ = try context.requireAdmin()
            let body = try await request.decode(as: NewCanaryRequest.self, context: context)
            let token = try self.plantCanary(body)
            return EditedResponse(status: .created, response: CanaryTokenBody(token, triggers: 0))
        }
        group.get("canary/triggers") { request, _ -> Page<CanaryTriggerBody> in
            let reader = QueryReader(request)
            let limit = try reader.integer("limit", in: 1...1000, default: 50)
            let offset = try reader.integer("offset", in: 0...10_000_000, default: 0)
            let query = LogQuery(eventType: .canaryTriggered, limit: limit, offset: offset)
            async let total = self.store.countLogs(query)
            let events = try await self.store.logs(query)
            return Page(total: try await total, limit: limit, offset: offset, items: events.map(CanaryTriggerBody.init))
        }
        group.get("canary/:id") { _, context -> CanaryDetail in
            let id = try Self.canaryID(context)
            guard let token = CanaryTokenDirectory(stateDirectory: self.settings.stateDirectory).token(id) else {
                throw APIError.notFound("no canary token \(id)")
            }
            let query = LogQuery(eventType: .canaryTriggered, fields: ["token": token.id], limit: 100)
            return CanaryDetail(
                token: CanaryTokenBody(token, triggers: try await self.canaryTriggerCount(token.id)),
                triggers: try await self.store.logs(query).map(CanaryTriggerBody.init)
            )
        }
        group.delete("canary/:id") { _, context -> CanaryTokenBody in
            _ = try context.requireAdmin()
            let id = try Self.canaryID(context)
            let planter = CanaryPlanter(stateDirectory: self.settings.stateDirectory)
            guard planter.tokens.token(id) != nil else { throw APIError.notFound("no canary token \(id)") }
            let token = try planter.revoke(id)
            return CanaryTokenBody(token, triggers: try await self.canaryTriggerCount(token.id))
        }
    }

    /// Plants a token as `decnet canary plant` does: on a decky of the deployed fleet (which must exist) or
    /// nowhere, calling home to the fleet's canary decky unless the request names a base URL or zone. What the
    /// planter refuses is a 400 with its reason.
    func plantCanary(_ body: NewCanaryRequest) throws -> CanaryToken {
        guard let kind = CanaryToken.Kind(rawValue: body.type.lowercased()) else {
            throw APIError.badRequest("type must be url, dns, document, image or email")
        }
        let label = body.label.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !label.isEmpty, label.count <= 200 else {
            throw APIError.badRequest("label must be 1 to 200 characters (what the token is, for people)")
        }
        let fleet = try self.fleet.state()?.fleet
        let decky = fleet?.deckies.first { $0.name == body.decky }
        if let name = body.decky, decky == nil {
            let names = fleet?.deckies.map(\.name).joined(separator: ", ") ?? ""
            throw APIError.badRequest(
                "decky '\(name.prefix(64))': no such decky in the deployed fleet"
                    + (names.isEmpty ? " (nothing is deployed)" : " (deckies: \(names))")
            )
        }
        var endpoint = CanaryPlanter.Endpoint(fleet: fleet)
        if let url = body.baseURL { endpoint.baseURL = url }
        if let zone = body.zone { endpoint.zone = zone }
        do {
            return try CanaryPlanter(stateDirectory: self.settings.stateDirectory).plant(
                kind: kind,
                decky: decky?.name,
                hostname: decky?.hostname ?? "fileserver",
                label: label,
                path: body.path,
                endpoint: endpoint
            ).token
        } catch let failure as CanaryPlanter.Failure {
            // The planter words its reasons for the CLI; here they are the body's fields.
            var reason = failure.description
            for (option, field) in [("--base-url", "base_url"), ("--path", "path"), ("--zone", "zone")] {
                reason = reason.replacingOccurrences(of: option, with: field)
            }
            throw APIError.badRequest(reason)
        }
    }

    /// How often a token fired (its stored triggers).
    func canaryTriggerCount(_ id: String) async throws -> Int {
        try await self.store.countLogs(LogQuery(eventType: .canaryTriggered, fields: ["token": id]))
    }

    /// The `:id` of a canary route: a token id's shape (20 base32 characters), in lower case, or 400.
    static func canaryID(_ context: APIRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        guard CanaryToken.isID(id) else {
            throw APIError.badRequest("'\(id.prefix(64))' is not a canary token id (20 characters of base32)")
        }
        return id.lowercased()
    }
}
