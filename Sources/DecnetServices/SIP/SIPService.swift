import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore
import Synchronization

/// The `sip` honeypot over TCP (5060): a PBX, Asterisk 18's chan_sip by default, framed by Content-Length.
///
/// Persona keys: `sip_server` (the product its responses name; default `Asterisk PBX 18.20.0`; a value starting
/// `FreeSWITCH` is sent in User-Agent with mod_sofia's Allow list), `sip_domain` (the digest realm; default the
/// domain of the decky's hostname), and DECNET-Swift's `users` (accounts whose digest succeeds, `100:secret`)
/// and `sip_extensions` (extensions that exist, `100-119,200`; default 100–119). `SIPDatagramService` serves
/// the same kind on UDP with the same responder.
public struct SIPService: HoneypotService {
    public static let kind: ServiceKind = "sip"

    let responder: SIPResponder

    public init(context: ServiceContext) throws {
        self.responder = SIPResponder(
            persona: SIPPersona(persona: context.persona, hostname: context.hostname),
            secret: UUID().uuidString
        )
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(SIPStreamDecoder(), maximumBufferSize: SIPStreamDecoder.maximumBuffer)
        )
    }

    /// Pause between a provisional response and the final one: a PBX sends 100 Trying at once and its final
    /// answer after the work, as two segments; clients that read one message per segment (sipsak) need that.
    static let provisionalGap: Duration = .milliseconds(20)

    /// The client speaks first: a connection's task starts with its first message (`TCPHoneypot.waitsForClient`).
    public static var waitsForClient: Bool { true }

    public func handle(_ connection: Connection<SIPStreamFrame, ByteBuffer>, session: SessionEvents) async throws {
        let peer = SIPResponder.Peer(transport: .tcp, source: session.source, local: session.destination)
        var fingerprinted: Set<String> = []
        for try await frame in connection.inbound {
            let now = Int(Date().timeIntervalSince1970)
            switch frame {
            case .message(let bytes):
                let outcome = self.responder.respond(to: bytes, peer: peer, now: now, stream: true)
                for (id, fields) in outcome.events {
                    if id == .clientFingerprint {
                        let client = fields.fields.first { $0.name == "client" }?.value ?? ""
                        guard fingerprinted.count < 16, fingerprinted.insert(client).inserted else { continue }
                    }
                    session.emit(id, fields)
                }
                for (index, reply) in outcome.replies.enumerated() {
                    try await connection.outbound.write(ByteBuffer(bytes: reply))
                    if index < outcome.replies.count - 1 && reply.starts(with: Array("SIP/2.0 1".utf8)) {
                        try await Task.sleep(for: Self.provisionalGap)
                    }
                }
            case .badLength(let head, let problem):
                session.emit(.clientMalformed, .malformed(problem, preview: head))
                if let reply = self.responder.badFraming(head, problem: problem, peer: peer, now: now) {
                    try await connection.outbound.write(ByteBuffer(bytes: reply))
                }
                return
            case .invalid(let problem, let preview):
                session.emit(.clientMalformed, .malformed(problem, preview: preview))
                return
            }
        }
    }
}

/// The `sip` honeypot over UDP (5060): the same PBX as `SIPService`, one datagram in, at most one out.
///
/// A reply is never more than three times its request (optional headers are dropped, or the reply is, when it
/// would be): SIP over UDP from an unverified source is a reflection vector, and the listener's per-source rate
/// bounds the rest. An INVITE gets its final response at once (407 or the call's end) without the 100 Trying
/// that TCP sends first: one datagram is all a reply may be, and RFC 3261 §17.2.1 needs no 100 when the final
/// response is immediate.
public struct SIPDatagramService: DatagramService {
    public static let kind: ServiceKind = "sip"

    let responder: SIPResponder
    /// User-Agents already reported per source flow, so a scan of thousands of requests is one fingerprint.
    private let fingerprinted = SeenClients()

    /// Replies are at most this many times their request.
    static let amplification = 3

    public var amplificationAllowance: Int? { Self.amplification }

    public init(context: ServiceContext) throws {
        self.responder = SIPResponder(
            persona: SIPPersona(persona: context.persona, hostname: context.hostname),
            secret: UUID().uuidString
        )
    }

    public func respond(to datagram: [UInt8], session: SessionEvents) -> [UInt8]? {
        let peer = SIPResponder.Peer(transport: .udp, source: session.source, local: session.destination)
        let outcome = self.responder.respond(
            to: datagram,
            peer: peer,
            now: Int(Date().timeIntervalSince1970),
            byteBound: max(datagram.count, 1) * Self.amplification
        )
        for (id, fields) in outcome.events {
            if id == .clientFingerprint {
                let client = fields.fields.first { $0.name == "client" }?.value ?? ""
                guard self.fingerprinted.insert(session.session + "\u{1}" + client) else { continue }
            }
            session.emit(id, fields)
        }
        return outcome.replies.last
    }
}

/// The (flow, client) pairs already fingerprinted, bounded: forgotten all at once when full.
final class SeenClients: Sendable {
    private let seen = Mutex<Set<String>>([])
    static let capacity = 4_096

    /// Whether `key` is new (and now remembered).
    func insert(_ key: String) -> Bool {
        self.seen.withLock { seen in
            if seen.count >= Self.capacity { seen.removeAll() }
            return seen.insert(key).inserted
        }
    }
}
