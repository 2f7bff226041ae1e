import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization

/// Something that stores or shows rendered events: the log file, standard output, a forwarder.
public protocol EventOutput: Sendable {
    /// Called in event order from the dispatcher's one thread; `line` is the event's RFC 5424 line.
    func write(_ event: HoneypotEvent, line: String)
    /// The end of a batch of `write`s: an output that buffers writes the batch now. Returns false when something
    /// is still held back (the disk is full): the dispatcher calls again a little later, even with no new event.
    func endBatch() -> Bool
    /// Called at the end.
    func flush()
}

extension EventOutput {
    public func endBatch() -> Bool { true }
}

/// The sink services emit into. `emit` never blocks: events queue in a bounded buffer (drops are counted) and
/// one thread of the dispatcher's own renders each once and hands it to every output, a batch at a time; an
/// output that fails does not stop the others.
///
/// Batches are what make an event cheap. The writer sleeps until an event arrives, then lingers `linger` so that
/// the events of the next connections join the same batch, which the log file writes with one `write(2)`. One
/// wake-up of the writer per event (an `AsyncStream` resuming a task on a dispatch queue, then a write per line)
/// was a measurable part of a connection's CPU in bench/compare.sh; with a linger of 2 ms there are at most 500
/// wake-ups a second, however many events, and an event reaches the log at most a few milliseconds later.
public final class EventDispatcher: EventSink, Sendable {
    private struct Queue {
        var events: [HoneypotEvent] = []
        var finished = false
        var writerWaiting = false
        var dropped = 0
    }

    private let queue: ConditionBox<Queue>
    private let outputs: [any EventOutput]
    private let capacity: Int
    private let linger: Duration

    /// - Parameters:
    ///   - capacity: events that may wait; past that, new events are dropped and counted.
    ///   - linger: how long the writer waits after the first event of a batch for others to join it.
    public init(outputs: [any EventOutput], capacity: Int = 65_536, linger: Duration = .milliseconds(2)) {
        self.queue = ConditionBox(Queue())
        self.outputs = outputs
        self.capacity = capacity
        self.linger = linger
    }

    public func emit(_ event: HoneypotEvent) {
        let wake = self.queue.withLock { queue -> Bool in
            guard !queue.finished else { return false }
            guard queue.events.count < self.capacity else {
                queue.dropped += 1
                return false
            }
            queue.events.append(event)
            // Only the event that finds the writer asleep wakes it; the rest join its batch.
            if queue.writerWaiting {
                queue.writerWaiting = false
                return true
            }
            return false
        }
        if wake { self.queue.signal() }
    }

    /// Events dropped because the buffer was full.
    public var dropped: Int { self.queue.withLock { $0.dropped } }

    /// Delivers events until `finish()` and the queue is empty, on a thread of its own (outputs make blocking
    /// calls, which must not hold an event loop or a thread of the cooperative pool).
    public func run() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                self.deliverUntilFinished()
                done.resume()
            }
            thread.name = "decnet-events"
            thread.start()
        }
    }

    private func deliverUntilFinished() {
        var held = false
        while true {
            // Asleep until an event comes (or, while an output holds bytes back, a second at most).
            var batch = self.queue.wait(timeout: held ? .seconds(1) : nil) { queue in
                if !queue.events.isEmpty || queue.finished { return true }
                queue.writerWaiting = true
                return false
            }
            if batch.events.isEmpty && !batch.finished && !held { continue }
            if !batch.finished && self.linger > .zero && batch.events.count < 256 {
                Thread.sleep(forTimeInterval: Double(self.linger.components.attoseconds) / 1e18)
            }
            batch = self.queue.withLock { queue in
                let taken = Queue(events: queue.events, finished: queue.finished)
                queue.events.removeAll(keepingCapacity: true)
                queue.writerWaiting = false
                return taken
            }
            for event in batch.events {
                let line = RFC5424Formatter.line(for: event)
                for output in self.outputs { output.write(event, line: line) }
            }
            held = false
            for output in self.outputs where !output.endBatch() { held = true }
            if batch.finished && batch.events.isEmpty { break }
        }
        for output in self.outputs { output.flush() }
    }

    /// No more events will come; `run()` returns once the queue is drained.
    public func finish() {
        self.queue.withLock { $0.finished = true }
        self.queue.signal()
    }
}

/// A value guarded by a lock, with a condition the writer sleeps on.
final class ConditionBox<Value>: @unchecked Sendable {
    // Every access to `value` holds `condition`'s lock.
    private let condition = NSCondition()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        self.condition.lock()
        defer { self.condition.unlock() }
        return body(&self.value)
    }

    /// Wakes the waiter, if one sleeps.
    func signal() {
        self.condition.lock()
        self.condition.signal()
        self.condition.unlock()
    }

    /// Waits (at most `timeout`) until `ready` says so; `ready` runs under the lock and may mark that it sleeps.
    /// Returns a copy of the value as it was when `ready` last ran.
    func wait(timeout: Duration?, until ready: (inout Value) -> Bool) -> Value {
        self.condition.lock()
        defer { self.condition.unlock() }
        let deadline = timeout.map { Date(timeIntervalSinceNow: Double($0.components.seconds)) }
        while !ready(&self.value) {
            if let deadline {
                if !self.condition.wait(until: deadline) { break }
            } else {
                self.condition.wait()
            }
        }
        return self.value
    }
}

/// Appends lines to the event log (created if needed), rotating it by size (`RotatingLogFile`).
///
/// A batch's lines are written with one `write(2)`. A write the disk refuses (full, an I/O error) loses nothing:
/// the bytes not written are kept, in order, and written first by the next batch or the dispatcher's retry a
/// second later; the failure is reported once on standard error, and again when writing resumes. Only past
/// `maximumHeld` bytes held back are new lines dropped (and counted). A log file removed or replaced under the
/// writer is opened again at its path, so that events keep reaching the ingester that reads it.
public final class LogFileOutput: EventOutput {
    private struct State {
        var file: RotatingLogFile
        /// Lines of this batch, and any held back from earlier ones, in order.
        var pending: [UInt8] = []
        var failing: String?
        var lastCheck = ContinuousClock.now
    }

    private let state: Mutex<State>
    private let failedCount = Atomic<Int>(0)
    private let maximumHeld: Int
    public let path: String

    public init(path: String, rotation: RotatingLogFile.Policy = .never, maximumHeld: Int = 64 << 20) throws {
        self.state = Mutex(State(file: try RotatingLogFile(path: path, policy: rotation)))
        self.path = path
        self.maximumHeld = maximumHeld
    }

    /// Lines dropped because the disk refused them for too long (more than `maximumHeld` bytes waited).
    public var failed: Int { self.failedCount.load(ordering: .relaxed) }

    /// Bytes written by no batch yet (the disk refused them).
    public var held: Int { self.state.withLock { $0.pending.count } }

    public func write(_ event: HoneypotEvent, line: String) {
        let dropped = self.state.withLock { state -> Bool in
            guard state.pending.count < self.maximumHeld else { return true }
            state.pending.append(contentsOf: line.utf8)
            state.pending.append(0x0A)
            return false
        }
        if dropped { self.failedCount.add(1, ordering: .relaxed) }
    }

    public func endBatch() -> Bool {
        let report = self.state.withLock { state -> String? in
            var report: String?
            let now = ContinuousClock.now
            if now - state.lastCheck > .seconds(1) {
                state.lastCheck = now
                do {
                    if try state.file.reopenIfMoved() { report = "decnet: \(self.path) was moved or removed; reopened" }
                } catch {
                    report = "decnet: \(self.path) was removed and cannot be created again: \(error)"
                }
            }
            guard !state.pending.isEmpty else { return report }
            let (written, failure) = state.pending.withUnsafeBytes { state.file.appendSome($0) }
            state.pending.removeFirst(written)
            if let failure {
                defer { state.failing = failure }
                return state.failing == nil
                    ? "decnet: event log: \(failure); holding \(state.pending.count) bytes until it can be written"
                    : report
            }
            if state.failing != nil {
                state.failing = nil
                return "decnet: event log: writing again, nothing lost"
            }
            return report
        }
        if let report { FileHandle.standardError.write(Data((report + "\n").utf8)) }
        return self.state.withLock { $0.pending.isEmpty }
    }

    public func flush() {
        _ = self.endBatch()
        self.state.withLock { $0.file.sync() }
    }
}

/// Prints each line to standard output.
public struct StandardOutput: EventOutput {
    public init() {}

    public func write(_ event: HoneypotEvent, line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    public func flush() {}
}
