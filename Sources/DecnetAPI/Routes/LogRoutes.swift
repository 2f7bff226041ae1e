import DecnetCore
import DecnetStore
import Foundation
import Hummingbird

extension APIServer {
    /// `/logs`: stored events with filters (fields inside the event too: `field=username:root`) and a histogram.
    func addLogs(to group: RouterGroup<APIRequestContext>) {
        group.get("logs") { request, _ -> Response in
            let query = try Self.logQuery(QueryReader(request))
            return try await self.cache.json(request.uri.description) {
                async let total = self.store.countLogs(query)
                let events = try await self.store.logs(query)
                return Page(
                    total: try await total,
                    limit: query.limit,
                    offset: query.offset,
                    items: events.map(EventBody.init)
                )
            }
        }
        group.get("logs/histogram") { request, _ -> Response in
            let reader = QueryReader(request)
            var query = try Self.logQuery(reader)
            let interval = try reader.integer("interval", in: 1...86_400, default: 60)
            if query.since == nil, query.until == nil {
                // The last 24 hours unless told otherwise: a chart, not a full-table scan.
                query.since = Date().addingTimeInterval(-86_400)
            }
            let bounded = query
            return try await self.cache.json(request.uri.description) {
                HistogramBody(interval: interval, buckets: try await self.store.histogram(bounded, interval: interval))
            }
        }
    }

    /// The filters of `/logs` (and an attacker's events).
    static func logQuery(_ reader: QueryReader) throws -> LogQuery {
        var query = LogQuery(
            limit: try reader.integer("limit", in: 1...1_000, default: 100),
            offset: try reader.integer("offset", in: 0...10_000_000, default: 0)
        )
        if let type = try reader.string("event_type", maximumLength: 64) { query.eventType = EventID(rawValue: type) }
        query.attackerIP = try reader.string("attacker_ip", maximumLength: 64)
        query.decky = try reader.string("decky", maximumLength: 64)
        if let service = try reader.string("service", maximumLength: 64) {
            query.service = ServiceKind(rawValue: service)
        }
        query.since = try reader.date("since")
        query.until = try reader.date("until")
        let filters = reader.all("field")
        guard filters.count <= 8 else { throw APIError.badRequest("at most 8 'field' filters") }
        for filter in filters {
            guard let colon = filter.firstIndex(of: ":"), colon != filter.startIndex, filter.count <= 512 else {
                throw APIError.badRequest("query parameter 'field' must be name:value (as in field=username:root)")
            }
            query.fields[String(filter[..<colon])] = String(filter[filter.index(after: colon)...])
        }
        return query
    }
}
