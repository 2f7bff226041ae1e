import Dispatch

/// A task executor on a serial dispatch queue, for work that makes blocking system calls (appending to the
/// event log, fsync): run there, it never occupies a thread of the cooperative pool that serves connections.
public final class BlockingIOExecutor: TaskExecutor, @unchecked Sendable {
    /// The process-wide executor for event-log writes.
    public static let shared = BlockingIOExecutor(label: "decnet.blocking-io")

    // A DispatchQueue is thread-safe; the class holds nothing else.
    let queue: DispatchQueue

    public init(label: String) { self.queue = DispatchQueue(label: label, qos: .utility) }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        self.queue.async {
            unownedJob.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
