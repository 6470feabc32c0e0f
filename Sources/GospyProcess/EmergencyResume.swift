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
            while sigwait(&waitSet, &caught) != 0 {}
            handle(signal: caught)
        }
        waiter.name = "gospy-signals"
        waiter.start()
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
