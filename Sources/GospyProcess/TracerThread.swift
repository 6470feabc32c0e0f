import Foundation

/// One dedicated OS thread that runs every ptrace call: the kernel binds a tracee to the thread
/// that attached it, so all later requests (interrupt, wait, registers, detach) must come from
/// that same thread. GCD queues do not promise a fixed thread; this does.
final class TracerThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var thread: Thread?

    init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "gospy-tracer"
        self.thread = thread
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Runs `body` on the tracer thread and waits for its result.
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        if Thread.current === thread { return try body() }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<T, Error>?
        condition.lock()
        jobs.append {
            result = Result { try body() }
            done.signal()
        }
        condition.signal()
        condition.unlock()
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
        condition.lock()
        jobs.append {
            body()
            done.signal()
        }
        condition.signal()
        condition.unlock()
        return done.wait(timeout: .now() + timeout) == .success
    }
}
