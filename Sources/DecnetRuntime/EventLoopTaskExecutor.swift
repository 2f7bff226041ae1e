import NIOCore
import Synchronization

/// A task executor that runs its jobs on one NIO event loop. A connection's task that prefers its channel's loop
/// reads, decides and writes on the thread doing that channel's I/O, instead of hopping to the cooperative pool
/// and back for every message (measured by bench/compare.sh: that hop and its wake-ups were most of a
/// connection's CPU). Work that blocks must not run here; the emulators' file writes go to
/// `BlockingIOExecutor`-preferring tasks or are short appends.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// The executor of `eventLoop`, made once per loop (one per connection was an object per held connection).
    static func of(_ eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        let key = ObjectIdentifier(eventLoop)
        return self.executors.withLock { executors in
            if let executor = executors[key] { return executor }
            let executor = EventLoopTaskExecutor(eventLoop)
            executors[key] = executor
            return executor
        }
    }

    private static let executors = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
