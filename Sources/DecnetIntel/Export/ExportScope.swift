import DecnetStore
import Foundation

/// What an export covers, read from the profiler's documents: some attackers, an identity (its members), or a
/// campaign (its attackers and identities).
public enum ExportScope: Sendable {
    case attackers([String])
    case identity(String)
    case campaign(String)

    public struct NotFound: Error, CustomStringConvertible {
        public let description: String
    }

    public func input(from store: any EventStore, sensor: String = "DECNET-Swift") async throws -> STIXExport.Input {
        func profiles(_ ips: [String]) async throws -> [StoredAttackerProfile] {
            var found: [StoredAttackerProfile] = []
            for ip in ips {
                guard
                    let profile = try await store.intelDocument(kind: "profile", key: ip)?.decode(
                        StoredAttackerProfile.self
                    )
                else {
                    throw NotFound(
                        description:
                            "no profile of \(ip) (the profiler has not seen it; `decnet profiler start --once`)"
                    )
                }
                found.append(profile)
            }
            return found
        }
        func identity(_ uuid: String) async throws -> AttackerIdentity {
            guard
                let identity = try await store.intelDocument(kind: "identity", key: uuid.lowercased())?.decode(
                    AttackerIdentity.self
                )
            else { throw NotFound(description: "no identity \(uuid)") }
            return identity
        }
        switch self {
        case .attackers(let ips):
            return STIXExport.Input(attackers: try await profiles(ips), sensor: sensor)
        case .identity(let uuid):
            let found = try await identity(uuid)
            return STIXExport.Input(attackers: try await profiles(found.members), identities: [found], sensor: sensor)
        case .campaign(let uuid):
            guard
                let campaign = try await store.intelDocument(kind: "campaign", key: uuid.lowercased())?.decode(
                    Campaign.self
                )
            else { throw NotFound(description: "no campaign \(uuid)") }
            var identities: [AttackerIdentity] = []
            for actor in campaign.actors where !actor.hasPrefix("ip:") { identities.append(try await identity(actor)) }
            return STIXExport.Input(
                attackers: try await profiles(campaign.attackers),
                identities: identities,
                campaign: campaign,
                sensor: sensor
            )
        }
    }
}
