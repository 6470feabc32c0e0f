#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread-safe table of values computed once per key, shared by copies of the struct that
/// holds it: a million goroutines share a few hundred PCs and stacks.
final class Memo<Key: Hashable, Value>: @unchecked Sendable {
    /// Readers share it: threads walking or rendering stacks look the same few keys up for
    /// every goroutine, and a lock they each took in turn was contended (a futex wait per miss).
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private var table: [Key: Value] = [:]
    /// Bounds tables whose keys are not few.
    private let limit: Int

    init(limit: Int = .max) {
        self.limit = limit
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        // Default attributes cannot fail to initialize (EAGAIN/ENOMEM are for other resources).
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deinitialize(count: 1)
        lock.deallocate()
    }

    /// The value for `key`, computed once (outside the lock: computing may consult other
    /// tables, or this one, again).
    func value(_ key: Key, _ compute: () -> Value) -> Value {
        pthread_rwlock_rdlock(lock)
        let hit = table[key]
        pthread_rwlock_unlock(lock)
        if let hit { return hit }
        let value = compute()
        pthread_rwlock_wrlock(lock)
        if table.count < limit { table[key] = value }
        pthread_rwlock_unlock(lock)
        return value
    }
}
