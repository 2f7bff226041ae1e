import DecnetPipeline
import Foundation
import Hummingbird

extension APIServer {
    /// `/swarm/hosts`: the swarm's agent hosts (`decnet swarm list`), each with its pinned certificate and the state
    /// the master's listener sees (up, down when its heartbeats stopped).
    func addSwarm(to group: RouterGroup<APIRequestContext>) {
        group.get("swarm/hosts") { _, _ -> [SwarmHostBody] in
            do {
                return try SwarmStatus.hosts(stateDirectory: self.settings.stateDirectory).map(SwarmHostBody.init)
            } catch {
                throw APIError(.serviceUnavailable, "the swarm register cannot be read: \(error)")
            }
        }
    }
}

/// A swarm host in the API: absent values as `null`.
struct SwarmHostBody: ResponseEncodable {
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
