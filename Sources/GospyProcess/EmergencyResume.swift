import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Resumes any stopped target when gospy is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT),
/// then exits with 128 + the signal. The signals are blocked in every thread and taken by one
/// waiting thread, so the resume runs as ordinary code, not inside a signal handler.
public enum EmergencyResume {
    nonisolated(unsafe) private static var active: [ObjectIdentifier: ProcessStopper] = [:]
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cleanups: [() -> Void] = []
    nonisolated(unsafe) private static var installed = false

    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// Call once, early in main, before other threads start (they inherit the blocked mask).
    public static func install() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        let waiter = Thread {
            var caught: Int32 = 0
            var waitSet = blocked
            while true {
                while sigwait(&waitSet, &caught) != 0 {}
                // A command that ends cleanly on a signal (record writes what it sampled)
                // takes the first one; the next one exits as usual.
                lock.lock()
                let interrupt = interruptHandler
                interruptHandler = nil
                lock.unlock()
                if let interrupt, caught != SIGQUIT {
                    interrupt(caught)
                    continue
                }
                handle(signal: caught)
            }
        }
        waiter.name = "gospy-signals"
        waiter.start()
    }

    nonisolated(unsafe) private static var interruptHandler: ((Int32) -> Void)?

    /// Instead of exiting on the next SIGINT, SIGTERM or SIGHUP, call `body` (from the signal
    /// thread): the command finishes on its own. A second signal exits as usual.
    public static func onNextInterrupt(_ body: @escaping (Int32) -> Void) {
        lock.lock()
        interruptHandler = body
        lock.unlock()
    }

    /// Extra work to do before exiting on a signal (restoring the terminal, say).
    public static func addCleanup(_ body: @escaping () -> Void) {
        lock.lock()
        cleanups.append(body)
        lock.unlock()
    }

    static func register(_ stopper: ProcessStopper) {
        lock.lock()
        active[ObjectIdentifier(stopper)] = stopper
        lock.unlock()
    }

    static func unregister(_ stopper: ProcessStopper) {
        lock.lock()
        active[ObjectIdentifier(stopper)] = nil
        lock.unlock()
    }

    private static func handle(signal: Int32) {
        lock.lock()
        let stoppers = Array(active.values)
        let work = cleanups
        lock.unlock()
        for stopper in stoppers { stopper.emergencyResume() }
        for cleanup in work { cleanup() }
        _exit(128 + signal)
    }
}
