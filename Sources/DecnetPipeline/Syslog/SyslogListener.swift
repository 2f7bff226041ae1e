import DecnetCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import Synchronization
import X509

/// `decnet listener`: receives syslog over TLS (RFC 5425, mutual TLS on 6514) from agents' forwarders and from
/// any RFC 5425 sender such as rsyslog, and appends each message, unchanged, as one line of its own log, which
/// the ingester then reads like the engine's. A message that is not a DECNET event (not RFC 5424, or holding a
/// line break) is kept in `<log>.rejected` with its line breaks escaped, so nothing received is lost.
///
/// Writes are small appends to the page cache made on the event loop at the end of each read; the file is
/// synced every second and on close.
public final class SyslogListener: Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        /// The listener's certificate, key and CA; nil accepts plain TCP, which is only allowed on loopback.
        public var identity: CertificateAuthority.Identity?
        public var logPath: String
        public var rotation: RotatingLogFile.Policy
        /// With a register, only the swarm hosts' pinned certificates are let in (a certificate from our CA that
        /// is not pinned is refused after the handshake, before any message); nil lets in any our CA issued.
        public var swarm: SwarmRegistry?
        /// Told when a swarm host goes down (no heartbeat for `SwarmHeartbeat.misses` intervals: false) and when
        /// it is heard again (true).
        public var hostStateChanged: @Sendable (_ host: String, _ up: Bool) -> Void = { _, _ in }

        public init(
            host: String = "0.0.0.0",
            port: Int = 6514,
            identity: CertificateAuthority.Identity?,
            logPath: String,
            rotation: RotatingLogFile.Policy = .init(maxBytes: 100 << 20, generations: 10),
            swarm: SwarmRegistry? = nil
        ) {
            self.host = host
            self.port = port
            self.identity = identity
            self.logPath = logPath
            self.rotation = rotation
            self.swarm = swarm
        }
    }

    public struct Statistics: Codable, Sendable, Equatable {
        public var connections = 0
        public var open = 0
        /// Messages appended to the log.
        public var accepted = 0
        /// Messages kept in the `.rejected` file.
        public var rejected = 0
        /// Connections closed for breaking the framing.
        public var framingErrors = 0
        /// TLS handshakes that failed (no certificate, another CA, not TLS).
        public var refused = 0
        public var lastRefusal: String?
        /// Messages per client certificate (its subject), or per address without TLS.
        public var peers: [String: Int] = [:]
        /// When each pinned swarm host was last heard from (its connection, a message or a heartbeat).
        public var hosts: [String: Date] = [:]
        /// The heartbeat interval each host states, in seconds (hosts that send heartbeats).
        public var heartbeatIntervals: [String: Double] = [:]
        /// Hosts whose heartbeats stopped, sorted.
        public var hostsDown: [String] = []
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let settings: Settings
    let channel: any Channel
    let files: Mutex<(log: RotatingLogFile, rejected: RotatingLogFile)>
    let stats = Mutex(Statistics())
    let log: @Sendable (String) -> Void

    /// The port it listens on (useful with port 0).
    public var port: Int { self.channel.localAddress?.port ?? self.settings.port }

    private init(
        settings: Settings,
        channel: any Channel,
        files: sending (log: RotatingLogFile, rejected: RotatingLogFile),
        log: @escaping @Sendable (String) -> Void
    ) {
        self.settings = settings
        self.channel = channel
        self.files = Mutex(files)
        self.log = log
    }

    /// Opens the log and binds. Plain TCP (no identity) on an address other than loopback is refused.
    public static func start(
        _ settings: Settings,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> SyslogListener {
        let context: NIOSSLContext?
        if let identity = settings.identity {
            try identity.check()
            context = try MutualTLS.server(identity)
        } else {
            guard IPv4Address(settings.host)?.isLoopback == true else {
                throw Failure(description: "plain syslog is only accepted on loopback; \(settings.host) needs TLS")
            }
            context = nil
        }
        let logFile = try RotatingLogFile(path: settings.logPath, policy: settings.rotation)
        let rejectedFile = try RotatingLogFile(path: settings.logPath + ".rejected", policy: settings.rotation)
        let holder = ListenerHolder()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let listener = holder.listener else { throw ChannelError.ioOnClosedChannel }
                    let peer = channel.remoteAddress?.ipAddress ?? "?"
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(SyslogFrameDecoder()),
                        MessageHandler(listener: listener, peer: peer, tls: context != nil)
                    )
                }
            }
            .bind(host: settings.host, port: settings.port).get()
        let listener = SyslogListener(
            settings: settings,
            channel: channel,
            files: (logFile, rejectedFile),
            log: log
        )
        holder.listener = listener
        return listener
    }

    /// Syncs the log and checks the swarm hosts' heartbeats every second (four times a second for sub-second
    /// heartbeats) until the listener is closed.
    public func run() async {
        let closed = self.channel.closeFuture
        let syncing = Task {
            var ticks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                ticks += 1
                if ticks % 4 == 0 { self.sync() }
                for (host, up) in self.checkHosts() { self.settings.hostStateChanged(host, up) }
            }
        }
        try? await closed.get()
        syncing.cancel()
        self.sync()
    }

    public func close() async {
        try? await self.channel.close()
    }

    public var statistics: Statistics { self.stats.withLock { $0 } }

    /// The hosts whose state changed: down when their heartbeats stopped for `SwarmHeartbeat.misses` intervals,
    /// up when heard again.
    func checkHosts(now: Date = Date()) -> [(String, Bool)] {
        self.stats.withLock { stats in
            var changes: [(String, Bool)] = []
            for (host, interval) in stats.heartbeatIntervals.sorted(by: { $0.key < $1.key }) {
                guard let heard = stats.hosts[host] else { continue }
                let silent = now.timeIntervalSince(heard) > Double(SwarmHeartbeat.misses) * interval
                let down = stats.hostsDown.contains(host)
                if silent && !down {
                    stats.hostsDown.append(host)
                    stats.hostsDown.sort()
                    changes.append((host, false))
                } else if !silent && down {
                    stats.hostsDown.removeAll { $0 == host }
                    changes.append((host, true))
                }
            }
            return changes
        }
    }

    /// A heartbeat from `host` (a pinned swarm host, or the peer's name without a register).
    func heard(_ host: String, interval: Double) {
        self.stats.withLock {
            $0.hosts[host] = Date()
            $0.heartbeatIntervals[host] = interval
        }
    }

    func sync() {
        self.files.withLock {
            $0.log.sync()
            $0.rejected.sync()
        }
    }

    /// Appends a read's worth of messages: events to the log, anything else escaped to the rejected file.
    func append(_ messages: [ByteBuffer], peer: String) {
        var good: [UInt8] = []
        var bad: [UInt8] = []
        var rejected = 0
        for message in messages {
            let bytes = message.readableBytesView
            if !bytes.contains(0x0A), !bytes.contains(0x0D),
                (try? RFC5424Parser.event(from: String(decoding: bytes, as: UTF8.self))) != nil
            {
                good += bytes
                good.append(0x0A)
            } else {
                rejected += 1
                bad += Array("\(Date().timeIntervalSince1970) \(peer) ".utf8)
                for byte in bytes {
                    switch byte {
                    case 0x0A: bad += Array("\\n".utf8)
                    case 0x0D: bad += Array("\\r".utf8)
                    case 0x5C: bad += Array("\\\\".utf8)
                    default: bad.append(byte)
                    }
                }
                bad.append(0x0A)
            }
        }
        let failure: String? = self.files.withLock { files in
            do {
                if !good.isEmpty { try files.log.append(good) }
                if !bad.isEmpty { try files.rejected.append(bad) }
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let failure { self.log("cannot append to the log: \(failure)") }
        self.stats.withLock {
            $0.accepted += messages.count - rejected
            $0.rejected += rejected
            $0.peers[peer, default: 0] += messages.count
        }
    }
}

extension SyslogListener {
    /// A certificate's subject common name.
    static func commonName(_ certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return nil
        }
        return parsed.subject.flatMap { $0 }.first { $0.type == .RDNAttributeType.commonName }.map { "\($0.value)" }
    }
}

/// Lets the child initializer reach the listener, which exists only once the bind has succeeded.
private final class ListenerHolder: Sendable {
    private let value = Mutex<SyslogListener?>(nil)
    var listener: SyslogListener? {
        get { self.value.withLock { $0 } }
        set { self.value.withLock { $0 = newValue } }
    }
}

/// One connection: collects the messages of each read and appends them together.
private final class MessageHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let listener: SyslogListener
    var peer: String
    let tls: Bool
    var messages: [ByteBuffer] = []
    var handshaken = false
    /// The pinned swarm host this connection is (with a register).
    var host: String?
    /// Refused after its handshake: nothing it sends is kept.
    var refused = false

    init(listener: SyslogListener, peer: String, tls: Bool) {
        self.listener = listener
        self.peer = peer
        self.tls = tls
    }

    func channelActive(context: ChannelHandlerContext) {
        self.listener.stats.withLock {
            $0.connections += 1
            $0.open += 1
        }
        if !self.tls { self.handshaken = true }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.flush()
        self.listener.stats.withLock { $0.open -= 1 }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            self.handshaken = true
            // Name the peer by its certificate's subject.
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            let certificate = handler?.peerCertificate
            if let subject = certificate.flatMap({ SyslogListener.commonName($0) }) {
                self.peer = "\(subject)@\(self.peer)"
            }
            if let swarm = self.listener.settings.swarm {
                let fingerprint = certificate.flatMap { try? SwarmRegistry.fingerprint($0) } ?? "none"
                guard let host = swarm.host(fingerprint: fingerprint) else {
                    self.refused = true
                    let reason =
                        "\(self.peer): refused: certificate \(fingerprint) is not pinned to any swarm host (decnet swarm add)"
                    self.listener.stats.withLock {
                        $0.refused += 1
                        $0.lastRefusal = reason
                    }
                    self.listener.log(reason)
                    context.close(promise: nil)
                    return
                }
                self.host = host.name
                self.peer = "\(host.name)@\(context.remoteAddress?.ipAddress ?? "?")"
                self.listener.stats.withLock { $0.hosts[host.name] = Date() }
            }
            self.listener.log("peer \(self.peer) connected")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.refused else { return }
        let message = self.unwrapInboundIn(data)
        if let interval = SwarmHeartbeat.interval(in: message.readableBytesView) {
            // Never an event: it only says the host is there.
            self.listener.heard(self.host ?? self.peer, interval: interval)
            return
        }
        self.messages.append(message)
        if self.messages.count >= 1000 { self.flush() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flush()
        context.fireChannelReadComplete()
    }

    func flush() {
        guard !self.messages.isEmpty else { return }
        if let host = self.host { self.listener.stats.withLock { $0.hosts[host] = Date() } }
        self.listener.append(self.messages, peer: self.peer)
        self.messages.removeAll(keepingCapacity: true)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let address = context.remoteAddress?.ipAddress ?? "?"
        if !self.handshaken {
            let reason = "\(address): TLS handshake refused: \(error)"
            self.listener.stats.withLock {
                $0.refused += 1
                $0.lastRefusal = reason
            }
            self.listener.log(reason)
        } else {
            self.flush()
            if error is SyslogFrameDecoder.FramingError { self.listener.stats.withLock { $0.framingErrors += 1 } }
            self.listener.log("\(self.peer): closed: \(error)")
        }
        context.close(promise: nil)
    }
}
