import GospyRuntime

/// Whether goroutines are system ones (`RuntimeImage.isSystemGoroutine`), asked of a hundred
/// thousand goroutines in a row by one thread: answered from this thread's own table, by
/// start PC and whether the goroutine runs (all the answer depends on), without the image's
/// locked memo table per goroutine; the last answer first, as most goroutines share both.
final class SystemGoroutines {
    private struct Key: Hashable {
        let startPC: UInt64
        let runningOrRunnable: Bool
    }

    let image: RuntimeImage
    private let known = LocalMemo<Key, Bool>()
    private var last: (key: Key, system: Bool)?

    init(image: RuntimeImage) {
        self.image = image
    }

    func contains(_ goroutine: Goroutine) -> Bool {
        let key = Key(startPC: goroutine.startPC,
                      runningOrRunnable: goroutine.status == .running || goroutine.status == .runnable)
        if let last, last.key == key { return last.system }
        let system = known.value(key) { image.isSystemGoroutine(goroutine) }
        last = (key, system)
        return system
    }
}
