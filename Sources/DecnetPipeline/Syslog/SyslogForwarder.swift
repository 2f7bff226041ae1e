import DecnetCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `decnet forwarder` (and `--log-target`): sends the event log to a syslog receiver, octet-counted (RFC 6587),
/// over mutual TLS (RFC 5425) or, to loopback only, in the clear.
///
/// The log itself is the spool: the forwarder reads it with `LogTail` from a durable cursor (a small JSON file),
/// so while the target is down nothing is sent and nothing is lost; on reconnect it goes on from the cursor, in
/// order, across any rotations meanwhile. Syslog over TLS has no acknowledgements, so what was written to a
/// connection that then failed may not have arrived: the cursor kept on disk trails what was sent by
/// `resendWindow`, and after a failure or a crash that window is sent again. Delivery is at least once; DECNET's
/// store keeps each event once by its id, and other receivers may see a few repeated lines after a failure. A
/// deliberate stop on a healthy connection saves the cursor at the end of what was sent: nothing is repeated.
public struct SyslogForwarder: Sendable {
    public struct Settings: Sendable {
        public var logPath: String
        public var host: String
        public var port: Int
        /// The forwarder's certificate, key and CA; nil sends plain syslog, which is only allowed to loopback.
        public var identity: CertificateAuthority.Identity?
        public var cursorPath: String
        public var linesPerWrite = 2000
        public var pollInterval: Duration = .milliseconds(50)
        public var retryMinimum: Duration = .milliseconds(250)
        public var retryMaximum: Duration = .seconds(5)
        public var resendWindow: Duration = .seconds(2)
        public var connectTimeout: TimeAmount = .seconds(5)
        /// An agent's heartbeat to its master (`SwarmHeartbeat`), sent this often on the link; nil sends none.
        public var heartbeat: Duration?
        /// The name the heartbeat carries (the master names the host by its certificate anyway).
        public var hostName = ""

        public init(
            logPath: String,
            host: String,
            port: Int,
            identity: CertificateAuthority.Identity?,
            cursorPath: String
        ) {
            self.logPath = logPath
            self.host = host
            self.port = port
            self.identity = identity
            self.cursorPath = cursorPath
        }
    }

    /// What `decnet forwarder status` shows.
    public struct Status: Codable, Sendable, Equatable {
        public var target: String
        public var tls: Bool
        public var connected = false
        public var connections = 0
        /// Lines written to a connection (repeats after a failure included).
        public var sent = 0
        public var lastError: String?
        /// Bytes of the log not yet sent: the spool.
        public var spooledBytes: UInt64 = 0
        public var cursor: LogTail.Position?
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let settings: Settings
    public var report: @Sendable (Status) -> Void = { _ in }
    public var log: @Sendable (String) -> Void = { _ in }

    public init(_ settings: Settings) throws {
        if settings.identity == nil {
            guard let address = IPv4Address(settings.host), address.isLoopback else {
                throw Failure(
                    description:
                        "plain syslog is only sent to loopback; \(settings.host) needs TLS (RFC 5425, `decnet forwarder start`)"
                )
            }
        }
        try settings.identity?.check()
        self.settings = settings
    }

    /// The durable cursor.
    public static func readCursor(_ path: String) -> LogTail.Position? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(LogTail.Position.self, from: data)
    }

    static func writeCursor(_ position: LogTail.Position, to path: String) {
        guard let data = try? JSONEncoder().encode(position) else { return }
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return }
        _ = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fsync(descriptor)
        close(descriptor)
        rename(temporary, path)
    }

    /// Forwards until the task is cancelled. Run it where blocking reads are allowed (`BlockingIOExecutor`).
    public func run(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async {
        let context: NIOSSLContext?
        do {
            // A target given by name must be named by the listener's certificate, not only signed by our CA.
            let byName = IPv4Address(self.settings.host) == nil
            context = try self.settings.identity.map { try MutualTLS.client($0, verifyingName: byName) }
        } catch {
            self.log("TLS settings: \(error)")
            return
        }
        var status = Status(
            target: "\(self.settings.host):\(self.settings.port)",
            tls: context != nil,
            cursor: Self.readCursor(self.settings.cursorPath)
        )
        var backoff = self.settings.retryMinimum
        let clock = ContinuousClock()
        while !Task.isCancelled {
            status.spooledBytes = LogTail.bytes(of: self.settings.logPath, after: status.cursor)
            guard
                FileManager.default.fileExists(atPath: self.settings.logPath)
                    || !LogTail.generations(of: self.settings.logPath).isEmpty
            else {
                status.lastError = "\(self.settings.logPath) does not exist yet"
                self.report(status)
                try? await Task.sleep(for: self.settings.retryMaximum)
                continue
            }
            let channel: any Channel
            let inbound = DiscardInbound()
            do {
                channel = try await self.connect(context: context, inbound: inbound, group: group)
            } catch {
                status.connected = false
                status.lastError = "connect: \(error)"
                self.report(status)
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, self.settings.retryMaximum)
                continue
            }
            status.connected = true
            status.connections += 1
            status.lastError = nil
            self.log("connected to \(status.target)")
            self.report(status)
            backoff = self.settings.retryMinimum
            do {
                try await self.send(on: channel, status: &status, clock: clock)
            } catch {
                let error: any Error = inbound.firstError.withLock { $0 } ?? error
                status.lastError = "\(error)"
                self.log("connection to \(status.target) lost: \(error); sending again from the saved cursor")
            }
            status.connected = false
            try? await channel.close()
            self.report(status)
        }
    }

    private func connect(
        context: NIOSSLContext?,
        inbound: DiscardInbound,
        group: any EventLoopGroup
    ) async throws -> any Channel {
        let host = self.settings.host
        return try await ClientBootstrap(group: group)
            .connectTimeout(self.settings.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        let name = IPv4Address(host) == nil ? host : nil
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: name)
                        )
                    }
                    // A receiver sends nothing; anything it does send is dropped, an error closes.
                    try channel.pipeline.syncOperations.addHandler(inbound)
                }
            }
            .connect(host: host, port: self.settings.port).get()
    }

    /// Sends from the cursor until the connection fails or the task is cancelled.
    private func send(on channel: any Channel, status: inout Status, clock: ContinuousClock) async throws {
        var tail = try LogTail(
            path: self.settings.logPath,
            from: status.cursor,
            maximumLineLength: SyslogFraming.maximumMessage
        )
        if let lost = tail.lostPosition {
            self.log("the cursor's file (inode \(lost.inode)) is gone; sending what is left")
        }
        // Batch starts still inside the resend window, oldest first; the first is what the saved cursor holds.
        var window: [(at: ContinuousClock.Instant, position: LogTail.Position)] = []
        var lastSaved = clock.now
        var lastHeartbeat: ContinuousClock.Instant?
        var buffer = channel.allocator.buffer(capacity: 1 << 20)
        while !Task.isCancelled {
            if let interval = self.settings.heartbeat, lastHeartbeat.map({ clock.now - $0 >= interval }) ?? true {
                // First on a new link, so the master knows the host is back before the backlog arrives.
                buffer.clear()
                SyslogFraming.frame(
                    SwarmHeartbeat.message(host: self.settings.hostName, interval: interval),
                    into: &buffer
                )
                try await channel.writeAndFlush(buffer).get()
                lastHeartbeat = clock.now
            }
            let start = tail.position
            var lines = 0
            buffer.clear()
            while lines < self.settings.linesPerWrite, let line = try tail.next() {
                if line.bytes.isEmpty { continue }
                SyslogFraming.frame(line.bytes, into: &buffer)
                lines += 1
            }
            let now = clock.now
            if lines > 0 {
                window.append((now, start))
                try await channel.writeAndFlush(buffer).get()
                status.sent += lines
            }
            // Forget batches older than the window, keeping the newest of them as the safe point.
            while window.count > 1, now - window[1].at > self.settings.resendWindow { window.removeFirst() }
            let safe: LogTail.Position
            if let first = window.first, now - first.at <= self.settings.resendWindow {
                safe = first.position
            } else {
                // Everything sent is older than the window: safe up to where reading stands.
                window.removeAll()
                safe = tail.position
            }
            if safe != status.cursor, now - lastSaved >= .milliseconds(200) {
                Self.writeCursor(safe, to: self.settings.cursorPath)
                status.cursor = safe
                lastSaved = now
                status.spooledBytes = LogTail.bytes(of: self.settings.logPath, after: tail.position)
                self.report(status)
            }
            if lines == 0 {
                guard channel.isActive else { throw Failure(description: "the receiver closed the connection") }
                do {
                    try await Task.sleep(for: self.settings.pollInterval)
                } catch {
                    break  // cancelled: stopping
                }
            }
        }
        // A deliberate stop on a healthy connection: everything read was written and flushed to it, so the
        // cursor moves to the end of it (the resend window is for connections that fail, not for a stop, where
        // it would send the last seconds again to the next run, or to the next target).
        if channel.isActive, tail.position != status.cursor {
            Self.writeCursor(tail.position, to: self.settings.cursorPath)
            status.cursor = tail.position
        }
    }
}

/// Drops what a syslog receiver sends back (it should send nothing), and keeps the first error the connection
/// met (a TLS refusal: an unknown CA, a certificate for another name), which a write only reports as
/// "I/O on closed channel".
private final class DiscardInbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let firstError = Mutex<(any Error)?>(nil)
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.firstError.withLock { if $0 == nil { $0 = error } }
        context.close(promise: nil)
    }
}
