import DecnetCore
import NIOCore

/// One step's result in a protocol emulator whose replies are bytes (text protocols, PostgreSQL, telnet).
public enum ProtocolAction: Equatable, Sendable {
    /// Write this text as it is (replies carry their own line ends).
    case reply(String)
    /// Write these bytes.
    case send([UInt8])
    /// Raise this event.
    case emit(EventID, EventFields)
    /// Close after what was written so far.
    case close
    /// Write what came before, then put TLS in front of the connection (LDAP's StartTLS, STARTTLS): only for
    /// loops given a `startTLS` handler; others ignore it.
    case startTLS
    /// Write what came before, then wait before going on: the pause a real server makes before it answers a
    /// failed login (Dovecot's `auth_failure_delay`, PAM's), which tools and people notice when it is missing.
    case delay(Duration)
}

/// The connection loop emulators share: an optional greeting, then each decoded message through the protocol's
/// state machine, its replies written in one buffer per message and its events emitted, until it closes.
public enum ProtocolLoop {
    public static func serve<Inbound: Sendable>(
        _ connection: Connection<Inbound, ByteBuffer>,
        session: SessionEvents,
        greeting: [UInt8] = [],
        startTLS: ((ByteBuffer) async throws -> Void)? = nil,
        step: (Inbound) -> [ProtocolAction]
    ) async throws {
        if !greeting.isEmpty { try await connection.outbound.write(ByteBuffer(bytes: greeting)) }
        for try await message in connection.inbound {
            var reply = ByteBuffer()
            var close = false
            for action in step(message) {
                switch action {
                case .reply(let text): reply.writeString(text)
                case .send(let bytes): reply.writeBytes(bytes)
                case .emit(let id, let fields): session.emit(id, fields)
                case .close: close = true
                case .startTLS:
                    guard let startTLS else { continue }
                    try await startTLS(reply)
                    reply.clear()
                case .delay(let duration):
                    if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
                    reply.clear()
                    try await Task.sleep(for: duration)
                }
            }
            if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
            if close { return }
        }
    }
}
