import NIOCore

/// A task executor that runs its jobs on one NIO event loop. A connection's task that prefers its channel's loop
/// reads, decides and writes on the thread doing that channel's I/O, instead of hopping to the cooperative pool
/// and back for every message (measured by bench/compare.sh: that hop and its wake-ups were most of a
/// connection's CPU). Work that blocks must not run here; the emulators' file writes go to
/// `BlockingIOExecutor`-preferring tasks or are short appends.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
