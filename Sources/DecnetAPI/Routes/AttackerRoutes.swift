import DecnetCore
import DecnetIntel
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/attackers`: the list with filters and paging, one attacker, its events, its shell transcripts, exports.
    func addAttackers(to group: RouterGroup<APIRequestContext>) {
        group.get("attackers") { request, _ -> Response in
            let query = try Self.attackerQuery(QueryReader(request))
            return try await self.cache.json(request.uri.description) {
                let page = try await self.store.attackers(query)
                return Page(
                    total: page.total,
                    limit: query.limit,
                    offset: query.offset,
                    items: page.items.map { AttackerBody($0, geo: self.geo) }
                )
            }
        }
        group.get("attackers/export") { request, _ -> Response in
            let reader = QueryReader(request)
            let format = try reader.choice("format", default: ExportFormat.json)
            var query = try Self.attackerQuery(reader)
            query.limit = AttackerQuery.maximumLimit
            var profiles: [AttackerProfile] = []
            while true {
                let page = try await self.store.attackers(query)
                profiles += page.items
                if page.items.count < query.limit || profiles.count >= 100_000 { break }
                query.offset += query.limit
            }
            let bodies = profiles.map { AttackerBody($0, geo: self.geo) }
            switch format {
            case .json:
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "application/json",
                        .contentDisposition: "attachment; filename=\"attackers.json\"",
                    ],
                    body: .init(byteBuffer: ByteBuffer(bytes: try APIJSON.encoder.encode(bodies)))
                )
            case .csv:
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8",
                        .contentDisposition: "attachment; filename=\"attackers.csv\"",
                    ],
                    body: .init(byteBuffer: ByteBuffer(string: CSV.attackers(bodies)))
                )
            }
        }
        group.get("attackers/:ip") { _, context -> AttackerDetail in
            let ip = try Self.attackerIP(context)
            guard let profile = try await self.store.attacker(ip: ip) else {
                throw APIError.notFound("no attacker \(ip)")
            }
            let hops = profile.traversalPath.components(separatedBy: " -> ")
            let events = try await TraversalStep.events(self.store, ip: ip)
            let stored = try await self.store.intelDocument(kind: "profile", key: ip)?.decode(
                StoredAttackerProfile.self
            )
            let behaviour = AttackerProfiler.profile(events)
            // The profiler's tags (with the operator's rules) when it has run; the default rules otherwise.
            let techniques = stored?.techniques ?? TTPRuleSet.standard.tag(events, profile: behaviour)
            return AttackerDetail(
                attacker: AttackerBody(profile, geo: self.geo),
                bounty: try await self.store.bounty(attackerIP: ip, limit: 500).map(BountyBody.init),
                hops: zip(hops, hops.dropFirst()).map { AttackerDetail.Hop(from: $0, to: $1) },
                steps: TraversalStep.steps(events),
                behaviour: BehaviourBody(behaviour),
                identity: stored?.identity,
                campaign: stored?.campaign,
                techniques: techniques.map(TechniqueBody.init)
            )
        }
        group.get("attackers/:ip/events") { request, context -> Page<EventBody> in
            let ip = try Self.attackerIP(context)
            var query = try Self.logQuery(QueryReader(request))
            query.attackerIP = ip
            let total = try await self.store.countLogs(query)
            let events = try await self.store.logs(query)
            return Page(total: total, limit: query.limit, offset: query.offset, items: events.map(EventBody.init))
        }
        group.get("attackers/:ip/transcripts") { _, context -> TranscriptList in
            let ip = try Self.attackerIP(context)
            let commands = try await self.store.logs(
                LogQuery(eventType: .commandInput, attackerIP: ip, limit: LogQuery.maximumLimit)
            )
            return TranscriptList(ip: ip, sessions: Self.transcripts(commands))
        }
    }

    enum ExportFormat: String, CaseIterable { case json, csv }

    static func attackerIP(_ context: APIRequestContext) throws -> String {
        let ip = try context.parameters.require("ip")
        guard ip.count <= 64, ip.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else {
            throw APIError.badRequest("'\(ip.prefix(64))' is not an IP address")
        }
        return ip
    }

    static func attackerQuery(_ reader: QueryReader) throws -> AttackerQuery {
        AttackerQuery(
            search: try reader.string("search", maximumLength: 64),
            service: try reader.string("service", maximumLength: 64),
            decky: try reader.string("decky", maximumLength: 64),
            traversalOnly: try reader.boolean("traversal"),
            sort: try reader.choice("sort", default: AttackerQuery.Sort.lastSeen),
            limit: try reader.integer("limit", in: 1...AttackerQuery.maximumLimit, default: 50),
            offset: try reader.integer("offset", in: 0...10_000_000, default: 0)
        )
    }

    /// Command events grouped into their sessions, each in time order; the newest session first.
    static func transcripts(_ events: [HoneypotEvent]) -> [Transcript] {
        var sessions: [String: Transcript] = [:]
        for event in events.sorted(by: { $0.time < $1.time }) {
            let command = [event[field: "command"], event[field: "args"]].compactMap { $0 }.joined(separator: " ")
            let line = Transcript.Line(time: event.time, command: command)
            if sessions[event.session] == nil {
                sessions[event.session] = Transcript(
                    session: event.session,
                    decky: event.decky,
                    service: event.service.rawValue,
                    started: event.time,
                    ended: event.time,
                    commands: []
                )
            }
            sessions[event.session]!.commands.append(line)
            sessions[event.session]!.ended = event.time
        }
        return sessions.values.sorted { $0.started > $1.started }
    }
}

/// RFC 4180 CSV.
enum CSV {
    static func field(_ text: String) -> String {
        // A leading = + - @ would be a formula in a spreadsheet: attacker text must never run there.
        var value = text
        if let first = value.first, "=+-@\t\r".contains(first) { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }

    static func attackers(_ attackers: [AttackerBody]) -> String {
        var out =
            "ip,first_seen,last_seen,event_count,login_attempts,credential_count,command_count,deckies,services,traversal_path,"
            + "country_code,asn,as_name\r\n"
        for attacker in attackers {
            let row = [
                attacker.ip, APIDate.text(attacker.firstSeen), APIDate.text(attacker.lastSeen),
                String(attacker.eventCount), String(attacker.loginAttempts), String(attacker.credentialCount),
                String(attacker.commandCount), attacker.deckies.joined(separator: " "),
                attacker.services.joined(separator: " "), attacker.traversalPath, attacker.geo?.countryCode ?? "",
                attacker.geo?.asn.map(String.init) ?? "", attacker.geo?.asName ?? "",
            ]
            out += row.map(Self.field).joined(separator: ",") + "\r\n"
        }
        return out
    }
}
