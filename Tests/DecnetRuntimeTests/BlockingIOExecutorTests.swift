import Dispatch
import Testing

@testable import DecnetRuntime

@Suite struct BlockingIOExecutorTests {
    /// Work given to the executor runs on its own queue, not on the cooperative pool.
    @Test func tasksRunOnTheExecutorsQueue() async {
        let executor = BlockingIOExecutor(label: "test.blocking-io")
        let onQueue = await Task(executorPreference: executor) { () -> Bool in
            dispatchPrecondition(condition: .onQueue(executor.queue))
            return true
        }.value
        #expect(onQueue)
    }
}
