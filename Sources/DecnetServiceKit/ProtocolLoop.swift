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
        var iterator = connection.inbound.makeAsyncIterator()
        while let message = try await iterator.next() {
            // The actions are carried out by a synchronous call up to each one that must wait (a write, TLS, a
            // pause): the loop's async frame, which a waiting connection keeps, holds only what crosses a wait.
            let actions = step(message)
            var index = 0
            var closing = false
            while index < actions.count {
                var reply = ByteBuffer()
                let next = Self.advance(
                    actions,
                    from: &index,
                    into: &reply,
                    closing: &closing,
                    session: session,
                    tls: startTLS != nil
                )
                switch next {
                case .write, .close:
                    if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
                    if case .close = next { return }
                case .startTLS:
                    try await startTLS?(reply)
                case .delay(let duration):
                    if reply.readableBytes > 0 { try await connection.outbound.write(reply) }
                    try await Task.sleep(for: duration)
                }
            }
        }
    }

    /// What the loop does once `advance` stops.
    enum Suspension {
        /// Write the reply built so far (the actions are done).
        case write
        /// Write it, then close.
        case close
        /// Hand it to the TLS upgrade.
        case startTLS
        /// Write it, then wait.
        case delay(Duration)
    }

    /// Carries out `actions` from `index` (events emitted, replies appended to `reply`) up to the first that needs
    /// the loop to wait, and says which. A `.close` holds (`close`) until the actions are done.
    static func advance(
        _ actions: [ProtocolAction],
        from index: inout Int,
        into reply: inout ByteBuffer,
        closing close: inout Bool,
        session: SessionEvents,
        tls: Bool
    ) -> Suspension {
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .reply(let text): reply.writeString(text)
            case .send(let bytes): reply.writeBytes(bytes)
            case .emit(let id, let fields): session.emit(id, fields)
            case .close: close = true
            case .startTLS: if tls { return .startTLS }
            case .delay(let duration): return .delay(duration)
            }
        }
        return close ? .close : .write
    }
}
