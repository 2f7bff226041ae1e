import DecnetPipeline
import Foundation
import Hummingbird

extension APIServer {
    /// `/swarm/hosts`: the swarm's agent hosts (`decnet swarm list`), each with its pinned certificate and the state
    /// the master's listener sees (up, down when its heartbeats stopped).
    func addSwarm(to group: RouterGroup<APIRequestContext>) {
        let state = self.settings.stateDirectory
        group.get("swarm/hosts") { _, _ -> [SwarmHostBody] in
            do {
                return try SwarmStatus.hosts(stateDirectory: state).map(SwarmHostBody.init)
            } catch {
                throw APIError(.serviceUnavailable, "the swarm register cannot be read: \(error)")
            }
        }
        // `decnet swarm add`: the host's identity issued from the CA and pinned; the answer says where the
        // identity is on the master (copied to the agent by the operator; no key travels over the API).
        group.post("swarm/hosts") { request, context -> EditedResponse<NewSwarmHostBody> in
            _ = try context.requireAdmin()
            let body = try await request.decode(as: NewSwarmHostRequest.self, context: context)
            do {
                let (host, identity) = try SwarmEnrolment.enrol(
                    stateDirectory: state,
                    name: body.name,
                    address: body.address
                )
                let view = SwarmHostView(host: host, lastSeen: nil, state: "never seen")
                return EditedResponse(
                    status: .created,
                    response: NewSwarmHostBody(host: SwarmHostBody(view), identity: identity ?? "")
                )
            } catch let failure as SwarmRegistry.Failure {
                throw APIError.badRequest(failure.description)
            }
        }
        // `decnet swarm remove`: its certificate is refused from now on.
        group.delete("swarm/hosts/:name") { _, context -> SwarmHostBody in
            _ = try context.requireAdmin()
            let name = try context.parameters.require("name")
            do {
                let removed = try SwarmRegistry(stateDirectory: state).remove(name: name)
                return SwarmHostBody(SwarmHostView(host: removed, lastSeen: nil, state: "removed"))
            } catch let failure as SwarmRegistry.Failure {
                throw APIError.notFound(failure.description)
            }
        }
    }
}

struct NewSwarmHostRequest: Decodable {
    var name: String
    /// How the master reaches the agent's control channel: host or host:port.
    var address: String
}

struct NewSwarmHostBody: ResponseEncodable {
    var host: SwarmHostBody
    /// The folder on the master holding the agent's cert.pem, key.pem, ca.crt and updater.pub.
    var identity: String
}

/// A swarm host in the API: absent values as `null`.
struct SwarmHostBody: ResponseEncodable, Encodable {
    var name: String
    var address: String
    var fingerprint: String
    var subject: String
    var added: Date
    var lastSeen: Date?
    var state: String
    var heartbeatSeconds: Double?

    init(_ view: SwarmHostView) {
        self.name = view.host.name
        self.address = view.host.address
        self.fingerprint = view.host.fingerprint
        self.subject = view.host.subject
        self.added = view.host.added
        self.lastSeen = view.lastSeen
        self.state = view.state
        self.heartbeatSeconds = view.heartbeatSeconds
    }

    enum CodingKeys: String, CodingKey {
        case name, address, fingerprint, subject, added, state
        case lastSeen = "last_seen"
        case heartbeatSeconds = "heartbeat_seconds"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.address, forKey: .address)
        try container.encode(self.fingerprint, forKey: .fingerprint)
        try container.encode(self.subject, forKey: .subject)
        try container.encode(self.added, forKey: .added)
        try container.encode(self.lastSeen, forKey: .lastSeen)
        try container.encode(self.state, forKey: .state)
        try container.encode(self.heartbeatSeconds, forKey: .heartbeatSeconds)
    }
}
