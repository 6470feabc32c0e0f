import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One dedicated OS thread that runs every ptrace call: the kernel binds a tracee to the thread
/// that attached it, so all later requests (interrupt, wait, registers, detach) must come from
/// that same thread. GCD queues do not promise a fixed thread; this does. The thread ends when
/// its owner lets go of it, so repeated snapshots never pile up threads.
final class TracerThread: @unchecked Sendable {
    /// The jobs and the thread's loop; the thread holds only this, never the TracerThread,
    /// so that dropping the TracerThread can end the loop.
    private final class JobQueue: @unchecked Sendable {
        private let lock = Mutex(())
        /// One signal per job added, and one for `finish`.
        private let wakeups = DispatchSemaphore(value: 0)
        private var jobs: [() -> Void] = []

        func run() {
            while true {
                wakeups.wait()
                // Jobs come first: finish's signal is the last one taken, with the queue empty.
                guard let job = lock.withLock({ _ in jobs.isEmpty ? nil : jobs.removeFirst() }) else { return }
                job()
            }
        }

        func add(_ job: @escaping () -> Void) {
            lock.withLock { _ in jobs.append(job) }
            wakeups.signal()
        }

        /// Lets the loop end once the queued jobs are done.
        func finish() {
            wakeups.signal()
        }
    }

    private let queue = JobQueue()
    private let thread: pthread_t

    init() {
        let queue = self.queue
        thread = OSThread.start(name: "gospy-tracer") { queue.run() }
    }

    deinit { queue.finish() }

    /// Runs `body` on the tracer thread and waits for its result.
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        if OSThread.isCurrent(thread) { return try body() }
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
    func sync(timeout: Double, _ body: @escaping () -> Void) -> Bool {
        if OSThread.isCurrent(thread) {
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
