import DecnetCore
import NIOCore

/// One step's result in a line-based text protocol (POP3, IMAP, SMTP …).
public enum TextAction: Equatable, Sendable {
    /// Write these bytes as they are (replies carry their own line ends).
    case reply(String)
    /// Raise this event.
    case emit(EventID, EventFields)
    /// Close after the replies are written.
    case close
}

/// The connection loop every line-based emulator shares: greeting, then each line (or overrun) through the
/// protocol's state machine, its replies written in one buffer per line, its events emitted, until it closes.
public enum TextProtocol {
    public static func serve(
        _ connection: Connection<LineFrame, ByteBuffer>,
        session: SessionEvents,
        greeting: String,
        step: (LineFrame) -> [TextAction]
    ) async throws {
        try await connection.outbound.write(ByteBuffer(string: greeting))
        for try await frame in connection.inbound {
            var reply = ByteBuffer()
            var close = false
            for action in step(frame) {
                switch action {
                case .reply(let text): reply.writeString(text)
                case .emit(let id, let fields): session.emit(id, fields)
                case .close: close = true
                }
            }
            if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
            if close { return }
        }
    }
}
