import DecnetCore
import DecnetServiceKit
import Foundation
import NIOCore

/// The `smtp` honeypot (25 and 587): a Postfix (default), Exim or Sendmail persona.
///
/// Persona keys: `smtp_banner` (text after `220 `), `smtp_mta` (`postfix`, `exim`, `sendmail`), and DECNET-Swift's
/// `users` (logins `AUTH` accepts; none by default, so every attempt fails and is recorded).
public struct SMTPService: HoneypotService {
    public static let kind: ServiceKind = "smtp"
    /// The SIZE advertised and enforced.
    static let maximumMessageSize = 10_240_000

    /// The MTA the persona imitates.
    enum MTA: String, Sendable { case postfix, exim, sendmail }

    struct Configuration: Sendable, Equatable {
        var hostname: String
        var banner: String
        var mta: MTA
        var users: AcceptedCredentials
        /// Domains whose mail is delivered here (no relaying).
        var localDomains: Set<String>
        /// SMTP AUTH offered (`smtp_auth`, default yes: password sprays are what it captures); a stock Debian
        /// Postfix has no SASL and refuses AUTH.
        var auth = true
    }

    let configuration: Configuration
    let artifacts: ArtifactStore

    public init(context: ServiceContext) throws {
        let mta = MTA(rawValue: (context.persona["smtp_mta"] ?? "postfix").lowercased()) ?? .postfix
        // Debian's postinst sets Postfix's myhostname to `hostname --fqdn`, which is the bare name on a host
        // without a domain (Debian 12's, bench/differential); Exim and Sendmail add .localdomain.
        let host =
            context.hostname.contains(".") || mta == .postfix ? context.hostname : "\(context.hostname).localdomain"
        let banner: String
        if let custom = context.persona["smtp_banner"] {
            banner = custom
        } else {
            switch mta {
            case .postfix: banner = "\(host) ESMTP Postfix (Debian/GNU)"
            case .exim: banner = "\(host) ESMTP Exim 4.96 \(Self.rfc5322Date(Date()))"
            case .sendmail: banner = "\(host) ESMTP Sendmail 8.17.1.9/8.17.1.9; \(Self.rfc5322Date(Date()))"
            }
        }
        // Postfix's mydestination on Debian: $myhostname, the host name, localhost.localdomain, localhost (and,
        // for a mail server with a domain, the domain it serves).
        var domains: Set<String> =
            mta == .postfix
            ? ["localhost", "localhost.localdomain", host.lowercased()]
            : ["localhost", "localdomain", host.lowercased()]
        if let dot = host.firstIndex(of: ".") { domains.insert(host[host.index(after: dot)...].lowercased()) }
        self.configuration = Configuration(
            hostname: host,
            banner: banner,
            mta: mta,
            users: AcceptedCredentials(context.persona["users"]),
            localDomains: domains,
            auth: (context.persona["smtp_auth"] ?? "yes").lowercased() != "no"
        )
        self.artifacts = ArtifactStore(directory: context.artifactDirectory)
    }

    public func configure(_ channel: any Channel, port: Int) throws {
        // Message lines may be long (RFC 5321 allows 1,000; real mail breaks that), commands are short.
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineDecoder(maximumLength: 65_536), maximumBufferSize: 1 << 20)
        )
    }

    /// The 220 banner, sent by the runtime on connect: a connection that never says EHLO holds no task.
    public func greeting(session: SessionEvents) -> Greeting<ByteBuffer>? {
        Greeting(ByteBuffer(string: SMTPStateMachine(configuration: self.configuration, seed: 0).greeting + "\r\n"))
    }

    public func handle(_ connection: Connection<LineFrame, ByteBuffer>, session: SessionEvents) async throws {
        var machine = SMTPStateMachine(configuration: self.configuration, seed: UInt32.random(in: 0...UInt32.max))
        let greeting = connection.greeting == nil ? Array((machine.greeting + "\r\n").utf8) : []
        try await ProtocolLoop.serve(connection, session: session, greeting: greeting) { frame in
            let actions: [SMTPStateMachine.Action]
            switch frame {
            case .line(let line): actions = machine.received(line)
            case .tooLong: actions = machine.receivedOverlongLine()
            }
            return actions.map { action -> ProtocolAction in
                switch action {
                case .reply(let text): return .reply(text + "\r\n")
                case .emit(let id, let fields): return .emit(id, fields)
                case .storeMessage(let message, let sender, let recipients):
                    return .emit(.payloadReceived, self.store(message, sender: sender, recipients: recipients))
                case .close: return .close
                }
            }
        }
    }

    /// Keeps a received message as an artifact and describes it for its `payload.received` event.
    private func store(_ message: [UInt8], sender: String, recipients: [String]) -> EventFields {
        let stored = self.artifacts.store(message)
        var fields = EventFields()
        fields.add("kind", "email")
        fields.add("size", String(message.count))
        fields.add("sha256", stored.sha256)
        if let path = stored.path { fields.add("path", path) }
        fields.add("from", attackerText: sender)
        fields.add("to", attackerText: recipients.joined(separator: ","))
        fields.add("preview", attackerBytes: message.prefix(160))
        return fields
    }

    /// `Sat, 21 Nov 2026 13:05:24 +0000`, as Exim and Sendmail put in their banners.
    static func rfc5322Date(_ date: Date) -> String {
        PosixDate.string(date, format: "EEE, dd MMM yyyy HH:mm:ss Z")
    }
}
