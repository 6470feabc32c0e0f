import CGospyShims
#if canImport(Glibc)
import Glibc
#endif

/// Plain OS threads and sleeps on pthreads: Foundation's Thread would pull full Foundation
/// (and its ICU library) into the static binary; FoundationEssentials has no threads.
public enum OSThread {
    /// Starts a detached thread named `name` (at most 15 bytes show in /proc) running `body`.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
        let threadName = String(name.prefix(15))
        let box = Unmanaged.passRetained(Body {
            _ = gospy_name_current_thread(threadName)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        // Without a thread gospy can neither trace nor resume: there is no way on.
        precondition(status == 0, "pthread_create failed: \(status)")
        pthread_detach(thread)
        return thread
    }

    /// Whether the calling thread is `thread`.
    public static func isCurrent(_ thread: pthread_t) -> Bool {
        pthread_equal(pthread_self(), thread) != 0
    }

    /// Sleeps the calling thread for `seconds` (negative or NaN: not at all), resuming after signals.
    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        let clamped = min(seconds, 86_400 * 365)
        var request = timespec(tv_sec: Int(clamped), tv_nsec: Int((clamped - clamped.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
