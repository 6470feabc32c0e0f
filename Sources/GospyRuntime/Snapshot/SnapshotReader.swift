import Dispatch
import FoundationEssentials
import GospyBinary
import GospyMemory
#if canImport(Glibc)
import Glibc
#endif

/// Reads goroutines, Ps, Ms and scheduler state from a process's memory through any
/// `MemoryReader`. With the target stopped every read is coherent; without (`consistent:
/// false`) each goroutine is validated, inconsistent ones re-read a bounded number of times,
/// and the rest counted as unreadable instead of being guessed.
public struct SnapshotReader {
    public let image: RuntimeImage
    public let memory: MemoryReader
    /// Upper bounds that keep a damaged runtime from making gospy allocate without end.
    public static let maxGoroutines = 50_000_000
    public static let maxMachines = 100_000
    public static let maxProcessors = 1 << 16
    /// allgs pointers read per read (4 MB).
    static let allgsChunk = 1 << 19

    public init(image: RuntimeImage, memory: MemoryReader) {
        self.image = image
        self.memory = memory
    }

    /// What must be read while the target is stopped; decoding can wait until it runs again.
    public struct RawSnapshot: Sendable {
        /// Every g of allgs, as bytes,
        fileprivate var records: GatheredMemory?
        /// which of `records` still hold at the stop (nil: all of them; see `validate`) or
        /// passed their checks in a read that never stopped (`collect(consistent: false)`), and
        fileprivate var keep: [Bool]?
        /// the records re-read while stopped because they had changed (see `validate`).
        fileprivate var fresh: GatheredMemory?
        fileprivate var unreadable: Int
        fileprivate var retried: Int
        fileprivate var processors: [Processor]
        public fileprivate(set) var machines: [Machine]
        fileprivate var scheduler: SchedulerState?
        fileprivate var heap: HeapStatistics?
        fileprivate var gomaxprocs: Int32
        fileprivate var monotonicNow: Int64
        fileprivate var tracebackLabels: TracebackLabelsSetting = .notInRelease
        /// The g pointers in allgs order.
        fileprivate var allgs: [UInt64] = []
        /// How `validate` judged the records read while the target ran.
        public fileprivate(set) var validation: ValidationCounts?

        /// Every g as `collect` read it (blocking reads).
        public var readRecords: GatheredMemory? { records }

        /// Which of `readRecords` still stood at the stop (nil: not validated, all of them).
        public var standingRecords: [Bool]? { keep }

        /// The whole records `validate` re-read while stopped.
        public var rereadRecords: GatheredMemory? { fresh }

        /// The gs `validate` re-read while stopped (their earlier records and stacks are void).
        public var rereadAddresses: [UInt64] { fresh?.addresses ?? [] }
    }

    /// What validating a snapshot read while the target ran found, for --verbose.
    public struct ValidationCounts: Sendable, Equatable {
        /// gs in allgs at the stop.
        public var goroutines = 0
        /// Unchanged since they were read while running: their records and stacks stand.
        public var unchanged = 0
        /// Re-read while stopped: their validation bytes differed,
        public var changed = 0
        /// they were not in allgs (or unreadable) when read while running,
        public var added = 0
        /// or they are running or in a system call (their stacks can change without their g).
        public var active = 0
        /// Bytes of each g compared.
        public var comparedBytes = 0
        public var reread: Int { changed + added + active }
    }

    public func read(consistent: Bool = true, retries: Int = 3) throws -> RuntimeSnapshot {
        try decode(collect(consistent: consistent, retries: retries))
    }

    /// Reads the runtime's state. With `consistent` (the target stopped) only raw bytes are
    /// taken, to keep the pause short; otherwise each g record is checked as decode will check
    /// it and one that fails is re-read up to `retries` times. Without `scheduling`, only the gs (for
    /// a read `validate` completes while stopped).
    public func collect(consistent: Bool = true, retries: Int = 3, scheduling: Bool = true) throws -> RawSnapshot {
        let g = try image.layout.g
        let (pointers, plausible) = try readAllgs()
        var raw = RawSnapshot(
            records: nil, keep: nil, fresh: nil, unreadable: pointers.count - plausible.count, retried: 0,
            processors: [], machines: [], scheduler: nil, heap: nil, gomaxprocs: 0, monotonicNow: Self.monotonicNow(), allgs: plausible)
        // On every core (up to the validation's limit): a large target's gs are most of
        // this read.
        var records = memory.gather(plausible, shape: Self.recordShape(g), threads: min(Self.processors, Self.maxValidationThreads))
        if !consistent {
            let checked = recheck(&records, g, retries: retries)
            raw.keep = checked.keep
            raw.unreadable += checked.unreadable
            raw.retried = checked.retried
        }
        raw.records = records
        if scheduling { readScheduling(into: &raw) }
        return raw
    }

    /// A read while the target runs, record by record: a record that fails decode's checks
    /// (its g read while it changed) is read again, in its place, up to `retries` times.
    /// `keep` leaves out those that never passed (nil when every record did).
    private func recheck(_ records: inout GatheredMemory, _ g: RuntimeLayout.GLayout,
                         retries: Int) -> (keep: [Bool]?, unreadable: Int, retried: Int) {
        var pending = (0..<records.count).filter { if case .unreadable = check(records, $0, g) { true } else { false } }
        var retried = 0
        var attempt = 0
        while !pending.isEmpty, attempt < retries {
            attempt += 1
            retried += pending.count
            let again = memory.gather(pending.map { records.addresses[$0] }, shape: records.shape, threads: 1)
            var still: [Int] = []
            for (position, index) in pending.enumerated() {
                records.replaceRecord(index, with: again, position)
                if case .unreadable = check(records, index, g) { still.append(index) }
            }
            pending = still
        }
        guard !pending.isEmpty else { return (nil, 0, retried) }
        var keep = [Bool](repeating: true, count: records.count)
        for index in pending { keep[index] = false }
        return (keep, pending.count, retried)
    }

    /// GOMAXPROCS, the Ps, the Ms, the scheduler's counters and the heap and GC figures.
    private func readScheduling(into raw: inout RawSnapshot) {
        raw.heap = readHeapStatistics()
        raw.gomaxprocs = (try? memory.fetch(Int32.self, from: try image.address(of: .gomaxprocs))) ?? 0
        raw.processors = (try? readProcessors()) ?? []
        raw.machines = (try? readMachines()) ?? []
        raw.scheduler = try? readScheduler()
        raw.tracebackLabels = readTracebackLabels()
    }

    /// The runtime's tracebacklabels setting, or why it cannot be read.
    public func readTracebackLabels() -> TracebackLabelsSetting {
        switch image.tracebackLabels {
        case .notInRelease: return .notInRelease
        case let .notFound(reason): return .unreadable(reason)
        case let .found(address, _):
            do {
                return .value(try memory.fetch(Int32.self, from: address &+ image.loadBias))
            } catch {
                return .unreadable("\(error)")
            }
        }
    }

    /// allgs as the runtime publishes it: every pointer, and the plausible ones in order.
    /// allglen before allgptr: allgadd publishes the array before the length, so this order
    /// gives a consistent prefix even while goroutines are being created.
    private func readAllgs() throws -> (all: [UInt64], plausible: [UInt64]) {
        let length = try memory.fetch(UInt64.self, from: try image.address(of: .allglen))
        let array = try memory.fetchPointer(from: try image.address(of: .allgptr))
        guard length <= UInt64(Self.maxGoroutines) else {
            throw SnapshotError.implausible("allglen is \(length)")
        }
        // In chunks: a damaged allglen must fail at the first unreadable chunk, not allocate
        // a buffer for all it claims first.
        var pointers: [UInt64] = []
        var start = 0
        while start < Int(length) {
            let count = min(Int(length) - start, Self.allgsChunk)
            let view = try memory.fetchView(from: array &+ UInt64(start) * 8, count: count * 8)
            pointers.append(contentsOf: (0..<count).map { (try? view.u64(at: $0 * 8)) ?? 0 })
            start += count
        }
        return (pointers, pointers.filter { $0 != 0 && $0 % 8 == 0 })
    }

    /// How `validate` will read: which readers (one per thread) with buffers paged in. Make it
    /// before the stop: paging in buffers while the target is stopped would lengthen the pause.
    public struct ValidationPlan {
        /// At least one; the first is the snapshot's own reader.
        let readers: [MemoryReader]
    }

    public func planValidation() -> ValidationPlan {
        guard let g = try? image.layout.g,
              let length = try? memory.fetch(UInt64.self, from: try image.address(of: .allglen)),
              length <= UInt64(Self.maxGoroutines) else { return ValidationPlan(readers: [memory]) }
        let size = Self.validationSize(g)
        // Room for goroutines created before the stop.
        let expected = Int(length) + Int(length) / 8 + 1024
        let chunks = (expected + Self.validationChunk - 1) / Self.validationChunk
        let workers = Int(length) >= Self.parallelValidationThreshold
            ? max(1, min(Self.processors, Self.maxValidationThreads, chunks)) : 1
        let readers = (0..<workers).map { $0 == 0 ? memory : memory.readerForAnotherThread() }
        for reader in readers { reader.reserve(bytes: min(expected, Self.validationChunk) * size) }
        return ValidationPlan(readers: readers)
    }

    /// Checks a snapshot `collect`ed while the target ran against the target as it is now
    /// (call while it is stopped): re-reads allgs and the first `validationSize` bytes of every
    /// g, and compares its `validatedFields`: the fields a walk and a header depend on, and
    /// `trackingSeq`, which the runtime bumps whenever a goroutine stops running. A g whose
    /// fields are identical has not run since: its record and its stack, read while it ran,
    /// stand. Every other g (new, changed, unreadable before, or running or in a system call
    /// now) is re-read whole while stopped.
    /// The result decodes to exactly what a snapshot read wholly while stopped decodes to.
    public func validate(_ early: RawSnapshot, plan: ValidationPlan) throws -> RawSnapshot {
        let g = try image.layout.g
        let (pointers, plausible) = try readAllgs()
        let compared = Self.validatedFields(g)
        let before = early.records ?? GatheredMemory(addresses: [], recordSize: Self.recordSize(g))
        let beforeIndex = AddressIndex(before.addresses)
        var keep = [Bool](repeating: false, count: before.count)
        var stale: [UInt64] = []
        var counts = ValidationCounts(goroutines: plausible.count, comparedBytes: compared.comparedBytes)
        let check = { (now: GatheredMemory) -> ChunkCheck in
            Self.check(now, against: before, standing: early.keep, index: beforeIndex, g: g, compared: compared)
        }
        // In chunks through one paged-in buffer per thread; with several threads (a large
        // target) on every core: the target is stopped and its cores idle, and the kernel's
        // copy is the whole cost of this pause.
        let chunks = (plausible.count + Self.validationChunk - 1) / Self.validationChunk
        let readers = plan.readers
        let workers = min(readers.count, max(1, chunks))
        var results = [ChunkCheck?](repeating: nil, count: chunks)
        results.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            nonisolated(unsafe) let readers = readers
            nonisolated(unsafe) let check = check
            let work = { (worker: Int) in
                var chunk = worker
                while chunk < chunks {
                    let start = chunk * Self.validationChunk
                    let end = min(plausible.count, start + Self.validationChunk)
                    let now = readers[worker].gather(Array(plausible[start..<end]), size: compared.span)
                    slots[chunk] = check(now)
                    readers[worker].recycle(now.bytes)
                    chunk += workers
                }
            }
            nonisolated(unsafe) let job = work
            if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { job($0) } }
        }
        for result in results { result?.merge(into: &keep, &stale, &counts) }
        var raw = early
        raw.keep = keep
        raw.fresh = memory.gather(stale, size: Self.recordSize(g))
        raw.unreadable = pointers.count - plausible.count
        raw.allgs = plausible
        raw.monotonicNow = Self.monotonicNow()
        readScheduling(into: &raw)
        raw.validation = counts
        return raw
    }

    /// What validating one gather of g prefixes found.
    struct ChunkCheck {
        var counts = ValidationCounts()
        /// Positions in the earlier records that still stand.
        var standing: [Int] = []
        /// gs to re-read whole.
        var stale: [UInt64] = []

        func merge(into keep: inout [Bool], _ allStale: inout [UInt64], _ total: inout ValidationCounts) {
            for position in standing { keep[position] = true }
            allStale.append(contentsOf: stale)
            total.unchanged += counts.unchanged
            total.changed += counts.changed
            total.added += counts.added
            total.active += counts.active
        }
    }

    /// Threads that validate at once, at most.
    public static let maxValidationThreads = 4
    /// Below this many gs one thread validates: starting others costs more than it saves.
    public static let parallelValidationThreshold = 65_536
    /// Read once: ProcessInfo reads cgroup files each time.
    /// The CPUs gospy may use: how many threads read and walk at once.
    public static let processors = ProcessInfo.processInfo.activeProcessorCount

    /// Compares each g of `now` (validation prefixes read while stopped) with its record read
    /// while running.
    static func check(_ now: GatheredMemory, against before: GatheredMemory, standing: [Bool]?, index: AddressIndex,
                      g: RuntimeLayout.GLayout, compared: RecordComparison) -> ChunkCheck {
        var result = ChunkCheck()
        let unchanged = RecordMatcher(before, now, by: compared)
        for position in 0..<now.count {
            let address = now.addresses[position]
            guard let status = now.u32(position, g.atomicstatus).flatMap({ GoroutineStatus(rawValue: $0 & ~0x1000) }) else {
                result.counts.added += 1
                result.stale.append(address)  // unreadable now: re-read whole, and decode says so
                continue
            }
            if status.isDead { continue }
            // On a thread now: its stack moves without its g changing, and the walk starts from
            // the thread's registers or VDSO state, which only a stopped target shows.
            if status == .running || status == .syscall || (now.u64(position, g.m) ?? 0) != 0 {
                result.counts.active += 1
                result.stale.append(address)
                continue
            }
            guard let previous = index.position(of: address), standing?[previous] ?? true, before.valid[previous] else {
                result.counts.added += 1
                result.stale.append(address)
                continue
            }
            if unchanged.matches(previous, position) {
                result.standing.append(previous)
                result.counts.unchanged += 1
            } else {
                result.counts.changed += 1
                result.stale.append(address)
            }
        }
        return result
    }

    /// Records decoded per thread at least: below twice this, `decode` uses one thread.
    public static let decodePartMinimum = 16_384

    /// Turns raw bytes into goroutines (run after the target has been resumed).
    /// `partMinimum`: records per thread at least (tests set it low to decode in parts).
    public func decode(_ raw: RawSnapshot, partMinimum: Int = decodePartMinimum) throws -> RuntimeSnapshot {
        // Decoded straight in id order, each goroutine written once, instead of decoded in
        // address order and then moved into id order.
        let decoded = decodeInIDOrder(raw.recordSets, try image.layout.g, partMinimum: partMinimum)
        var goroutines = decoded.goroutines
        var unreadable = raw.unreadable + decoded.unreadable
        unreadable += Self.removeRepeatedGs(&goroutines)
        return RuntimeSnapshot(
            goroutines: goroutines, processors: raw.processors, machines: raw.machines, scheduler: raw.scheduler,
            gomaxprocs: raw.gomaxprocs, monotonicNow: raw.monotonicNow, unreadableGoroutines: unreadable,
            retries: raw.retried, allgs: raw.allgs, tracebackLabels: raw.tracebackLabels, heap: raw.heap)
    }

    /// The standing records of `sets` decoded in id order (`recordsByID`), into one array: in
    /// parts on several threads when there are many (decoding a million records is tens of
    /// milliseconds after the target resumed), each part written straight to its place, then
    /// the parts closed up over the dead and unreadable records between them.
    func decodeInIDOrder(_ sets: [(GatheredMemory, [Bool]?)], _ g: RuntimeLayout.GLayout,
                         partMinimum: Int) -> (goroutines: [Goroutine], unreadable: Int) {
        let keys = Self.recordsByID(sets, g)
        let parts = max(1, min(Self.processors, Self.maxValidationThreads, keys.count / max(1, partMinimum)))
        // Per part: live goroutines written, unreadable records.
        var written = [Int](repeating: 0, count: parts)
        var unreadable = [Int](repeating: 0, count: parts)
        let goroutines = [Goroutine](unsafeUninitializedCapacity: keys.count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            written.withUnsafeMutableBufferPointer { written in
                unreadable.withUnsafeMutableBufferPointer { unreadable in
                    // Each part writes only its own range of the buffer and its own counts.
                    nonisolated(unsafe) let (base, written, unreadable) = (base, written, unreadable)
                    let work = { (part: Int) in
                        let start = part * keys.count / parts
                        var count = 0
                        // The set's records taken once per run of keys in it, not once per key:
                        // both threads retaining and releasing the same buffers per record
                        // fight over their reference counts.
                        var recordsSet = -1
                        var records = GatheredMemory(addresses: [], recordSize: 0)
                        for (_, set, index) in keys[start..<((part + 1) * keys.count / parts)] {
                            if Int(set) != recordsSet {
                                recordsSet = Int(set)
                                records = sets[recordsSet].0
                            }
                            switch decodeGoroutine(records, Int(index), g) {
                            case .live(let goroutine):
                                (base + start + count).initialize(to: goroutine)
                                count += 1
                            case .dead: break
                            case .unreadable: unreadable[part] += 1
                            }
                        }
                        written[part] = count
                    }
                    nonisolated(unsafe) let job = work
                    if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts) { job($0) } }
                }
            }
            // Close up: each part's goroutines moved down to follow the previous part's.
            var end = written[0]
            for part in 1..<parts {
                let start = part * keys.count / parts
                if start != end { (base + end).moveInitialize(from: base + start, count: written[part]) }
                end += written[part]
            }
            initialized = end
        }
        return (goroutines, unreadable.reduce(0, +))
    }

    /// The standing records of `sets` as (set, index), in the order `sortByID` would leave
    /// their goroutines: by goid (as recorded; a dead or unreadable record decodes to nothing
    /// wherever it sorts), equal ids in set and record order.
    static func recordsByID(_ sets: [(GatheredMemory, [Bool]?)], _ g: RuntimeLayout.GLayout) -> [(id: UInt64, set: Int32, index: Int32)] {
        var keys: [(id: UInt64, set: Int32, index: Int32)] = []
        keys.reserveCapacity(sets.reduce(0) { $0 + $1.0.count })
        for (set, (records, keep)) in sets.enumerated() {
            for index in 0..<records.count where keep?[index] ?? true {
                keys.append((records.u64(index, g.goid) ?? 0, Int32(set), Int32(index)))
            }
        }
        keys.sort { ($0.id, $0.set, $0.index) < ($1.id, $1.set, $1.index) }
        return keys
    }

    /// Drops all but the first of goroutines with the same g address (goroutines sorted by id,
    /// so repeats are in one run of equal ids): allgs never lists a g twice, so a repeat is
    /// damage, counted as unreadable rather than shown as another goroutine. Returns how many.
    static func removeRepeatedGs(_ goroutines: inout [Goroutine]) -> Int {
        var write = 0
        var runStart = 0
        var removed = 0
        for read in goroutines.indices {
            let id = goroutines[read].id
            if write == 0 || goroutines[write - 1].id != id {
                runStart = write
            } else if goroutines[runStart..<write].contains(where: { $0.address == goroutines[read].address }) {
                removed += 1
                continue
            }
            if write != read { goroutines[write] = goroutines[read] }
            write += 1
        }
        goroutines.removeLast(goroutines.count - write)
        return removed
    }

    /// The fields stack walks need, for every live goroutine (call while the target is stopped:
    /// decoding only these keeps the pause short; `decode` does the rest afterwards).
    /// `which` picks the records: all that stand, only those re-read while stopped, or (for a
    /// snapshot read while running) only the parked ones, whose stacks can be read before the
    /// stop.
    public func stackExtents(_ raw: RawSnapshot, _ which: ExtentSelection = .all) throws -> [StackExtent] {
        let g = try image.layout.g
        var extents: [StackExtent] = []
        let sets = which == .reread ? (raw.fresh.map { [($0, nil)] } ?? []) : raw.recordSets
        extents.reserveCapacity(sets.reduce(0) { $0 + $1.0.count })
        for (records, keep) in sets {
            for index in 0..<records.count where keep?[index] ?? true {
                // Only gs decode will keep: the same checks (a dead or implausible g has no stack to read).
                guard case let .live(status, _, _, stackLo, stackHi) = check(records, index, g) else { continue }
                let address = records.addresses[index]
                let m = records.u64(index, g.m) ?? 0
                if which == .parked && (status == .running || status == .syscall || m != 0) { continue }
                extents.append(StackExtent(
                    address: address, status: status, m: m,
                    schedPC: records.u64(index, g.schedPC) ?? 0, schedSP: records.u64(index, g.schedSP) ?? 0,
                    syscallPC: records.u64(index, g.syscallpc) ?? 0, syscallSP: records.u64(index, g.syscallsp) ?? 0,
                    stackLo: stackLo, stackHi: stackHi))
            }
        }
        return extents
    }

    public enum ExtentSelection: Sendable {
        /// Every live goroutine the snapshot holds.
        case all
        /// Only the goroutines `validate` re-read while stopped.
        case reread
        /// Goroutines on no thread: neither running nor in a system call (read while the
        /// target runs; `validate` re-reads the others while stopped).
        case parked
    }

    /// What one g record holds.
    private enum DecodedRecord {
        case live(Goroutine)
        /// A g on the free list (_Gdead).
        case dead
        /// Unreadable, or inconsistent (read while it changed).
        case unreadable
    }

    /// What decode makes of record `index` before reading the rest: whether it is a plausible
    /// live g (its sched.g points back at it, a known status, an id, stack bounds in order).
    /// Decode, the stack extents and the re-reads of a read that never stopped all ask this.
    private enum RecordCheck {
        case unreadable
        case dead
        case live(status: GoroutineStatus, scanning: Bool, id: UInt64, stackLo: UInt64, stackHi: UInt64)
    }

    private func check(_ records: GatheredMemory, _ index: Int, _ g: RuntimeLayout.GLayout) -> RecordCheck {
        guard let rawStatus = records.u32(index, g.atomicstatus),
              let schedG = records.u64(index, g.schedG), schedG == records.addresses[index] else { return .unreadable }
        guard let status = GoroutineStatus(rawValue: rawStatus & ~0x1000) else { return .unreadable }
        if status.isDead { return .dead }
        guard let id = records.u64(index, g.goid), id > 0, id < 1 << 62,
              let stackLo = records.u64(index, g.stackLo), let stackHi = records.u64(index, g.stackHi),
              stackLo < stackHi else { return .unreadable }
        return .live(status: status, scanning: rawStatus & 0x1000 != 0, id: id, stackLo: stackLo, stackHi: stackHi)
    }

    private func decodeGoroutine(_ records: GatheredMemory, _ index: Int, _ g: RuntimeLayout.GLayout) -> DecodedRecord {
        let checked = check(records, index, g)
        guard case let .live(status, scanning, id, stackLo, stackHi) = checked else {
            if case .dead = checked { return .dead }
            return .unreadable
        }
        let address = records.addresses[index]
        let reason = records.u8(index, g.waitreason) ?? 0
        return .live(Goroutine(
            address: address, id: id, status: status, scanning: scanning,
            waitReason: reason, waitReasonText: image.waitReasonText(reason),
            waitSince: Int64(bitPattern: records.u64(index, g.waitsince) ?? 0),
            m: records.u64(index, g.m) ?? 0, lockedM: records.u64(index, g.lockedm) ?? 0,
            startPC: records.u64(index, g.startpc) ?? 0, creatorPC: records.u64(index, g.gopc) ?? 0,
            parentID: g.parentGoid.flatMap { records.u64(index, $0) },
            schedPC: records.u64(index, g.schedPC) ?? 0, schedSP: records.u64(index, g.schedSP) ?? 0,
            schedBP: records.u64(index, g.schedBP) ?? 0,
            syscallPC: records.u64(index, g.syscallpc) ?? 0, syscallSP: records.u64(index, g.syscallsp) ?? 0,
            stackLo: stackLo, stackHi: stackHi, labels: records.u64(index, g.labels) ?? 0,
            waiting: records.u64(index, g.waiting) ?? 0,
            bubble: g.bubble.flatMap { records.u64(index, $0) } ?? 0))
    }

    /// The gs at `addresses` read whole and decoded as `decode` does, in ascending address
    /// order (the order `records` holds them): nil for a g that is dead (`dead` says so),
    /// unreadable or read mid-change. For sampling rounds, which re-read only the gs that
    /// changed (`allgPointers` and a validation-prefix gather find them).
    public func readGoroutines(at addresses: [UInt64]) throws -> (records: GatheredMemory, goroutines: [Goroutine?], dead: [Bool]) {
        let g = try image.layout.g
        let records = memory.gather(addresses, size: Self.recordSize(g))
        var goroutines: [Goroutine?] = []
        var dead: [Bool] = []
        goroutines.reserveCapacity(records.count)
        dead.reserveCapacity(records.count)
        for index in 0..<records.count {
            switch decodeGoroutine(records, index, g) {
            case .live(let goroutine): goroutines.append(goroutine); dead.append(false)
            case .dead: goroutines.append(nil); dead.append(true)
            case .unreadable: goroutines.append(nil); dead.append(false)
            }
        }
        return (records, goroutines, dead)
    }

    /// allgs as the runtime publishes it, every pointer in order (0 or misaligned ones too:
    /// a g keeps its index for the life of the process, allgs only grows).
    public func allgPointers() throws -> [UInt64] { try readAllgs().all }

    public func readProcessors() throws -> [Processor] {
        let p = try image.layout.p
        let header = try image.address(of: .allp)
        let array = try memory.fetchPointer(from: header)
        let count = try memory.fetch(UInt64.self, from: header &+ 8)
        guard count <= UInt64(Self.maxProcessors) else { throw SnapshotError.implausible("len(allp) is \(count)") }
        guard count > 0 else { return [] }
        let view = try memory.fetchView(from: array, count: Int(count) * 8)
        let pointers = (0..<Int(count)).compactMap { try? view.u64(at: $0 * 8) }.filter { $0 != 0 }
        let records = memory.gather(pointers, size: p.size)
        return (0..<records.count).compactMap { index in
            guard let id = records.load(Int32.self, record: index, offset: p.id),
                  let status = records.u32(index, p.status) else { return nil }
            let head = records.u32(index, p.runqhead) ?? 0
            let tail = records.u32(index, p.runqtail) ?? 0
            let next = records.u64(index, p.runnext) ?? 0
            return Processor(
                address: records.addresses[index], id: id, status: Processor.Status(rawValue: status), rawStatus: status,
                schedtick: records.u32(index, p.schedtick) ?? 0, syscalltick: records.u32(index, p.syscalltick) ?? 0,
                m: records.u64(index, p.m) ?? 0,
                runQueueLength: Int(min(tail &- head, 256)) + (next != 0 ? 1 : 0), runNext: next)
        }
    }

    public func readMachines() throws -> [Machine] {
        let m = try image.layout.m
        var result: [Machine] = []
        var seen = Set<UInt64>()
        var next = try memory.fetchPointer(from: try image.address(of: .allm))
        while next != 0, !seen.contains(next), result.count < Self.maxMachines {
            seen.insert(next)
            let view = try memory.fetchView(from: next, count: m.size)
            result.append(Machine(
                address: next, id: try view.load(Int64.self, at: m.id),
                threadID: try view.load(Int64.self, at: m.procid),
                currentG: try view.u64(at: m.curg), p: try view.u64(at: m.p),
                spinning: try view.u8(at: m.spinning) != 0, blocked: try view.u8(at: m.blocked) != 0,
                lockedG: try view.u64(at: m.lockedg), g0: try view.u64(at: m.g0), gsignal: try view.u64(at: m.gsignal),
                vdsoSP: try view.u64(at: m.vdsoSP), vdsoPC: try view.u64(at: m.vdsoPC)))
            next = try view.u64(at: m.alllink)
        }
        return result.sorted { $0.id < $1.id }
    }

    public func readScheduler() throws -> SchedulerState {
        let s = try image.layout.schedt
        let view = try memory.fetchView(from: try image.address(of: .sched), count: s.size)
        return SchedulerState(
            goidgen: try view.u64(at: s.goidgen), idleMs: try view.i32(at: s.nmidle), idlePs: try view.i32(at: s.npidle),
            spinningMs: try view.i32(at: s.nmspinning), globalRunQueue: try view.i32(at: s.runqSize),
            gcWaiting: try view.u8(at: s.gcwaiting) != 0)
    }

    /// The fields of a g a walk and a goroutine's header read that the runtime changes while
    /// the g is parked, each as wide as it is read: decoded, and compared by validation.
    static func walkAndHeaderFields(_ g: RuntimeLayout.GLayout) -> [Range<Int>] {
        let words = [g.stackLo, g.stackHi, g.m, g.schedSP, g.schedPC, g.schedG, g.schedBP, g.syscallsp, g.syscallpc,
                     g.goid, g.waitsince] + [g.syscallbp].compactMap { $0 }
        return words.map { $0..<($0 + 8) } + [g.atomicstatus..<(g.atomicstatus + 4), g.waitreason..<(g.waitreason + 1)]
    }

    /// The fields of a g that decoding reads, each as wide as it is read.
    static func decodedFields(_ g: RuntimeLayout.GLayout) -> [Range<Int>] {
        let words = [g.lockedm, g.gopc, g.startpc, g.labels, g.waiting] + [g.parentGoid, g.bubble].compactMap { $0 }
        return walkAndHeaderFields(g) + words.map { $0..<($0 + 8) }
    }

    /// The bytes of a g that decoding uses: its prefix up to the last field read.
    public static func recordSize(_ g: RuntimeLayout.GLayout) -> Int {
        min(g.size, decodedFields(g).map(\.upperBound).max() ?? g.size)
    }

    /// What a snapshot keeps of each g read while the target runs: the bytes validation
    /// compares and those decoding reads (a million gs' other bytes, over 200 MB, are not kept).
    public static func recordShape(_ g: RuntimeLayout.GLayout) -> RecordShape {
        RecordShape(size: recordSize(g), fields: validatedFields(g).fields + decodedFields(g), gap: 0)
    }

    /// The bytes of a g that validation compares: every field a walk or a header depends on
    /// that the runtime changes while the g is parked (stack bounds, m, saved registers, status,
    /// goid, wait reason and time, and `param`, which a waker sets before it readies the g),
    /// and `trackingSeq`, which changes whenever it ran. Without `trackingSeq` in the layout,
    /// the whole record.
    public static func validatedFields(_ g: RuntimeLayout.GLayout) -> RecordComparison {
        guard let trackingSeq = g.trackingSeq else { return RecordComparison(fields: [0..<recordSize(g)]) }
        let fields = walkAndHeaderFields(g) + [g.param..<(g.param + 8), trackingSeq..<(trackingSeq + 1)]
        return RecordComparison(fields: fields.map { min($0.lowerBound, g.size)..<min($0.upperBound, g.size) })
    }

    /// The bytes of each g read while stopped to validate it: its prefix through the last
    /// compared byte (one range a g, which the kernel copies fastest).
    public static func validationSize(_ g: RuntimeLayout.GLayout) -> Int {
        validatedFields(g).span
    }

    /// gs validated per gather: bounds each thread's buffer to ~6 MB.
    public static let validationChunk = 32_768

    static func monotonicNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

extension SnapshotReader.RawSnapshot {
    /// The records that make the snapshot, with which of them stand (nil: all): those read
    /// first, then those re-read while stopped.
    fileprivate var recordSets: [(GatheredMemory, [Bool]?)] {
        var sets: [(GatheredMemory, [Bool]?)] = []
        if let records { sets.append((records, keep)) }
        if let fresh { sets.append((fresh, nil)) }
        return sets
    }
}

public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    case implausible(String)
    public var description: String {
        switch self {
        case let .implausible(what): return "the target's runtime state looks damaged: \(what)"
        }
    }
}
