import DecnetCore
import Foundation
import Synchronization

/// `credential.reuse.detected`: the same username and password tried again in another session (another
/// connection, another decky, another attacker address): a credential list being replayed across the fleet, or
/// one stolen credential tried in more places.
///
/// It remembers the first sighting of each credential the ingester stores, up to `capacity` credentials (past
/// that it starts again from empty, so memory stays bounded); a reuse is reported once per new session. The
/// workers give it back the newest stored logins when they start, so a first sighting from before a restart is
/// still matched.
public final class CredentialReuseDetector: Sendable {
    public struct Sighting: Codable, Sendable, Equatable {
        public var attackerIP: String
        public var decky: String
        public var service: String
        public var session: String
        public var time: Date

        enum CodingKeys: String, CodingKey {
            case decky, service, session, time
            case attackerIP = "attacker_ip"
        }

        init(_ event: HoneypotEvent) {
            self.attackerIP = event.source.ip
            self.decky = event.decky
            self.service = event.service.rawValue
            self.session = event.session
            self.time = event.time
        }
    }

    /// What `credential.reuse.detected` carries.
    public struct Reuse: Codable, Sendable, Equatable {
        public var username: String
        public var password: String
        public var first: Sighting
        public var now: Sighting
        /// Sessions that have used it, this one included.
        public var sessions: Int
        /// Distinct attacker addresses and deckies that have seen it.
        public var attackers: [String]
        public var deckies: [String]
    }

    private struct Known {
        var first: Sighting
        /// The first session, and (from the second on) every session, address and decky: most credentials are
        /// seen once, so the sets are made only when one comes back.
        var firstSession: String
        var seen: (sessions: Set<String>, attackers: Set<String>, deckies: Set<String>)?
    }

    private let known = Mutex<[String: Known]>([:])
    public let capacity: Int

    public init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    /// The reuses among `events` (in order), remembering every credential they carry.
    public func observe(_ events: [HoneypotEvent]) -> [Reuse] {
        var found: [Reuse] = []
        self.known.withLock { known in
            for event in events {
                guard let password = event[field: "password"] else { continue }
                let username = event[field: "username"] ?? ""
                let key = username + "\u{0}" + password
                let sighting = Sighting(event)
                // Sessions are named per connection; the decky makes the name unique across the fleet.
                let session = event.decky + "/" + event.session
                guard var entry = known[key] else {
                    if known.count >= self.capacity { known.removeAll(keepingCapacity: true) }
                    known[key] = Known(first: sighting, firstSession: session)
                    continue
                }
                var seen =
                    entry.seen
                    ?? ([entry.firstSession], [entry.first.attackerIP], [entry.first.decky])
                guard seen.sessions.insert(session).inserted else { continue }
                seen.attackers.insert(sighting.attackerIP)
                seen.deckies.insert(sighting.decky)
                entry.seen = seen
                known[key] = entry
                found.append(
                    Reuse(
                        username: username,
                        password: password,
                        first: entry.first,
                        now: sighting,
                        sessions: seen.sessions.count,
                        attackers: seen.attackers.sorted(),
                        deckies: seen.deckies.sorted()
                    )
                )
            }
        }
        return found
    }

    /// Observes `events` and publishes each reuse on `credential.reuse.detected`.
    public func publish(_ events: [HoneypotEvent], on publisher: BusPublisher) {
        for reuse in self.observe(events) { publisher.publish("credential.reuse.detected", json: reuse) }
    }
}
