import DecnetCore
import DecnetServiceKit
import Foundation
import Synchronization

/// Something that stores or shows rendered events: the log file, standard output, a forwarder.
public protocol EventOutput: Sendable {
    /// Called in event order from one task; `line` is the event's RFC 5424 line.
    func write(_ event: HoneypotEvent, line: String)
    /// Called when the dispatcher has nothing queued, and at the end.
    func flush()
}

/// The sink services emit into. `emit` never blocks: events queue in a bounded buffer (drops are counted) and
/// one task renders each once and hands it to every output; an output that fails does not stop the others.
/// Run `run()` with `BlockingIOExecutor` preference when an output writes files, so its blocking calls stay off
/// the cooperative pool.
public final class EventDispatcher: EventSink, Sendable {
    private let stream: AsyncStream<HoneypotEvent>
    private let continuation: AsyncStream<HoneypotEvent>.Continuation
    private let outputs: [any EventOutput]
    private let droppedCount = Atomic<Int>(0)

    /// - Parameter capacity: events that may wait; past that, new events are dropped and counted.
    public init(outputs: [any EventOutput], capacity: Int = 65_536) {
        (self.stream, self.continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(capacity))
        self.outputs = outputs
    }

    public func emit(_ event: HoneypotEvent) {
        if case .dropped = self.continuation.yield(event) {
            self.droppedCount.add(1, ordering: .relaxed)
        }
    }

    /// Events dropped because the buffer was full.
    public var dropped: Int { self.droppedCount.load(ordering: .relaxed) }

    /// Delivers events until `finish()` and the queue is empty.
    public func run() async {
        for await event in self.stream {
            let line = RFC5424Formatter.line(for: event)
            for output in self.outputs { output.write(event, line: line) }
        }
        for output in self.outputs { output.flush() }
    }

    /// No more events will come; `run()` returns once the queue is drained.
    public func finish() { self.continuation.finish() }
}

/// Appends lines to the event log (created if needed), rotating it by size (`RotatingLogFile`). A write that
/// fails is counted, not retried: the dispatcher must go on serving the other outputs.
public final class LogFileOutput: EventOutput {
    private let file: Mutex<RotatingLogFile>
    private let failedCount = Atomic<Int>(0)
    public let path: String

    public init(path: String, rotation: RotatingLogFile.Policy = .never) throws {
        self.file = Mutex(try RotatingLogFile(path: path, policy: rotation))
        self.path = path
    }

    /// Lines that could not be written.
    public var failed: Int { self.failedCount.load(ordering: .relaxed) }

    public func write(_ event: HoneypotEvent, line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        let written: Bool = self.file.withLock { file in (try? file.append(bytes)) != nil }
        if !written { self.failedCount.add(1, ordering: .relaxed) }
    }

    public func flush() { self.file.withLock { $0.sync() } }
}

/// Prints each line to standard output.
public struct StandardOutput: EventOutput {
    public init() {}

    public func write(_ event: HoneypotEvent, line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    public func flush() {}
}
