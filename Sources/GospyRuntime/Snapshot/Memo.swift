import Foundation

/// A thread-safe table of values computed once per key, shared by copies of the struct that
/// holds it: a million goroutines share a few hundred PCs and stacks.
final class Memo<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var table: [Key: Value] = [:]
    /// Bounds tables whose keys are not few.
    private let limit: Int

    init(limit: Int = .max) {
        self.limit = limit
    }

    /// The value for `key`, computed once (outside the lock: computing may consult other
    /// tables, or this one, again).
    func value(_ key: Key, _ compute: () -> Value) -> Value {
        lock.lock()
        if let hit = table[key] {
            lock.unlock()
            return hit
        }
        lock.unlock()
        let value = compute()
        lock.lock()
        if table.count < limit { table[key] = value }
        lock.unlock()
        return value
    }
}
