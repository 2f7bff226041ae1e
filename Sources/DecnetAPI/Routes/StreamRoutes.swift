import DecnetCore
import DecnetRuntime
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension APIServer {
    /// `GET /stream?topic=PATTERN`: Server-Sent Events of the bus's messages matching a NATS pattern (default `>`,
    /// everything), one `event: <subject>` / `data: <json>` frame each, a comment every 15 s to keep proxies from
    /// closing an idle stream. `limit=N` ends the stream after N messages (tests, scripts). A client that reads too
    /// slowly loses messages; it never slows the bus.
    func addStream(to group: RouterGroup<APIRequestContext>) {
        group.get("stream") { request, _ -> Response in
            let reader = QueryReader(request)
            let topic = try reader.string("topic", maximumLength: Subject.maximumLength) ?? ">"
            let pattern: Subject
            do {
                pattern = try Subject.pattern(topic)
            } catch {
                throw APIError.badRequest(
                    "topic must be a subject pattern such as attacker.> or decky.*.state (\(error))"
                )
            }
            let limit = try reader.integer("limit", in: 0...1_000_000, default: 0)
            let subscription = self.feed.bus.subscribe(pattern, capacity: 1_000)
            let bus = self.feed.bus
            let (frames, continuation) = AsyncStream.makeStream(
                of: ByteBuffer.self,
                bufferingPolicy: .bufferingNewest(1_000)
            )
            let pump = Task {
                var sent = 0
                for await message in subscription.messages {
                    continuation.yield(Self.frame(message))
                    sent += 1
                    if limit > 0 && sent >= limit { break }
                }
                continuation.finish()
            }
            let heartbeat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream", .cacheControl: "no-cache", APIHeaders.accelBuffering: "no",
                ],
                body: ResponseBody { writer in
                    defer {
                        pump.cancel()
                        heartbeat.cancel()
                        bus.unsubscribe(subscription.id)
                    }
                    try await writer.write(ByteBuffer(string: "retry: 2000\n: subscribed to \(pattern.text)\n\n"))
                    for await frame in frames { try await writer.write(frame) }
                    try await writer.finish(nil)
                }
            )
        }
    }

    /// One SSE frame: the subject as the event name, the payload as data (split on newlines, per the spec).
    static func frame(_ message: BusMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("event: \(message.subject.text)\n")
        let text = String(decoding: message.payload, as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            buffer.writeString("data: ")
            buffer.writeString(String(line.filter { $0 != "\r" }))
            buffer.writeString("\n")
        }
        buffer.writeString("\n")
        return buffer
    }
}
