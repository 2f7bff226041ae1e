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

/// Appends lines to a file (created if needed, opened `O_APPEND` so concurrent writers never interleave
/// within a line).
public final class LogFileOutput: EventOutput {
    private let descriptor: Int32
    public let path: String

    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(self.descriptor) }

    public func write(_ event: HoneypotEvent, line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(self.descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    public func flush() { fsync(self.descriptor) }
}

/// Prints each line to standard output.
public struct StandardOutput: EventOutput {
    public init() {}

    public func write(_ event: HoneypotEvent, line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    public func flush() {}
}
