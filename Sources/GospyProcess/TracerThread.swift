import Foundation

/// One dedicated OS thread that runs every ptrace call: the kernel binds a tracee to the thread
/// that attached it, so all later requests (interrupt, wait, registers, detach) must come from
/// that same thread. GCD queues do not promise a fixed thread; this does. The thread ends when
/// its owner lets go of it, so repeated snapshots never pile up threads.
final class TracerThread: @unchecked Sendable {
    /// The jobs and the thread's loop; the thread holds only this, never the TracerThread,
    /// so that dropping the TracerThread can end the loop.
    private final class JobQueue: @unchecked Sendable {
        let condition = NSCondition()
        var jobs: [() -> Void] = []
        var finished = false

        func run() {
            while true {
                condition.lock()
                while jobs.isEmpty && !finished { condition.wait() }
                if jobs.isEmpty {
                    condition.unlock()
                    return
                }
                let job = jobs.removeFirst()
                condition.unlock()
                job()
            }
        }

        func add(_ job: @escaping () -> Void) {
            condition.lock()
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }

        /// Lets the loop end once the queued jobs are done.
        func finish() {
            condition.lock()
            finished = true
            condition.signal()
            condition.unlock()
        }
    }

    private let queue = JobQueue()
    private let thread: Thread

    init() {
        let queue = self.queue
        thread = Thread { queue.run() }
        thread.name = "gospy-tracer"
        thread.start()
    }

    deinit { queue.finish() }

    /// Runs `body` on the tracer thread and waits for its result.
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        if Thread.current === thread { return try body() }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, Error>?
        queue.add {
            result = Result { try body() }
            done.signal()
        }
        done.wait()
        return try result!.get()
    }

    /// Like `sync`, but gives up waiting after `timeout` (the job still runs later).
    func sync(timeout: TimeInterval, _ body: @escaping () -> Void) -> Bool {
        if Thread.current === thread {
            body()
            return true
        }
        let done = DispatchSemaphore(value: 0)
        queue.add {
            body()
            done.signal()
        }
        return done.wait(timeout: .now() + timeout) == .success
    }
}
