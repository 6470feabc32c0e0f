import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Resumes any stopped target when gospy is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT),
/// then exits with 128 + the signal. The signals are blocked in every thread and taken by one
/// waiting thread, so the resume runs as ordinary code, not inside a signal handler.
public enum EmergencyResume {
    nonisolated(unsafe) private static var active: [ObjectIdentifier: ProcessStopper] = [:]
    private static let lock = Mutex(())
    nonisolated(unsafe) private static var cleanups: [() -> Void] = []
    nonisolated(unsafe) private static var installed = false

    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// Call once, early in main, before other threads start (they inherit the blocked mask).
    public static func install() {
        let first = lock.withLock { _ in
            defer { installed = true }
            return !installed
        }
        guard first else { return }
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        OSThread.start(name: "gospy-signals") {
            var caught: Int32 = 0
            var waitSet = blocked
            while true {
                while sigwait(&waitSet, &caught) != 0 {}
                // A command that ends cleanly on a signal (record writes what it sampled)
                // takes the first one; the next one exits as usual.
                var interrupt: ((Int32) -> Void)?
                lock.withLock { _ in
                    interrupt = interruptHandler
                    interruptHandler = nil
                }
                if let interrupt, caught != SIGQUIT {
                    interrupt(caught)
                    continue
                }
                handle(signal: caught)
            }
        }
    }

    nonisolated(unsafe) private static var interruptHandler: ((Int32) -> Void)?

    /// Instead of exiting on the next SIGINT, SIGTERM or SIGHUP, call `body` (from the signal
    /// thread): the command finishes on its own. A second signal exits as usual.
    public static func onNextInterrupt(_ body: @escaping (Int32) -> Void) {
        lock.withLock { _ in interruptHandler = body }
    }

    /// Extra work to do before exiting on a signal (restoring the terminal, say).
    public static func addCleanup(_ body: @escaping () -> Void) {
        lock.withLock { _ in cleanups.append(body) }
    }

    static func register(_ stopper: ProcessStopper) {
        lock.withLock { _ in active[ObjectIdentifier(stopper)] = stopper }
    }

    static func unregister(_ stopper: ProcessStopper) {
        lock.withLock { _ in active[ObjectIdentifier(stopper)] = nil }
    }

    private static func handle(signal: Int32) {
        let (stoppers, work) = lock.withLock { _ in (Array(active.values), cleanups) }
        for stopper in stoppers { stopper.emergencyResume() }
        for cleanup in work { cleanup() }
        _exit(128 + signal)
    }
}
