import DecnetConfig
import DecnetCore
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/topology`: MazeNET topologies (`decnet topology`). Reads answer from the records and the fleet; a deploy
    /// or teardown is a mutation the API starts and returns at once (202), carried out by `decnet topology` in a
    /// process of its own and followed at `/topology/{id}/mutations/latest` or on the live stream
    /// (`topology.{id}.mutation.>`).
    func addTopology(to group: RouterGroup<APIRequestContext>) {
        let store = TopologyStore(stateDirectory: self.settings.stateDirectory)
        group.get("topology") { _, _ -> [TopologySummaryBody] in
            store.all().map(TopologySummaryBody.init)
        }
        group.post("topology") { request, context -> EditedResponse<TopologyBody> in
            _ = try context.requireAdmin()
            let body = try await request.decode(as: NewTopologyRequest.self, context: context)
            guard InputSyntax.isName(body.name) else {
                throw APIError.badRequest("name must be letters, digits, '-' or '_'")
            }
            guard body.config.utf8.count <= 512 * 1024 else {
                throw APIError.badRequest("config must be a topology file of at most 512 KiB")
            }
            guard store.find(body.name) == nil else {
                throw APIError.badRequest("a topology named \(body.name) exists")
            }
            let (_, layout) = try Self.plan(source: body.config, name: body.name)
            let record = TopologyRecord.created(name: body.name, source: body.config, summary: layout.summary)
            let (fleet, wiring) = try Self.plan(record)
            try store.save(record)
            return EditedResponse(
                status: .created,
                response: try await self.topologyBody(record, fleet: fleet, layout: wiring)
            )
        }
        group.get("topology/:id") { _, context -> TopologyBody in
            let record = try Self.record(context, store)
            let (fleet, layout) = try Self.plan(record)
            return try await self.topologyBody(record, fleet: fleet, layout: layout)
        }
        group.put("topology/:id/positions") { request, context -> [String: TopologyRecord.Position] in
            _ = try context.requireAdmin()
            let record = try Self.record(context, store)
            let body = try await request.decode(as: PositionsRequest.self, context: context)
            let (fleet, layout) = try Self.plan(record)
            let nodes = Set(fleet.deckies.map(\.name) + layout.segments.map { "segment:\($0.name)" } + ["attacker"])
            guard body.positions.count <= nodes.count else { throw APIError.badRequest("more positions than nodes") }
            for (node, position) in body.positions {
                guard nodes.contains(node) else { throw APIError.badRequest("no node \(node) in this topology") }
                guard position.x.isFinite, position.y.isFinite, abs(position.x) <= 100_000, abs(position.y) <= 100_000
                else { throw APIError.badRequest("\(node): x and y must be numbers within ±100000") }
            }
            let updated = try store.update(record.id) { record in
                for (node, position) in body.positions { record.positions[node] = position }
            }
            return updated.positions
        }
        group.get("topology/:id/mutations/latest") { _, context -> TopologyMutationBody in
            let record = try Self.record(context, store)
            guard let mutation = record.mutations.last else { throw APIError.notFound("no mutation yet") }
            return TopologyMutationBody(topology: record.id, mutation)
        }
        for operation in ["deploy", "teardown"] {
            group.post("topology/:id/\(operation)") { _, context -> EditedResponse<TopologyMutationBody> in
                _ = try context.requireAdmin()
                let record = try Self.record(context, store)
                guard let runner = self.settings.runner else {
                    throw APIError(.forbidden, "this API does not change the fleet (started with --no-deploy)")
                }
                if let running = record.mutations.last, running.state == "pending" || running.state == "running" {
                    throw APIError(.conflict, "a \(running.operation) of this topology is under way")
                }
                let mutation = TopologyRecord.Mutation(
                    id: UUID().uuidString.lowercased(),
                    operation: operation,
                    state: "pending",
                    message: "queued",
                    started: Date(),
                    finished: nil
                )
                try store.update(record.id) { $0.mutations.append(mutation) }
                let arguments =
                    ["topology", operation, "--id", record.id]
                    + (operation == "deploy" ? ["--mutation", mutation.id] : [])
                Task {
                    let outcome = try? await runner(arguments)
                    // The command records its own progress; a command that never ran is recorded here.
                    if outcome == nil || outcome?.ok == false {
                        _ = try? store.update(record.id) { record in
                            guard let index = record.mutations.firstIndex(where: { $0.id == mutation.id }),
                                record.mutations[index].state != "failed"
                            else { return }
                            record.mutations[index].state = "failed"
                            record.mutations[index].message =
                                outcome?.output.suffix(5).joined(separator: "\n")
                                ?? "decnet topology \(operation) could not be started"
                            record.mutations[index].finished = Date()
                        }
                    }
                }
                return EditedResponse(status: .accepted, response: TopologyMutationBody(topology: record.id, mutation))
            }
        }
    }

    static func record(_ context: APIRequestContext, _ store: TopologyStore) throws -> TopologyRecord {
        let id = try context.parameters.require("id")
        guard let record = store.find(id) else { throw APIError.notFound("no topology \(id)") }
        return record
    }

    static func plan(_ record: TopologyRecord) throws -> (Fleet, MazeLayout) {
        try Self.plan(source: record.source, name: record.name, network: record.networkName)
    }

    static func plan(source: String, name: String, network: String = "m") throws -> (Fleet, MazeLayout) {
        do {
            return try TopologyFileLoader.plan(source, path: "topology \(name)", name: network)
        } catch {
            throw APIError.badRequest("\(error)")
        }
    }

    /// The topology with each node's live state (when it is the deployed fleet here) and the attackers' paths.
    func topologyBody(_ record: TopologyRecord, fleet: Fleet, layout: MazeLayout) async throws -> TopologyBody {
        var live: [String: String] = [:]
        let deployedHere = (try? self.fleet.state())??.native?.maze?.name == layout.name
        if deployedHere {
            for decky in try await self.fleet.snapshot().deckies { live[decky.name] = decky.state }
        }
        // Attackers who touched the topology's deckies, each once, with the way they went.
        var touched: [String: AttackerProfile] = [:]
        for decky in fleet.deckies {
            let page = try await self.store.attackers(AttackerQuery(decky: decky.name, limit: 200))
            for attacker in page.items { touched[attacker.ip] = attacker }
        }
        let paths = touched.values.sorted { ($0.firstSeen, $0.ip) < ($1.firstSeen, $1.ip) }.compactMap { attacker in
            layout.path(touching: attacker.deckies).map {
                TopologyPathBody(
                    attackerIP: attacker.ip,
                    firstSeen: attacker.firstSeen,
                    lastSeen: attacker.lastSeen,
                    path: $0
                )
            }
        }
        return TopologyBody(
            record: record,
            fleet: fleet,
            layout: layout,
            live: deployedHere ? live : nil,
            paths: Array(paths.prefix(100))
        )
    }
}

struct NewTopologyRequest: Decodable {
    var name: String
    /// The topology file (docs/mazenet.md).
    var config: String
}

struct PositionsRequest: Decodable {
    var positions: [String: TopologyRecord.Position]
}

struct TopologySummaryBody: ResponseEncodable {
    var id: String
    var name: String
    var status: String
    var created: Date
    var lastMutation: TopologyMutationBody?

    init(_ record: TopologyRecord) {
        self.id = record.id
        self.name = record.name
        self.status = record.status
        self.created = record.created
        self.lastMutation = record.mutations.last.map { TopologyMutationBody(topology: record.id, $0) }
    }

    enum CodingKeys: String, CodingKey {
        case id, name, status, created
        case lastMutation = "last_mutation"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.status, forKey: .status)
        try container.encode(self.created, forKey: .created)
        try container.encode(self.lastMutation, forKey: .lastMutation)
    }
}

struct TopologyMutationBody: ResponseEncodable {
    var topology: String
    var id: String
    var operation: String
    var state: String
    var message: String
    var started: Date
    var finished: Date?

    init(topology: String, _ mutation: TopologyRecord.Mutation) {
        self.topology = topology
        self.id = mutation.id
        self.operation = mutation.operation
        self.state = mutation.state
        self.message = mutation.message
        self.started = mutation.started
        self.finished = mutation.finished
    }

    enum CodingKeys: String, CodingKey { case topology, id, operation, state, message, started, finished }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.topology, forKey: .topology)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.operation, forKey: .operation)
        try container.encode(self.state, forKey: .state)
        try container.encode(self.message, forKey: .message)
        try container.encode(self.started, forKey: .started)
        try container.encode(self.finished, forKey: .finished)
    }
}

struct TopologyPathBody: Encodable, Sendable {
    var attackerIP: String
    var firstSeen: Date
    var lastSeen: Date
    var path: MazeLayout.Path

    enum CodingKeys: String, CodingKey {
        case deckies, segments, crossings, route
        case attackerIP = "attacker_ip"
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.attackerIP, forKey: .attackerIP)
        try container.encode(self.firstSeen, forKey: .firstSeen)
        try container.encode(self.lastSeen, forKey: .lastSeen)
        try container.encode(self.path.deckies, forKey: .deckies)
        try container.encode(self.path.segments, forKey: .segments)
        try container.encode(self.path.crossings, forKey: .crossings)
        try container.encode(self.path.route, forKey: .route)
    }
}

/// A topology in full: segments, routers, deckies (with their live state when it is deployed here), the
/// attacker's place, canvas positions, mutations, and the attackers' paths.
struct TopologyBody: ResponseEncodable {
    struct Node: Encodable, Sendable {
        var name: String
        var ip: String
        var segment: String
        var router: Bool
        var legs: [MazeLayout.Leg]
        var services: [String]
        var state: String?
    }

    var record: TopologyRecord
    var fleet: Fleet
    var layout: MazeLayout
    var live: [String: String]?
    var paths: [TopologyPathBody]

    enum CodingKeys: String, CodingKey {
        case id, name, status, created, entry, segments, deckies, attacker, positions, mutations, paths
    }

    struct SegmentBody: Encodable {
        var name: String
        var subnet: String
    }

    struct AttackerBody: Encodable {
        var segment: String
        var ip: String
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.record.id, forKey: .id)
        try container.encode(self.record.name, forKey: .name)
        try container.encode(self.record.status, forKey: .status)
        try container.encode(self.record.created, forKey: .created)
        try container.encode(self.layout.attacker.segment, forKey: .entry)
        try container.encode(
            self.layout.segments.map { SegmentBody(name: $0.name, subnet: $0.subnet.description) },
            forKey: .segments
        )
        let nodes = self.fleet.deckies.map { decky in
            Node(
                name: decky.name,
                ip: decky.ip.description,
                segment: self.layout.segment(of: decky.name) ?? "",
                router: self.layout.routers.contains(decky.name),
                legs: self.layout.legs[decky.name] ?? [],
                services: decky.services.map(\.kind.rawValue),
                state: self.live.map { $0[decky.name] ?? "absent" }
            )
        }
        try container.encode(nodes, forKey: .deckies)
        try container.encode(
            AttackerBody(segment: self.layout.attacker.segment, ip: self.layout.attacker.ip.description),
            forKey: .attacker
        )
        try container.encode(self.record.positions, forKey: .positions)
        try container.encode(
            self.record.mutations.map { TopologyMutationBody(topology: self.record.id, $0) },
            forKey: .mutations
        )
        try container.encode(self.paths, forKey: .paths)
    }
}
