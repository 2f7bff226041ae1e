import DecnetCore
import DecnetPipeline
import DecnetStore

extension CredentialReuseDetector {
    /// Gives the detector back what it knew before a restart: the newest stored logins that carry a password
    /// (at most `limit` of each kind), observed again oldest first. Nothing is published for them; their reuses
    /// went out when they were stored. Returns how many were observed.
    @discardableResult
    func remember(from store: any EventStore, limit: Int = 50_000) async throws -> Int {
        var events: [HoneypotEvent] = []
        for type in [EventID.loginFailed, .loginSuccess] {
            var offset = 0
            while offset < limit {
                let page = try await store.logs(
                    LogQuery(eventType: type, limit: min(LogQuery.maximumLimit, limit - offset), offset: offset)
                )
                events += page.filter { $0[field: "password"] != nil }
                guard page.count == LogQuery.maximumLimit else { break }
                offset += page.count
            }
        }
        events.sort { $0.time < $1.time }
        _ = self.observe(events)
        return events.count
    }
}
