import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A swarm host as `decnet swarm list` and `GET /api/v1/swarm/hosts` show it: the register's entry and what the
/// master's running listener knows of it (its status file, rewritten every second).
public struct SwarmHostView: Sendable, Equatable {
    public var host: SwarmHost
    public var lastSeen: Date?
    /// `up`, `down` (heartbeats stopped), `connected` (heard, but it sends no heartbeats), `never seen`, or
    /// `unknown` when no listener runs here.
    public var state: String
    public var heartbeatSeconds: Double?

    public init(host: SwarmHost, lastSeen: Date?, state: String, heartbeatSeconds: Double? = nil) {
        self.host = host
        self.lastSeen = lastSeen
        self.state = state
        self.heartbeatSeconds = heartbeatSeconds
    }
}

public enum SwarmStatus {
    /// The files `decnet listener start` keeps in the state directory.
    static let listenerPID = "decnet-listener.pid"
    static let listenerStatus = "decnet-listener.status.json"

    /// Every host of the register with its state.
    public static func hosts(stateDirectory: String) throws -> [SwarmHostView] {
        let hosts = try SwarmRegistry(stateDirectory: stateDirectory).hosts()
        let statistics = Self.listenerStatistics(stateDirectory: stateDirectory)
        return hosts.map { host in
            guard let statistics else { return SwarmHostView(host: host, lastSeen: nil, state: "unknown") }
            let heard = statistics.hosts[host.name]
            let interval = statistics.heartbeatIntervals[host.name]
            let state =
                heard == nil
                ? "never seen"
                : statistics.hostsDown.contains(host.name) ? "down" : interval == nil ? "connected" : "up"
            return SwarmHostView(host: host, lastSeen: heard, state: state, heartbeatSeconds: interval)
        }
    }

    /// The running listener's statistics; nil when no listener runs in this state directory.
    public static func listenerStatistics(stateDirectory: String) -> SyslogListener.Statistics? {
        let directory = stateDirectory as NSString
        guard
            let text = try? String(contentsOfFile: directory.appendingPathComponent(Self.listenerPID), encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
            // Alive, though perhaps another user's (the API may run as another user than the listener).
            kill(pid, 0) == 0 || errno == EPERM,
            let data = FileManager.default.contents(atPath: directory.appendingPathComponent(Self.listenerStatus)),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let statistics = object["statistics"],
            let encoded = try? JSONSerialization.data(withJSONObject: statistics)
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(SyslogListener.Statistics.self, from: encoded)
    }
}
