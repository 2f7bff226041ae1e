import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A micro-cache for the read routes the dashboard polls (attackers, logs, histogram, stats, deckies, health):
/// one answer per distinct URL is computed at most once per `lifetime`, and requests that arrive while it is
/// being computed wait for that one computation instead of starting their own. Five hundred dashboards polling
/// the stats cost the store one query set per second, not five hundred; the price is data up to `lifetime` old
/// (the live feed, which is not cached, shows events as they happen). A lifetime of zero turns it off.
final class ResponseCache: Sendable {
    private struct Entry {
        let expires: ContinuousClock.Instant
        let id: Int
        let task: Task<ByteBuffer, any Error>
    }

    let lifetime: Duration
    private let entries = Mutex<(next: Int, map: [String: Entry])>((0, [:]))
    static let capacity = 4_096

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// The JSON answer for `key`: cached, being computed, or computed now by `make`.
    func json<Value: Encodable & Sendable>(
        _ key: String,
        _ make: @escaping @Sendable () async throws -> Value
    ) async throws -> Response {
        let bytes = try await self.bytes(key) { ByteBuffer(bytes: try APIJSON.encoder.encode(try await make())) }
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: bytes)
        )
    }

    func bytes(_ key: String, _ make: @escaping @Sendable () async throws -> ByteBuffer) async throws -> ByteBuffer {
        guard self.lifetime > .zero else { return try await make() }
        let now = ContinuousClock.now
        let (id, task) = self.entries.withLock { state -> (Int, Task<ByteBuffer, any Error>) in
            if let entry = state.map[key], entry.expires > now { return (entry.id, entry.task) }
            if state.map.count >= Self.capacity {
                state.map = state.map.filter { $0.value.expires > now }
                if state.map.count >= Self.capacity { state.map.removeAll(keepingCapacity: true) }
            }
            state.next += 1
            let task = Task { try await make() }
            state.map[key] = Entry(expires: now + self.lifetime, id: state.next, task: task)
            return (state.next, task)
        }
        do {
            return try await task.value
        } catch {
            // A failure (bad input, a store error) is not kept: the next request tries again.
            self.entries.withLock { state in
                if state.map[key]?.id == id { state.map[key] = nil }
            }
            throw error
        }
    }
}
