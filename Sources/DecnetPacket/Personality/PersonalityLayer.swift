import CDecnetLinux
import DecnetCore
import DecnetRuntime
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The OS personality layer: each shaped decky's SYN-ACKs, RSTs and ICMP leave through an NFQUEUE in its
/// namespace, where its `PacketShaper` gives them the personality's traits (option order, window, IP IDs, DF,
/// ICMP codes and quotes) before they reach the wire.
///
/// Only those packets leave the kernel (one SYN-ACK per connection; never the data of an established one). The
/// rules carry `--queue-bypass` and the queue fails open, so a full queue or a stopped engine means unshaped
/// packets, never lost ones. One thread serves every decky's queue.
public final class PersonalityLayer: DeckyWatcher, Sendable {
    private struct Shared: ~Copyable {
        var pending: [Change] = []
        /// Per decky (`decnet status --json`).
        var status: [String: ShapingStatus] = [:]
    }

    private enum Change: @unchecked Sendable {
        case add(QueueHandle)
        case remove(String, CheckedContinuation<Void, Never>)
        case stop(CheckedContinuation<Void, Never>)
    }

    let log: @Sendable (String) -> Void
    private let shared = Mutex(Shared())
    private let wake = WakePipe()
    private let started = Atomic<Bool>(false)

    public init(log: @escaping @Sendable (String) -> Void) {
        self.log = log
    }

    /// What the layer did, per shaped decky (and why it could not shape one).
    public var status: [String: ShapingStatus] { self.shared.withLock { $0.status } }

    /// The iptables rules (raw table, before conntrack) that queue what a shape changes; restored with
    /// `iptables-restore --noflush` inside the decky's namespace.
    public static func rules(for shape: PacketShape, interface: String = "eth0") -> String {
        // What the shape changes goes to one chain, where a shared rate limit decides: within it, the queue;
        // past it (a flood), out unshaped, so a flood never turns into this process's CPU.
        var lines = [
            "*raw",
            ":DECNET-SHAPE - [0:0]",
            "-A DECNET-SHAPE -m limit --limit \(Self.shapedPerSecond)/sec --limit-burst \(Self.shapedBurst) "
                + "-j NFQUEUE --queue-num 0 --queue-bypass",
            "-A OUTPUT -o \(interface) -p tcp --tcp-flags SYN,ACK SYN,ACK -j DECNET-SHAPE",
            "-A OUTPUT -o \(interface) -p tcp --tcp-flags RST RST -j DECNET-SHAPE",
            "-A OUTPUT -o \(interface) -p icmp --icmp-type echo-reply -j DECNET-SHAPE",
        ]
        if shape.shapesErrors {
            lines.append("-A OUTPUT -o \(interface) -p icmp --icmp-type destination-unreachable -j DECNET-SHAPE")
        }
        if shape.watchesEchoRequests {
            lines.append("-A PREROUTING -i \(interface) -p icmp --icmp-type echo-request -j DECNET-SHAPE")
        }
        lines.append("COMMIT")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Packets a decky may have shaped per second (and in a burst): nmap -O sends a few dozen, a SYN scan of a
    /// thousand ports gets a thousand RSTs; a flood past it goes out as the kernel made it.
    static let shapedPerSecond = 10_000
    static let shapedBurst = 4_000

    /// Starts shaping a decky: opens its queue inside its namespace, then installs the rules that feed it.
    public func add(_ decky: Decky, namespace: String) async {
        guard decky.shapesPackets else { return }
        self.start()
        let personality = decky.personality
        let shape = PersonalityTable.shape(personality)
        do {
            let handle = try await NamespaceThread.run(namespace) {
                try QueueHandle.open(name: decky.name, shaper: PacketShaper(personality: personality))
            }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "decnet-personality-\(UUID().uuidString).rules"
            )
            defer { try? FileManager.default.removeItem(at: file) }
            try Data(Self.rules(for: shape).utf8).write(to: file)
            do {
                // A decky served again (rebuilt, restarted) has its old rules replaced, not doubled.
                _ = try? await IPRoute.exec(namespace: namespace, ["iptables", "-w", "-t", "raw", "-F"])
                _ = try? await IPRoute.exec(
                    namespace: namespace,
                    ["iptables", "-w", "-t", "raw", "-X", "DECNET-SHAPE"]
                )
                try await IPRoute.exec(namespace: namespace, ["iptables-restore", "-w", "--noflush", file.path])
            } catch {
                handle.close()
                throw error
            }
            self.shared.withLock { $0.status[decky.name] = ShapingStatus() }
            self.submit(.add(handle))
        } catch {
            self.shared.withLock { $0.status[decky.name] = ShapingStatus(failure: "\(error)") }
            self.log("personality: \(decky.name) (\(personality)): \(error)")
        }
    }

    public func remove(_ name: String) async {
        guard self.started.load(ordering: .acquiring) else { return }
        await withCheckedContinuation { continuation in self.submit(.remove(name, continuation)) }
        self.shared.withLock { $0.status[name] = nil }
    }

    /// Closes every queue (their rules stay and bypass: packets go out unshaped) and stops the thread.
    public func stop() async {
        guard self.started.load(ordering: .acquiring) else { return }
        await withCheckedContinuation { continuation in self.submit(.stop(continuation)) }
    }

    // MARK: DeckyWatcher

    public func served(_ decky: Decky, namespace: String) async { await self.add(decky, namespace: namespace) }

    public func removed(_ decky: Decky) async { await self.remove(decky.name) }

    // MARK: the queue thread

    private func start() {
        guard !self.started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in self.loop() }
        thread.name = "decnet-personality"
        thread.start()
    }

    private func submit(_ change: Change) {
        self.shared.withLock { $0.pending.append(change) }
        self.wake.signal()
    }

    private func loop() {
        // The kernel's name for this thread, so its CPU can be read from /proc (bench/personality-cost.sh).
        _ = decnet_set_thread_name("decnet-shaper")
        // Every new connection's SYN-ACK waits for this thread, so it runs as soon as a packet is queued (real-time
        // priority where permitted: the login rate's loss went from about 12 % to 5–9 %, benchmarks.md). What it may
        // take is bounded by the rules' rate limit, past which packets go out unshaped.
        let priority = decnet_prioritize_thread()
        if priority < 2 {
            self.log(
                "personality: the queue thread runs at \(priority == 1 ? "nice -10" : "normal priority") (no CAP_SYS_NICE or real-time)"
            )
        }
        var handles: [QueueHandle] = []
        var polled: [pollfd] = []
        func rebuild() {
            polled = [self.wake.pollEntry]
            polled += handles.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        }
        rebuild()
        var lastReport = PacketLayer.now()
        while true {
            if poll(&polled, nfds_t(polled.count), 500) > 0 {
                for slot in polled.indices where polled[slot].revents != 0 {
                    polled[slot].revents = 0
                    if slot == 0 {
                        self.wake.drain()
                    } else {
                        handles[slot - 1].drain(limit: 256)
                    }
                }
            }
            let changes = self.shared.withLock { shared -> [Change] in
                defer { shared.pending = [] }
                return shared.pending
            }
            var stopping: CheckedContinuation<Void, Never>?
            for change in changes {
                switch change {
                case .add(let handle):
                    handles.removeAll { old in
                        guard old.name == handle.name else { return false }
                        old.close()
                        return true
                    }
                    handles.append(handle)
                case .remove(let name, let continuation):
                    handles.removeAll { old in
                        guard old.name == name else { return false }
                        old.close()
                        return true
                    }
                    continuation.resume()
                case .stop(let continuation):
                    stopping = continuation
                }
            }
            if !changes.isEmpty { rebuild() }
            let now = PacketLayer.now()
            if now - lastReport >= 1 || stopping != nil {
                lastReport = now
                self.shared.withLock { shared in
                    for handle in handles {
                        guard var counters = shared.status[handle.name] else { continue }
                        counters.packets = handle.packets
                        counters.shaped = handle.shaper.counters.shaped
                        counters.scaleMismatches = handle.shaper.counters.scaleMismatches
                        counters.unknownOptions = handle.shaper.counters.unknownOptions
                        counters.verdictFailures = handle.verdictFailures
                        shared.status[handle.name] = counters
                    }
                }
            }
            if let stopping {
                for handle in handles { handle.close() }
                self.shared.withLock { $0.status = [:] }
                self.started.store(false, ordering: .releasing)
                stopping.resume()
                return
            }
        }
    }
}
