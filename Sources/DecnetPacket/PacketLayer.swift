import CPcap
import DecnetCore
import DecnetRuntime
import DecnetServiceKit
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The packet layer: sees what reaches each decky below its sockets and turns it into scan events and
/// attacker fingerprints.
///
/// One libpcap handle per decky, opened inside the decky's namespace on its `eth0` (so it works the same on a
/// lab bridge, a macvlan or an ipvlan parent, and knows which decky a frame reached without a lookup), inbound
/// only, kernel-filtered to what is addressed to the decky. One thread waits on every handle with epoll and
/// runs decoding, classification and detection; it never touches the data path, so a flood costs this thread
/// CPU and, at worst, ring drops (counted), never a service's latency or an event of the services.
public final class PacketLayer: DeckyWatcher, Sendable {
    public struct Settings: Sendable {
        /// The interface inside each decky's namespace.
        public var interface = "eth0"
        /// Ring size per decky (`DECNET_SNIFFER_BUFFER_KB`).
        public var bufferBytes: Int32 = 256 * 1024
        public var detector = ScanDetector.Settings()

        public init() {}
    }

    private struct Shared: ~Copyable {
        var pending: [Change] = []
        var status = SnifferStatus(running: false)
        var hostnames: [String: String] = [:]
        /// Deckies with a handle open or on its way to the capture thread.
        var capturing: Set<String> = []
    }

    private enum Change: @unchecked Sendable {
        case add(CaptureHandle)
        case remove(String, CheckedContinuation<Void, Never>)
        case stop(CheckedContinuation<Void, Never>)
        case ignore(Set<UInt32>)
    }

    let settings: Settings
    let sink: any EventSink
    let log: @Sendable (String) -> Void
    private let shared = Mutex(Shared())
    private let wake = WakePipe()
    private let started = Atomic<Bool>(false)

    public init(settings: Settings = Settings(), sink: any EventSink, log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.sink = sink
        self.log = log
    }

    /// Starts the capture thread (idempotent).
    public func start() {
        guard !self.started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        self.shared.withLock { $0.status.running = true }
        let thread = Thread { [self] in self.loop() }
        thread.name = "decnet-sniffer"
        thread.start()
    }

    /// Addresses that are never scanners (the gateway, the deckies, operator hosts).
    public func ignore(_ addresses: Set<IPv4Address>) {
        self.submit(.ignore(Set(addresses.map(\.value))))
    }

    /// Starts capturing on a decky (opens its handle inside its namespace).
    public func add(_ target: DeckyTarget) async {
        let interface = self.settings.interface
        let buffer = self.settings.bufferBytes
        do {
            let handle = try await NamespaceThread.run(target.namespace) {
                try CaptureHandle.open(target, interface: interface, bufferBytes: buffer)
            }
            self.shared.withLock {
                $0.hostnames[target.name] = target.hostname
                $0.status.failures[target.name] = nil
                $0.capturing.insert(target.name)
            }
            self.submit(.add(handle))
        } catch {
            self.shared.withLock { $0.status.failures[target.name] = "\(error)" }
            self.log("sniffer: \(target.name): \(error)")
        }
    }

    /// Stops capturing on a decky; returns once its handle is closed (it no longer holds the namespace).
    public func remove(_ name: String) async {
        guard self.started.load(ordering: .acquiring) else { return }
        await withCheckedContinuation { continuation in self.submit(.remove(name, continuation)) }
        self.shared.withLock {
            $0.status.failures[name] = nil
            $0.capturing.remove(name)
        }
    }

    /// Ends every scan (their `scan.ended` events go out), closes every handle and stops the thread.
    public func stop() async {
        guard self.started.load(ordering: .acquiring) else { return }
        await withCheckedContinuation { continuation in self.submit(.stop(continuation)) }
    }

    public var status: SnifferStatus {
        self.shared.withLock { shared in
            var status = shared.status
            status.deckies = status.running ? shared.capturing.count : 0
            return status
        }
    }

    // MARK: DeckyWatcher

    public func served(_ decky: Decky, namespace: String) async {
        await self.add(DeckyTarget(name: decky.name, hostname: decky.hostname, address: decky.ip, namespace: namespace))
    }

    public func removed(_ decky: Decky) async { await self.remove(decky.name) }

    // MARK: the capture thread

    private func submit(_ change: Change) {
        self.shared.withLock { $0.pending.append(change) }
        self.wake.signal()
    }

    private func loop() {
        var handles: [Int: CaptureHandle] = [:]
        var nextIndex = 0
        var classifier = ProbeClassifier()
        var detector = ScanDetector(settings: self.settings.detector)
        var counters = (frames: 0, probes: 0, reports: 0, fingerprints: 0)
        var lastTick = Self.now()
        var hostnames: [String: String] = [:]
        // poll(2) over the wake pipe and every handle; rebuilt when the handles change.
        var polled: [pollfd] = []
        var tags: [Int] = []
        func rebuild() {
            polled = [self.wake.pollEntry]
            tags = [-1]
            for (tag, handle) in handles.sorted(by: { $0.key < $1.key }) {
                polled.append(pollfd(fd: handle.descriptor, events: Int16(POLLIN), revents: 0))
                tags.append(tag)
            }
        }
        rebuild()

        func emit(_ outputs: [DetectorOutput], at time: Double) {
            for output in outputs {
                switch output {
                case .scan(let report):
                    counters.reports += 1
                    self.sink.emit(ScanEvents.event(report, hostname: hostnames[report.decky] ?? report.decky))
                case .fingerprint(let report):
                    counters.fingerprints += 1
                    self.sink.emit(
                        ScanEvents.event(report, hostname: hostnames[report.decky] ?? report.decky, at: time)
                    )
                }
            }
        }

        while true {
            let ready = poll(&polled, nfds_t(polled.count), 250)
            if ready > 0 {
                for slot in polled.indices where polled[slot].revents != 0 {
                    polled[slot].revents = 0
                    let tag = tags[slot]
                    if tag == -1 {
                        self.wake.drain()
                        continue
                    }
                    guard let handle = handles[tag] else { continue }
                    let address = handle.decky.address.value
                    let name = handle.decky.name
                    _ = handle.drain(limit: 4096) { bytes, time in
                        counters.frames += 1
                        guard let frame = Frame(raw: bytes),
                            let probe = classifier.classify(frame, deckyAddress: address)
                        else { return }
                        counters.probes += 1
                        emit(detector.observe(probe, decky: tag, name: name, at: time), at: time)
                    }
                }
            }
            // Changes from other threads.
            let (changes, names) = self.shared.withLock { shared -> ([Change], [String: String]) in
                defer { shared.pending = [] }
                return (shared.pending, shared.hostnames)
            }
            hostnames = names
            var stopping: CheckedContinuation<Void, Never>?
            for change in changes {
                switch change {
                case .add(let handle):
                    // A decky added twice (rebuilt) replaces its old handle.
                    for (index, old) in handles where old.decky.name == handle.decky.name {
                        old.close()
                        handles[index] = nil
                    }
                    handles[nextIndex] = handle
                    nextIndex += 1
                case .remove(let name, let continuation):
                    for (index, handle) in handles where handle.decky.name == name {
                        handle.close()
                        handles[index] = nil
                    }
                    continuation.resume()
                case .ignore(let addresses):
                    detector.settings.ignored = addresses
                case .stop(let continuation):
                    stopping = continuation
                }
            }
            if !changes.isEmpty { rebuild() }
            let now = Self.now()
            if now - lastTick >= 0.5 || stopping != nil {
                lastTick = now
                emit(stopping == nil ? detector.tick(at: now) : detector.finish(), at: now)
                var drops = 0
                for handle in handles.values { drops += Int(handle.statistics.dropped) }
                let followed = detector.sourceCount
                let active = detector.activeScanCount
                self.shared.withLock { shared in
                    shared.status.frames = counters.frames
                    shared.status.probes = counters.probes
                    shared.status.reports = counters.reports
                    shared.status.fingerprints = counters.fingerprints
                    shared.status.kernelDrops = drops
                    shared.status.sources = followed
                    shared.status.activeScans = active
                    shared.status.cpuMicroseconds = Self.threadCPUMicroseconds()
                }
            }
            if let stopping {
                for handle in handles.values { handle.close() }
                self.shared.withLock {
                    $0.status.running = false
                    $0.capturing = []
                }
                self.started.store(false, ordering: .releasing)
                stopping.resume()
                return
            }
        }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
    }

    /// This thread's CPU time (user + system).
    static func threadCPUMicroseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Int(time.tv_sec) * 1_000_000 + Int(time.tv_nsec) / 1000
    }
}
