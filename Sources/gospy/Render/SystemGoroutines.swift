import GospyRuntime

/// Whether goroutines are system ones (`RuntimeImage.isSystemGoroutine`), asked of a hundred
/// thousand goroutines in a row: answered from this thread's own table, by start PC and
/// status (all the answer depends on), without the image's locked memo table per goroutine;
/// the last answer first, as most goroutines share both.
struct SystemGoroutines {
    private struct Key: Hashable {
        let startPC: UInt64
        let status: GoroutineStatus
    }

    let image: RuntimeImage
    private var known: [Key: Bool] = [:]
    private var last: (key: Key, system: Bool)?

    init(image: RuntimeImage) {
        self.image = image
    }

    mutating func contains(_ goroutine: Goroutine) -> Bool {
        let key = Key(startPC: goroutine.startPC, status: goroutine.status)
        if let last, last.key == key { return last.system }
        let system: Bool
        if let answer = known[key] {
            system = answer
        } else {
            system = image.isSystemGoroutine(goroutine)
            known[key] = system
        }
        last = (key, system)
        return system
    }
}
