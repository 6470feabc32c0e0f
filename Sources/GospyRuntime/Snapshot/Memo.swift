import Synchronization

/// A thread-safe table of values computed once per key, shared by copies of the struct that
/// holds it: a million goroutines share a few hundred PCs and stacks.
final class Memo<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = Mutex(())
    private var table: [Key: Value] = [:]
    /// Bounds tables whose keys are not few.
    private let limit: Int

    init(limit: Int = .max) {
        self.limit = limit
    }

    /// The value for `key`, computed once (outside the lock: computing may consult other
    /// tables, or this one, again).
    func value(_ key: Key, _ compute: () -> Value) -> Value {
        var hit: Value?
        lock.withLock { _ in hit = table[key] }
        if let hit { return hit }
        let value = compute()
        lock.withLock { _ in
            if table.count < limit { table[key] = value }
        }
        return value
    }
}
