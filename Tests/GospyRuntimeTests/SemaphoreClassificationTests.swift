@testable import GospyRuntime
import Testing

/// Which object a semaphore belongs to, from the wait reason (1.21+) or, where the reason is
/// only "semacquire" (1.19 for all, 1.21–1.23 for WaitGroup), from the frames above it.
@Suite struct SemaphoreClassificationTests {
    typealias Case = (reason: String, functions: [String]?, kind: SyncObjectKind, role: SyncWaitRole, offset: UInt64)

    static let cases: [Case] = [
        // 1.21+: the reason says, except a Mutex inside an RWMutex.
        ("sync.Mutex.Lock", ["internal/sync.runtime_SemacquireMutex", "internal/sync.(*Mutex).lockSlow", "internal/sync.(*Mutex).Lock",
                             "sync.(*Mutex).Lock", "main.work"], .mutex, .lock, 4),
        ("sync.Mutex.Lock", ["sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow", "sync.(*Mutex).Lock", "sync.(*RWMutex).Lock",
                             "main.write"], .rwMutex, .lock, 4),
        ("sync.RWMutex.Lock", nil, .rwMutex, .lockWaitingForReaders, 8),
        ("sync.RWMutex.RLock", nil, .rwMutex, .readLock, 12),
        ("sync.WaitGroup.Wait", nil, .waitGroup, .wait, 8),
        // 1.19: all "semacquire"; the first caller past the semaphore functions says.
        ("semacquire", ["runtime.gopark", "runtime.semacquire1", "sync.runtime_SemacquireMutex", "sync.(*Mutex).lockSlow",
                        "sync.(*Mutex).Lock", "main.work"], .mutex, .lock, 4),
        ("semacquire", ["sync.runtime_SemacquireMutex", "sync.(*RWMutex).RLock", "main.read"], .rwMutex, .readLock, 12),
        ("semacquire", ["sync.runtime_SemacquireMutex", "sync.(*RWMutex).Lock", "main.write"], .rwMutex, .lockWaitingForReaders, 8),
        ("semacquire", ["sync.runtime_Semacquire", "sync.(*WaitGroup).Wait", "main.wait"], .waitGroup, .wait, 8),
        // Anything else is the semaphore word itself; without frames nothing is guessed.
        ("semacquire", ["internal/poll.runtime_Semacquire", "internal/poll.(*fdMutex).rwlock", "main.read"], .semaphore, .acquire, 0),
        ("semacquire", nil, .semaphore, .acquire, 0),
    ]

    @Test(arguments: cases.indices)
    func objectFromReasonAndFrames(index: Int) {
        let item = Self.cases[index]
        let (kind, role, offset) = SemaphoreWaitReader.classify(reason: item.reason, functions: item.functions)
        #expect(kind == item.kind && role == item.role && offset == item.offset,
                "\(item.reason) \(item.functions ?? []): \(kind) \(role) \(offset)")
    }
}
