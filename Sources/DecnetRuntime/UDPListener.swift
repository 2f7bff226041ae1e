import DecnetCore
import DecnetServiceKit
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs one `UDPHoneypot` on one socket. Each source gets a flow (one `SessionEvents`, kept while it is active)
/// and a token bucket for its answers, so a spoofed flood can neither exhaust memory nor turn the decoy into a
/// reflector; every datagram is still recorded.
public struct UDPListener<Service: UDPHoneypot>: Sendable {
    public typealias Limits = UDPLimits

    public let service: Service
    public let context: ServiceContext
    public let limits: Limits
    private let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
    private let flows: FlowTable

    public var localAddress: SocketAddress? { self.channel.channel.localAddress }

    public static func bind(
        _ service: Service,
        host: String,
        port: Int,
        context: ServiceContext,
        limits: Limits = Limits(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> UDPListener {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            .floodReady()
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        await UDPReceiveRoom.widen(channel.channel)
        return UDPListener(
            service: service,
            context: context,
            limits: limits,
            channel: channel,
            flows: FlowTable(limits: limits)
        )
    }

    /// Binds `host:port` with its socket made in network namespace `namespace` (NIO creates a datagram
    /// channel's socket on the calling thread, so the bootstrap is started from a thread inside the namespace;
    /// the bind itself may run on any thread), then joins `groups` (IPv4 multicast) on the namespace's default
    /// interface. NIO cannot adopt an unconnected datagram socket made elsewhere (`withBoundSocket` fails with
    /// "operation unsupported"), which is why UDP is not opened like TCP.
    public static func bind(
        _ service: Service,
        host: String,
        port: Int,
        context: ServiceContext,
        namespace: String?,
        groups: [String] = [],
        limits: Limits = Limits(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> UDPListener {
        let made = MadeChannel()
        let future = try await NamespaceThread.run(namespace) {
            DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                // NBT-NS asks the LAN's broadcast address.
                .channelOption(.socketOption(.so_broadcast), value: 1)
                .floodReady()
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let wrapped = try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                            wrappingChannelSynchronously: channel
                        )
                        made.channel.withLock { $0 = wrapped }
                    }
                }
                .bind(host: host, port: port)
        }
        let channel = try await future.get()
        guard let wrapped = made.channel.withLock({ $0 }) else {
            try? await channel.close()
            throw ServiceLauncher.Failure(description: "udp \(host):\(port): the channel was not set up")
        }
        await UDPReceiveRoom.widen(channel)
        if !groups.isEmpty {
            // The service's own multicast queries must not come back to it as if someone else asked.
            try? await channel.setOption(.socketOption(.ip_multicast_loop), value: 0)
        }
        for address in groups {
            do {
                let multicast = try SocketAddress(ipAddress: address, port: 0)
                try await (channel as! any MulticastChannel).joinGroup(multicast).get()
            } catch {
                try? await channel.close()
                throw ServiceLauncher.Failure(description: "udp \(host):\(port): join \(address): \(error)")
            }
        }
        return UDPListener(
            service: service,
            context: context,
            limits: limits,
            channel: wrapped,
            flows: FlowTable(limits: limits)
        )
    }

    /// Sources seen sending in the last flow timeout, and since the start.
    public var openConnections: Int { self.flows.active }
    public var totalConnections: Int { self.flows.total }

    private init(
        service: Service,
        context: ServiceContext,
        limits: Limits,
        channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>,
        flows: FlowTable
    ) {
        self.service = service
        self.context = context
        self.limits = limits
        self.channel = channel
        self.flows = flows
    }

    /// Serves datagrams until closed or cancelled, on the socket's event loop: each datagram is read, answered
    /// and recorded on the thread that read it, instead of hopping to the cooperative pool and back (a SIP flood
    /// spent a tenth of its CPU switching threads).
    public func run() async {
        await withTaskExecutorPreference(EventLoopTaskExecutor.of(self.channel.channel.eventLoop)) {
            await self.serve()
        }
    }

    private func serve() async {
        var destination = Endpoint(address: self.channel.channel.localAddress)
        // A socket bound to every address of the decky's namespace (multicast needs it) reports the decky's own.
        if destination.ip == "0.0.0.0", let address = self.context.address { destination.ip = address }
        let localPort = destination.port
        do {
            try await self.channel.executeThenClose { inbound, outbound in
                // The service's own datagrams (bait queries) go out on the same socket, so answers come back here.
                let ticker: Task<Void, Never>? = self.service.tickInterval.map { interval in
                    Task {
                        var generator = SystemRandomNumberGenerator()
                        while !Task.isCancelled {
                            let jitter = Double.random(in: 0.9...1.1, using: &generator)
                            try? await Task.sleep(for: interval * jitter)
                            if Task.isCancelled { return }
                            for (datagram, host, port) in self.service.tick(port: localPort) {
                                guard let address = try? SocketAddress(ipAddress: host, port: port) else { continue }
                                try? await outbound.write(
                                    AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: datagram))
                                )
                            }
                        }
                    }
                }
                defer { ticker?.cancel() }
                for try await envelope in inbound {
                    let source = Endpoint(address: envelope.remoteAddress)
                    let now = ContinuousClock.now
                    for ended in self.flows.expire(at: now) {
                        ended.emit(.connectionClose, ["reason": "idle"])
                        ended.close()
                    }
                    let (session, allowed, isNew) = self.flows.admit(source: source, at: now) {
                        SessionEvents(context: self.context, source: source, destination: destination)
                    }
                    if isNew { session.emit(.connectionOpen, ["transport": "udp"]) }
                    // Every datagram is recorded (a community brute force from one socket runs at 100 a second);
                    // one over its flow's rate is not answered, so the decoy cannot be made a reflector.
                    let request = Array(envelope.data.readableBytesView)
                    guard var reply = self.service.respond(to: request, session: session), allowed else { continue }
                    let factor = self.service.amplificationAllowance ?? self.limits.maximumAmplification
                    let bound = max(request.count, 1) * factor
                    if reply.count > bound { reply = Array(reply.prefix(bound)) }
                    var target = envelope.remoteAddress
                    if let (host, port) = self.service.replyDestination(for: request, session: session),
                        let address = try? SocketAddress(ipAddress: host, port: port)
                    {
                        target = address
                    }
                    let envelope = AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: reply))
                    if let delay = self.service.replyDelay(for: request) {
                        // Later, without holding up the datagrams behind it: a timer on the socket's own loop
                        // (a task and a sleep per reply cost tftp twice a peer's CPU per request).
                        let channel = self.channel.channel
                        channel.eventLoop.scheduleTask(in: TimeAmount(delay)) {
                            channel.writeAndFlush(envelope, promise: nil)
                        }
                    } else {
                        try await outbound.write(envelope)
                    }
                }
            }
        } catch {
            // The socket closed (shutdown or close()).
        }
        for ended in self.flows.removeAll() {
            ended.emit(.connectionClose, ["reason": "closed"])
            ended.close()
        }
    }

    public func close() async {
        try? await self.channel.channel.close()
    }
}

/// Limits of a UDP listener.
public struct UDPLimits: Sendable {
    /// Datagrams per second one source may have answered (the bucket refills at this rate).
    public var datagramsPerSecond: Double
    /// Burst a source may send at once.
    public var burst: Double
    /// A flow with no datagram for this long ends (its session closes).
    public var flowIdleTimeout: Duration
    /// Flows tracked at once; the oldest are dropped beyond this.
    public var maximumFlows: Int
    /// Replies larger than this many times the request are cut (reflection amplification bound).
    public var maximumAmplification: Int

    public init(
        datagramsPerSecond: Double = 20,
        burst: Double = 40,
        flowIdleTimeout: Duration = .seconds(60),
        maximumFlows: Int = 10_000,
        maximumAmplification: Int = 8
    ) {
        self.datagramsPerSecond = datagramsPerSecond
        self.burst = burst
        self.flowIdleTimeout = flowIdleTimeout
        self.maximumFlows = maximumFlows
        self.maximumAmplification = maximumAmplification
    }
}

/// Per-source flows and token buckets, bounded in number.
///
/// Nothing here walks every flow per datagram: idle flows are swept at most once a second (a flow then ends up to
/// a second after its idle timeout), and a full table drops its oldest eighth at once. Walking all of them for
/// each datagram, as the first version did, made a burst from fresh source ports (a scan) quadratic: 0.3–0.6 ms
/// of CPU per datagram with 3,000 flows.
final class FlowTable: Sendable {
    private struct Flow {
        var session: SessionEvents
        var tokens: Double
        var last: ContinuousClock.Instant
    }

    private struct Table {
        var flows: [Endpoint: Flow] = [:]
        var nextSweep: ContinuousClock.Instant?
    }

    private let table = Mutex(Table())
    private let seen = Atomic<Int>(0)
    let limits: UDPLimits
    /// How often idle flows are looked for.
    private let sweepInterval: Duration

    var active: Int { self.table.withLock { $0.flows.count } }
    var total: Int { self.seen.load(ordering: .relaxed) }

    init(limits: UDPLimits) {
        self.limits = limits
        self.sweepInterval = min(.seconds(1), limits.flowIdleTimeout)
    }

    /// The source's flow (made if new) and whether this datagram fits its rate.
    ///
    /// A datagram from a known source changes its flow in place (one lookup, no copy of the flow). A full table
    /// finds the time its oldest eighth was last heard from by sorting the instants alone, then removes those
    /// flows: sorting (address, flow) pairs copied and released every flow, and a flood from fresh source ports
    /// fills the table every 1,250 datagrams.
    func admit(
        source: Endpoint,
        at now: ContinuousClock.Instant,
        make: () -> SessionEvents
    ) -> (SessionEvents, Bool, Bool) {
        self.table.withLock { table in
            if let index = table.flows.index(forKey: source) {
                return Self.refill(&table.flows.values[index], at: now, limits: self.limits)
            }
            if table.flows.count >= self.limits.maximumFlows {
                let excess = table.flows.count - self.limits.maximumFlows + 1
                Self.dropOldest(max(excess, self.limits.maximumFlows / 8), from: &table.flows)
            }
            let session = make()
            self.seen.add(1, ordering: .relaxed)
            table.flows[source] = Flow(session: session, tokens: self.limits.burst - 1, last: now)
            return (session, true, true)
        }
    }

    private static func refill(
        _ flow: inout Flow,
        at now: ContinuousClock.Instant,
        limits: UDPLimits
    ) -> (SessionEvents, Bool, Bool) {
        let elapsed = now - flow.last
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        flow.tokens = min(limits.burst, flow.tokens + seconds * limits.datagramsPerSecond)
        flow.last = now
        let allowed = flow.tokens >= 1
        if allowed { flow.tokens -= 1 }
        return (flow.session, allowed, false)
    }

    /// Removes the `count` flows heard from longest ago (flows heard from at the same instant as the last of them
    /// go in table order until `count` are gone).
    private static func dropOldest(_ count: Int, from flows: inout [Endpoint: Flow]) {
        guard count > 0, !flows.isEmpty else { return }
        var instants = flows.values.map(\.last)
        instants.sort()
        let cutoff = instants[min(count, instants.count) - 1]
        var ties = instants.prefix(count).count { $0 == cutoff }
        var doomed: [Endpoint] = []
        doomed.reserveCapacity(count)
        for (source, flow) in flows {
            if flow.last < cutoff {
                doomed.append(source)
            } else if flow.last == cutoff, ties > 0 {
                ties -= 1
                doomed.append(source)
            }
        }
        for source in doomed { flows[source] = nil }
    }

    /// Flows idle past the timeout, removed; looked for at most once per sweep interval.
    func expire(at now: ContinuousClock.Instant) -> [SessionEvents] {
        self.table.withLock { table in
            if let next = table.nextSweep, now < next { return [] }
            table.nextSweep = now + self.sweepInterval
            let stale = table.flows.filter { now - $0.value.last > self.limits.flowIdleTimeout }
            for key in stale.keys { table.flows[key] = nil }
            return stale.values.map(\.session)
        }
    }

    func removeAll() -> [SessionEvents] {
        self.table.withLock { table in
            defer { table.flows = [:] }
            return table.flows.values.map(\.session)
        }
    }
}

/// Hands the wrapped channel out of the bootstrap's initializer.
private final class MadeChannel: Sendable {
    let channel = Mutex<NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>?>(nil)
}

extension DatagramBootstrap {
    /// Reads up to 16 datagrams per wake-up (NIO's default is 4), so a burst is taken from the socket in fewer
    /// passes through the event loop.
    fileprivate func floodReady() -> DatagramBootstrap {
        self.channelOption(.maxMessagesPerRead, value: 16)
    }
}

/// The room a UDP listener's socket has for datagrams waiting to be read.
enum UDPReceiveRoom {
    /// What the socket may queue while the listener is busy: a scan or a brute force sends faster than a burst
    /// is served, and what the kernel cannot queue is lost unseen. The default (`net.core.rmem_default`, 208 KiB
    /// here) queues about 160 small datagrams (each is charged its buffer, about 1.3 KiB); this asks for 4 MiB,
    /// about 3,000 of them. Running as root (deckies need it), `SO_RCVBUFFORCE` is not capped by
    /// `net.core.rmem_max`; otherwise `SO_RCVBUF` gets what the cap allows. Memory is only charged while datagrams
    /// wait, and the kernel's `net.ipv4.udp_mem` bounds all UDP sockets together.
    static let bytes = 4 << 20

    static func widen(_ channel: any Channel) async {
        let forced = ChannelOptions.Types.SocketOption(
            level: .init(rawValue: SOL_SOCKET),
            name: .init(rawValue: SO_RCVBUFFORCE)
        )
        do {
            try await channel.setOption(forced, value: Self.bytes).get()
        } catch {
            try? await channel.setOption(.socketOption(.so_rcvbuf), value: Self.bytes).get()
        }
    }
}
