import GospyBinary
import GospyMemory

/// What kind of sync object a goroutine waits on.
public enum SyncObjectKind: String, Sendable, Equatable, CaseIterable {
    case mutex = "sync.Mutex"
    case rwMutex = "sync.RWMutex"
    case waitGroup = "sync.WaitGroup"
    case cond = "sync.Cond"
    /// A semaphore word of something else (internal/poll's fdMutex, the runtime's own, ...).
    case semaphore = "semaphore"
}

/// How a goroutine waits on its sync object.
public enum SyncWaitRole: String, Sendable, Equatable {
    /// Mutex.Lock, or RWMutex.Lock behind another writer (on the RWMutex's inner Mutex).
    case lock = "Lock"
    /// RWMutex.Lock with the writer lock taken, waiting for the readers to leave.
    case lockWaitingForReaders = "Lock (waiting for readers)"
    /// RWMutex.RLock behind a pending writer.
    case readLock = "RLock"
    /// WaitGroup.Wait, Cond.Wait.
    case wait = "Wait"
    /// A bare semaphore acquire.
    case acquire = "acquire"
}

/// One goroutine's wait on a sync object.
public struct SyncWait: Sendable, Equatable {
    public let kind: SyncObjectKind
    public let role: SyncWaitRole
    /// The object's address, as fmt's %p prints it (the Mutex, RWMutex, WaitGroup or Cond; the
    /// semaphore word itself for a bare semaphore).
    public let object: UInt64
    /// The word the goroutine is queued on: the semaphore, or the Cond's notifyList.
    public let queue: UInt64
    /// 1 = the next one woken; nil when the queue could not be walked to it.
    public let position: Int?
}

/// Reads what each goroutine blocked on a semaphore (sync.Mutex, RWMutex, WaitGroup, other
/// semaphores), on a sync.Cond, or in time.Sleep waits on: semaphores from runtime.semtable's
/// treaps (each tree node a semaphore address, its waiters chained through waitlink in wake
/// order), a Cond from its notifyList (found through g.waiting from 1.26, before that through
/// the argument of sync.runtime_notifyListWait and confirmed by finding the goroutine in the
/// list), a sleep from g.sleepWhen (1.23+) or g.timer.when. Read while the target runs: a
/// goroutine that changed meanwhile is reported as unknown, never guessed.
public struct SemaphoreWaitReader {
    /// runtime.semTabSize; each entry a semaRoot padded to a cache line.
    static let tableSize = 251
    static let tableStride = 64
    /// Sudogs on a Cond's list, a semaphore's chain, or in the treaps: at most one per goroutine.
    let maxNodes: Int

    let image: RuntimeImage
    let reader: MemoryReader
    let symbolizer: Symbolizer?
    let sudogSize: Int
    let sudogG: Int, sudogNext: Int, sudogPrev: Int, sudogElem: Int, sudogWaitlink: Int
    let semaTreap: Int
    let g: RuntimeLayout.GLayout
    let gTimer: Int?, gSleepWhen: Int?, timerWhen: Int?
    let notifyHead: Int?, notifyNext: Int

    public init(image: RuntimeImage, reader: MemoryReader, symbolizer: Symbolizer?) throws(LayoutError) {
        self.image = image
        self.reader = reader
        self.symbolizer = symbolizer
        let layout = image.layout
        let s = "runtime.sudog"
        sudogSize = try layout.size(of: s)
        sudogG = try layout.offset(s, "g")
        sudogNext = try layout.offset(s, "next")
        sudogPrev = try layout.offset(s, "prev")
        if let pair = layout.optionalOffset(s, "elem.vu") { sudogElem = pair } else { sudogElem = try layout.offset(s, "elem") }
        sudogWaitlink = try layout.offset(s, "waitlink")
        semaTreap = try layout.offset("runtime.semaRoot", "treap")
        g = try layout.g
        gTimer = layout.optionalOffset("runtime.g", "timer")
        gSleepWhen = layout.optionalOffset("runtime.g", "sleepWhen")
        timerWhen = layout.optionalOffset("runtime.timer", "when")
        notifyHead = layout.optionalOffset("runtime.notifyList", "head")
        notifyNext = sudogNext
        maxNodes = 1 << 22
    }

    public struct Result: Sendable {
        /// By goroutine address: `.sync` or `.sleep` (or `.unknown`) for the goroutines this reads.
        public var objects: [UInt64: WaitObject] = [:]
    }

    /// How a wait reason says to read the wait.
    enum Plan {
        case semaphore(reason: String), cond, sleep
    }

    static func plan(_ text: String) -> Plan? {
        if text == "sleep" { return .sleep }
        if text.hasPrefix("sync.Cond.Wait") { return .cond }
        for reason in ["semacquire", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock", "sync.WaitGroup.Wait"]
        where text.hasPrefix(reason) {
            return .semaphore(reason: reason)
        }
        return nil
    }

    /// Whether `read` looks at the stack of a waiting (or leaked) goroutine with this wait
    /// reason (a semaphore or Cond waiter): the only stacks a caller needs to hand it.
    public static func readsStack(reason text: String) -> Bool {
        switch plan(text) {
        case .semaphore, .cond: return true
        case .sleep, nil: return false
        }
    }

    /// `stacks`: the goroutines' unwound stacks by goroutine address (a semacquire's object kind
    /// and, before 1.26, a Cond's list are read from them; without them those are left unknown
    /// or reported as bare semaphores).
    public func read(_ goroutines: [Goroutine], stacks: [UInt64: UnwoundStack] = [:]) -> Result {
        var result = Result()
        var semaphoreWaiters: [(Goroutine, String)] = []
        var condWaiters: [Goroutine] = []
        var sleepers: [Goroutine] = []
        for goroutine in goroutines where goroutine.status == .waiting || goroutine.status == .leaked {
            guard let text = goroutine.waitReasonText, let plan = Self.plan(text) else { continue }
            switch plan {
            case let .semaphore(reason): semaphoreWaiters.append((goroutine, reason))
            case .cond: condWaiters.append(goroutine)
            case .sleep: sleepers.append(goroutine)
            }
        }
        let all = semaphoreWaiters.map(\.0) + condWaiters + sleepers
        guard !all.isEmpty else { return result }
        let before = readGoroutineWords(all)

        if !semaphoreWaiters.isEmpty {
            let queues = readSemaphoreTable(limit: goroutines.count)
            for (goroutine, reason) in semaphoreWaiters {
                result.objects[goroutine.address] = semaphoreObject(goroutine, reason: reason, queues, stacks[goroutine.address])
            }
        }
        if !condWaiters.isEmpty {
            for (address, object) in condObjects(condWaiters, stacks: stacks, limit: goroutines.count) {
                result.objects[address] = object
            }
        }
        for (address, object) in sleepObjects(sleepers) { result.objects[address] = object }

        // Anything that moved meanwhile may have left what was read for it.
        let after = readGoroutineWords(all)
        for goroutine in all where before[goroutine.address] == nil || before[goroutine.address] != after[goroutine.address] {
            result.objects[goroutine.address] = .unknown(reason: "it moved while its wait was read")
        }
        return result
    }

    // MARK: - Consistency

    /// The g words from atomicstatus through waiting (and trackingSeq, which changes at every
    /// run): equal before and after means the goroutine did not run in between.
    private func readGoroutineWords(_ goroutines: [Goroutine]) -> [UInt64: [UInt8]] {
        let start = g.atomicstatus
        let end = max(g.waiting + 8, g.waitreason + 1, (g.trackingSeq ?? 0) + 1)
        let records = reader.gather(goroutines.map { $0.address &+ UInt64(start) }, size: end - start)
        let indexOf = Self.indexes(records)
        var words: [UInt64: [UInt8]] = [:]
        for goroutine in goroutines {
            guard let index = indexOf[goroutine.address &+ UInt64(start)] else { continue }
            let status = records.u32(index, 0).flatMap { GoroutineStatus(rawValue: $0 & ~0x1000) }
            guard status == goroutine.status, records.u8(index, g.waitreason - start) == goroutine.waitReason else { continue }
            words[goroutine.address] = (0..<(end - start)).compactMap { records.u8(index, $0) }
        }
        return words
    }

    /// Record index by address (a reader may return the records in another order), valid ones only.
    static func indexes(_ records: GatheredMemory) -> [UInt64: Int] {
        var result: [UInt64: Int] = [:]
        for (index, address) in records.addresses.enumerated() where records.valid[index] { result[address] = index }
        return result
    }

    // MARK: - Semaphores

    /// Where one goroutine's sudog sits: the semaphore it is queued on and its place (1-based).
    struct QueuePlace {
        let semaphore: UInt64
        let position: Int
        let sudog: UInt64
    }

    struct SudogRecord {
        let address: UInt64
        let g: UInt64, elem: UInt64, next: UInt64, prev: UInt64, waitlink: UInt64
    }

    private func readSudogs(_ addresses: [UInt64]) -> [UInt64: SudogRecord] {
        let records = reader.gather(addresses, size: sudogSize)
        var result: [UInt64: SudogRecord] = [:]
        for (index, address) in records.addresses.enumerated() where records.valid[index] {
            guard let g = records.u64(index, sudogG), let elem = records.u64(index, sudogElem),
                  let next = records.u64(index, sudogNext), let prev = records.u64(index, sudogPrev),
                  let waitlink = records.u64(index, sudogWaitlink) else { continue }
            result[address] = SudogRecord(address: address, g: g, elem: elem, next: next, prev: prev, waitlink: waitlink)
        }
        return result
    }

    /// Walks every treap of runtime.semtable, a round of batched reads per tree level and per
    /// chain depth; by goroutine address. `limit` bounds the sudogs (one per goroutine).
    func readSemaphoreTable(limit: Int) -> [UInt64: QueuePlace] {
        var places: [UInt64: QueuePlace] = [:]
        guard let table = try? image.address(of: .semtable),
              let bytes = try? reader.fetchBytes(from: table, count: Self.tableSize * Self.tableStride) else { return places }
        let view = ByteView(bytes: bytes)
        var frontier: [UInt64] = []
        for index in 0..<Self.tableSize {
            if let root = try? view.u64(at: index * Self.tableStride + semaTreap), root != 0 { frontier.append(root) }
        }
        let bound = min(maxNodes, limit + 1024)
        var visited = Set<UInt64>()
        var treeNodes: [SudogRecord] = []
        // The trees, breadth first.
        while !frontier.isEmpty, visited.count < bound {
            let fresh = frontier.filter { visited.insert($0).inserted }
            let records = readSudogs(fresh)
            var next: [UInt64] = []
            for address in fresh {
                guard let record = records[address], record.elem != 0 else { continue }
                treeNodes.append(record)
                for child in [record.prev, record.next] where child != 0 && !visited.contains(child) { next.append(child) }
            }
            frontier = next
        }
        // Each node heads its semaphore's queue; the rest follow through waitlink.
        var chains: [(semaphore: UInt64, position: Int, sudog: UInt64)] = treeNodes.map { ($0.elem, 1, $0.address) }
        var pending = treeNodes.map { (semaphore: $0.elem, position: 1, record: $0) }
        while !pending.isEmpty, visited.count < bound {
            let links = pending.compactMap { item -> (UInt64, Int, UInt64)? in
                let link = item.record.waitlink
                guard link != 0, visited.insert(link).inserted else { return nil }
                return (item.semaphore, item.position + 1, link)
            }
            let records = readSudogs(links.map(\.2))
            pending = []
            for (semaphore, position, address) in links {
                // A waiter of the same semaphore, or the chain changed under us: stop there.
                guard let record = records[address], record.elem == semaphore else { continue }
                chains.append((semaphore, position, address))
                pending.append((semaphore, position, record))
            }
        }
        let goroutineOf = readSudogs(chains.map(\.sudog))
        for (semaphore, position, sudog) in chains {
            guard let record = goroutineOf[sudog], record.elem == semaphore, record.g != 0 else { continue }
            places[record.g] = QueuePlace(semaphore: semaphore, position: position, sudog: sudog)
        }
        return places
    }

    private func semaphoreObject(_ goroutine: Goroutine, reason: String, _ queues: [UInt64: QueuePlace],
                                 _ stack: UnwoundStack?) -> WaitObject {
        var semaphore: UInt64
        var position: Int?
        if let place = queues[goroutine.address] {
            // From 1.26 g.waiting names the sudog too: they must agree.
            if goroutine.waiting != 0, goroutine.waiting != place.sudog {
                return .unknown(reason: "g.waiting disagrees with the semaphore table")
            }
            semaphore = place.semaphore
            position = place.position
        } else if goroutine.waiting != 0, let record = readSudogs([goroutine.waiting])[goroutine.waiting],
                  record.g == goroutine.address, record.elem != 0 {
            semaphore = record.elem
        } else {
            return .unknown(reason: "not found in the semaphore table")
        }
        let functions = stack.flatMap { stack in symbolizer.map { $0.logicalFrames(stack).map(\.function) } }
        let (kind, role, offset) = Self.classify(reason: reason, functions: functions)
        guard semaphore >= offset else { return .unknown(reason: "semaphore address 0x\(String(semaphore, radix: 16))") }
        return .sync(SyncWait(kind: kind, role: role, object: semaphore - offset, queue: semaphore, position: position))
    }

    /// The object a semaphore belongs to: its kind, the role of the waiter, and the semaphore's
    /// offset inside it. From the wait reason where it says (1.21+), else from the frames that
    /// called the semaphore (all a 1.19 semacquire says); without frames, a bare semaphore.
    /// Mutex{state, sema}; RWMutex{w Mutex, writerSem, readerSem, ...}; WaitGroup{state, sema}.
    static func classify(reason: String, functions: [String]?) -> (SyncObjectKind, SyncWaitRole, UInt64) {
        // The first frames past the runtime's and sync's semaphore functions.
        let callers = (functions ?? []).filter {
            !$0.hasPrefix("runtime.") && !$0.contains("runtime_Semacquire") && !$0.contains(".runtime_notifyList")
        }
        func isMutexFrame(_ name: String) -> Bool { name.hasPrefix("sync.(*Mutex).") || name.hasPrefix("internal/sync.(*Mutex).") }
        let mutexOrRW: (SyncObjectKind, SyncWaitRole, UInt64) = {
            // A writer queued behind another writer waits on the RWMutex's inner Mutex (at 0).
            let outer = callers.first { !isMutexFrame($0) }
            return outer == "sync.(*RWMutex).Lock" ? (.rwMutex, .lock, 4) : (.mutex, .lock, 4)
        }()
        switch reason {
        case "sync.Mutex.Lock": return mutexOrRW
        case "sync.RWMutex.Lock": return (.rwMutex, .lockWaitingForReaders, 8)
        case "sync.RWMutex.RLock": return (.rwMutex, .readLock, 12)
        case "sync.WaitGroup.Wait": return (.waitGroup, .wait, 8)
        default: break
        }
        guard let first = callers.first else { return (.semaphore, .acquire, 0) }
        if isMutexFrame(first) { return mutexOrRW }
        switch first {
        case "sync.(*RWMutex).Lock": return (.rwMutex, .lockWaitingForReaders, 8)
        case "sync.(*RWMutex).RLock": return (.rwMutex, .readLock, 12)
        case "sync.(*WaitGroup).Wait": return (.waitGroup, .wait, 8)
        default: return (.semaphore, .acquire, 0)
        }
    }

    // MARK: - Cond

    /// sync.Cond{L Locker, notify notifyList, ...}: the list is 16 bytes in.
    static let condNotifyOffset: UInt64 = 16

    private func condObjects(_ waiters: [Goroutine], stacks: [UInt64: UnwoundStack], limit: Int) -> [UInt64: WaitObject] {
        var objects: [UInt64: WaitObject] = [:]
        guard let notifyHead else {
            for goroutine in waiters { objects[goroutine.address] = .unknown(reason: "no notifyList layout") }
            return objects
        }
        // The list each waiter names: g.waiting's elem (1.26+), else notifyListWait's argument.
        var lists: [UInt64: UInt64] = [:]
        let sudogs = readSudogs(waiters.map(\.waiting).filter { $0 != 0 })
        for goroutine in waiters {
            if goroutine.waiting != 0 {
                if let record = sudogs[goroutine.waiting], record.g == goroutine.address, record.elem != 0 {
                    lists[goroutine.address] = record.elem
                }
            } else if let stack = stacks[goroutine.address], let list = notifyListArgument(stack) {
                lists[goroutine.address] = list
            }
        }
        // Each list once, from its head through next, in wake order.
        var places: [UInt64: [UInt64: Int]] = [:]  // list -> goroutine -> position
        for list in Set(lists.values) {
            guard let head = try? reader.fetchPointer(from: list &+ UInt64(notifyHead)) else { continue }
            var current = head
            var position = 0
            var seen = Set<UInt64>()
            var order: [UInt64: Int] = [:]
            while current != 0, position < min(maxNodes, limit + 1), seen.insert(current).inserted {
                guard let record = readSudogs([current])[current] else { break }
                position += 1
                order[record.g] = position
                current = record.next
            }
            places[list] = order
        }
        for goroutine in waiters {
            guard let list = lists[goroutine.address] else {
                objects[goroutine.address] = .unknown(reason: "its notifyList could not be found")
                continue
            }
            // The goroutine must be in the list it names: that confirms the argument read.
            guard let position = places[list]?[goroutine.address], list >= Self.condNotifyOffset else {
                objects[goroutine.address] = .unknown(reason: "not found in the Cond's notifyList")
                continue
            }
            objects[goroutine.address] = .sync(SyncWait(kind: .cond, role: .wait, object: list - Self.condNotifyOffset,
                                                        queue: list, position: position))
        }
        return objects
    }

    /// The first argument of the sync.runtime_notifyListWait frame (the notifyList), read from
    /// its spill slot as the runtime's own traceback prints it.
    private func notifyListArgument(_ stack: UnwoundStack) -> UInt64? {
        guard let symbolizer else { return nil }
        for frame in stack.frames.prefix(8) {
            guard symbolizer.logicalFrames(at: frame).last?.rawName == "sync.runtime_notifyListWait",
                  let plan = symbolizer.argumentPlan(at: frame), let argpOffset = plan.argpOffset else { continue }
            for item in plan.layout.items {
                guard case let .word(offset, size, _) = item, size == 8 else { continue }
                return try? reader.fetchPointer(from: frame.sp &+ argpOffset &+ UInt64(offset))
            }
        }
        return nil
    }

    // MARK: - Sleep

    private func sleepObjects(_ sleepers: [Goroutine]) -> [UInt64: WaitObject] {
        var objects: [UInt64: WaitObject] = [:]
        guard !sleepers.isEmpty else { return objects }
        if let gSleepWhen {
            let records = reader.gather(sleepers.map { $0.address &+ UInt64(gSleepWhen) }, size: 8)
            let indexOf = Self.indexes(records)
            for goroutine in sleepers {
                if let index = indexOf[goroutine.address &+ UInt64(gSleepWhen)], let when = records.u64(index, 0), when != 0, when < 1 << 63 {
                    objects[goroutine.address] = .sleep(until: Int64(when))
                } else {
                    objects[goroutine.address] = .unknown(reason: "g.sleepWhen unreadable")
                }
            }
            return objects
        }
        guard let gTimer, let timerWhen else {
            for goroutine in sleepers { objects[goroutine.address] = .unknown(reason: "no timer layout") }
            return objects
        }
        let timers = reader.gather(sleepers.map { $0.address &+ UInt64(gTimer) }, size: 8)
        let timerIndex = Self.indexes(timers)
        var timerOf: [UInt64: UInt64] = [:]
        for goroutine in sleepers {
            if let index = timerIndex[goroutine.address &+ UInt64(gTimer)], let timer = timers.u64(index, 0), timer != 0 {
                timerOf[goroutine.address] = timer
            }
        }
        let addresses = Array(Set(timerOf.values))
        let whens = reader.gather(addresses.map { $0 &+ UInt64(timerWhen) }, size: 8)
        let whenIndex = Self.indexes(whens)
        var whenOf: [UInt64: Int64] = [:]
        for timer in addresses {
            if let index = whenIndex[timer &+ UInt64(timerWhen)], let when = whens.u64(index, 0), when != 0, when < 1 << 63 {
                whenOf[timer] = Int64(when)
            }
        }
        for goroutine in sleepers {
            if let timer = timerOf[goroutine.address], let when = whenOf[timer] {
                objects[goroutine.address] = .sleep(until: when)
            } else {
                objects[goroutine.address] = .unknown(reason: "g.timer unreadable")
            }
        }
        return objects
    }
}
