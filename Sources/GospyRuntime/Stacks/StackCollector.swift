import Dispatch
import GospyBinary
import GospyMemory

/// Unwinds many goroutines at once. The used part of every stack is read in batched gathers
/// while the target is stopped; the walks happen afterwards, from those bytes.
public struct StackCollector {
    public let symbolizer: Symbolizer
    public let memory: MemoryReader
    /// Goroutines per gather, bounding memory for a million goroutines.
    public static let batch = 32_768

    /// A running goroutine's thread registers (pc, sp), when the target is stopped.
    public typealias Registers = (pc: UInt64, sp: UInt64)

    /// When set, stacks are read and walked only until it passes (the rest are marked).
    public let deadline: SnapshotDeadline?

    public init(symbolizer: Symbolizer, memory: MemoryReader, deadline: SnapshotDeadline? = nil) {
        self.symbolizer = symbolizer
        self.memory = memory
        self.deadline = deadline
    }

    /// What the target's threads say about a goroutine while it is stopped: its M's registers
    /// (running goroutines), and the VDSO call its M is in, if any.
    public struct ThreadContext: Sendable {
        public var registers: Registers?
        public var vdso: Registers?
        public init(registers: Registers? = nil, vdso: Registers? = nil) {
            self.registers = registers
            self.vdso = vdso
        }
    }

    /// Where a goroutine's stack walk starts, as the runtime's traceback chooses it: inside a
    /// VDSO call the caller's saved SP and return PC (the thread itself is on g0's stack, in
    /// code without Go frame data), else a running goroutine's registers, else the state saved
    /// at its last syscall or switch.
    func start(of goroutine: StackExtent, context: ThreadContext) -> (pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String) {
        if let vdso = context.vdso, vdso.sp >= goroutine.stackLo, vdso.sp < goroutine.stackHi {
            return (vdso.pc, vdso.sp, false, false, "vdso")
        }
        if goroutine.status == .running, let registers = context.registers,
           registers.sp >= goroutine.stackLo, registers.sp < goroutine.stackHi {
            return (registers.pc, registers.sp, true, false, "registers")
        }
        if symbolizer.isInSyscall(status: goroutine.status, syscallSP: goroutine.syscallSP) {
            return (goroutine.syscallPC, goroutine.syscallSP, false, true, "syscall")
        }
        return (goroutine.schedPC, goroutine.schedSP, false, false,
                goroutine.status == .running ? "sched (running: saved state may be stale)" : "sched")
    }

    /// The bytes a stack walk needs, taken while the target is stopped: each goroutine's used
    /// stack [sp, hi) (the walk never reads above hi), and where its walk starts. Indexed like
    /// the extents it was captured from; `unwind` finds each goroutine by its g's address.
    public struct CapturedStacks: Sendable {
        let addresses: [UInt64]
        let index: AddressIndex
        let starts: [(pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String)]
        let batches: [GatheredRanges]
        /// Stacks walked as each batch was read (`capture(walking:)`), whose bytes are gone;
        /// nil when `batches` holds the bytes to walk later.
        var walked: [UnwoundStack]?
        /// Captures voided after the fact (their g changed after the capture).
        var void: [Bool] = []

        init(addresses: [UInt64], starts: [(pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String)],
             batches: [GatheredRanges], walked: [UnwoundStack]? = nil) {
            self.addresses = addresses
            index = AddressIndex(addresses)
            self.starts = starts
            self.batches = batches
            self.walked = walked
        }

        public static let empty = CapturedStacks(addresses: [], starts: [], batches: [])

        /// The goroutines captured.
        public var count: Int { addresses.count }

        /// Where goroutine `address`'s capture is, unless there is none or it was voided.
        func slot(of address: UInt64) -> Int? {
            guard let slot = index.position(of: address), void.isEmpty || !void[slot] else { return nil }
            return slot
        }

        /// The same captures less those of `stale` goroutines (their g changed after the capture).
        public func removing(_ stale: [UInt64]) -> CapturedStacks {
            guard !stale.isEmpty, !addresses.isEmpty else { return self }
            var copy = self
            if copy.void.isEmpty { copy.void = [Bool](repeating: false, count: addresses.count) }
            for address in stale {
                if let slot = index.position(of: address) { copy.void[slot] = true }
            }
            return copy
        }
    }

    /// Used stack bytes read per goroutine at most; a deeper stack's walk reads the rest live.
    public static let captureLimit: UInt64 = 1 << 20

    /// Reads every goroutine's used stack in batched gathers (call while the target is stopped).
    /// With `walking`, each batch is walked as soon as it is read and its bytes dropped (with
    /// `arguments`, each frame's argument words read too): a walk depends only on the bytes
    /// and the extent, so a capture whose g later validates unchanged walks to the same stack
    /// now as after the target resumed, and a million stacks' bytes are never held at once.
    public func capture(_ extents: [StackExtent], walking: Bool = false, arguments: Bool = false,
                        context: (StackExtent) -> ThreadContext? = { _ in nil }) -> CapturedStacks {
        let starts = extents.map { start(of: $0, context: context($0) ?? ThreadContext()) }
        if walking { return captureWalking(extents, starts: starts, arguments: arguments) }
        var batches: [GatheredRanges] = []
        var position = 0
        // Past the deadline the rest are not read: `unwind` marks them.
        while position < extents.count, deadline?.expired != true {
            let end = min(extents.count, position + Self.batch)
            batches.append(memory.gather(ranges: Self.ranges(extents, starts, position..<end)))
            position = end
        }
        return CapturedStacks(addresses: extents.prefix(position).map(\.address), starts: Array(starts.prefix(position)),
                              batches: batches)
    }

    /// Goroutines per gather when each batch is walked as it is read: small enough that one
    /// buffer per thread, reused, stays paged in and in cache (a fresh buffer's page faults
    /// cost more than the copy).
    static let walkingBatch = 4_096
    /// Threads reading and walking stacks at once: the kernel's copy and the walks both scale
    /// with cores, and the target is not stopped meanwhile.
    static let maxWalkingThreads = 4

    /// `capture(walking: true)`: batches read and walked by up to `maxWalkingThreads` threads,
    /// each with its own reader and buffer; the result is in `extents` order, cut after the
    /// last batch read before the deadline.
    private func captureWalking(_ extents: [StackExtent], starts: [(pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String)],
                                arguments: Bool) -> CapturedStacks {
        let batches = (extents.count + Self.walkingBatch - 1) / Self.walkingBatch
        let workers = extents.count >= 2 * Self.walkingBatch
            ? max(1, min(SnapshotReader.processors, Self.maxWalkingThreads, batches)) : 1
        let readers = (0..<workers).map { $0 == 0 ? memory : memory.readerForAnotherThread() }
        let positions = { (batch: Int) in (batch * Self.walkingBatch)..<min(extents.count, (batch + 1) * Self.walkingBatch) }
        var done = [Bool](repeating: false, count: batches)
        // Each stack is walked straight into its place in the result: no copy of a million
        // stacks (and their retains, contended between threads) to put the batches together.
        let walked = [UnwoundStack](unsafeUninitializedCapacity: extents.count) { buffer, initialized in
            done.withUnsafeMutableBufferPointer { done in
                nonisolated(unsafe) let (buffer, done, readers) = (buffer, done, readers)
                let work = { (worker: Int) in
                    let reader = readers[worker]
                    let unwinder = StackUnwinder(symbolizer: symbolizer)
                    var batch = worker
                    while batch < batches, deadline?.expired != true {
                        let range = positions(batch)
                        let gathered = reader.gather(ranges: Self.ranges(extents, starts, range))
                        for index in range {
                            (buffer.baseAddress! + index).initialize(to: walk(
                                unwinder, start: starts[index], stackLo: extents[index].stackLo, stackHi: extents[index].stackHi,
                                batch: gathered, slot: index - range.lowerBound, arguments: arguments, memory: reader))
                        }
                        reader.recycle(gathered.bytes)
                        done[batch] = true
                        batch += workers
                    }
                }
                nonisolated(unsafe) let job = work
                if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers) { job($0) } }
                // The batches walked before the deadline, up to the first one that was not;
                // those walked after that gap are dropped.
                let prefix = done.firstIndex(of: false) ?? batches
                initialized = min(extents.count, prefix * Self.walkingBatch)
                for batch in prefix..<batches where done[batch] {
                    let range = positions(batch)
                    (buffer.baseAddress! + range.lowerBound).deinitialize(count: range.count)
                }
            }
        }
        return CapturedStacks(addresses: extents.prefix(walked.count).map(\.address), starts: [], batches: [], walked: walked)
    }

    /// The used stack [sp, hi) of each goroutine in `positions` (capped at `captureLimit`;
    /// empty where the walk's start is not on its stack).
    private static func ranges(_ extents: [StackExtent], _ starts: [(pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String)],
                               _ positions: Range<Int>) -> [MemoryRange] {
        positions.map { index -> MemoryRange in
            let extent = extents[index]
            let sp = starts[index].sp
            guard sp >= extent.stackLo, sp < extent.stackHi else { return MemoryRange(address: sp, size: 0) }
            return MemoryRange(address: sp, size: Int(min(extent.stackHi - sp, captureLimit)))
        }
    }

    /// One goroutine's walk from its captured bytes (live memory beyond them).
    private func walk(_ unwinder: StackUnwinder, start: (pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String),
                      stackLo: UInt64, stackHi: UInt64, batch: GatheredRanges, slot: Int, arguments: Bool,
                      memory: MemoryReader) -> UnwoundStack {
        // A local function, not a closure value: handed on as non-escaping, its context stays
        // on the stack (the closure value's was allocated once per goroutine).
        func word(_ address: UInt64) -> UInt64? {
            batch.u64(slot, at: address) ?? (try? memory.fetch(UInt64.self, from: address))
        }
        var stack = unwinder.unwind(
            pc: start.pc, sp: start.sp, stackLo: stackLo, stackHi: stackHi,
            trapped: start.trapped, fromSyscall: start.syscall, origin: start.origin, word: word)
        if arguments { symbolizer.readArguments(of: &stack, arena: unwinder.argumentArena, word: word) }
        return stack
    }

    /// Walks the captured stacks (after the target has been resumed), in `goroutines` order.
    /// Only a stack deeper than `captureLimit` reads live memory, for its part beyond the
    /// capture; a goroutine that was not captured gets an empty stack that says so.
    /// With `arguments`, each frame's argument words are read too (for tracebacks).
    /// With several captures, a goroutine's first capture found, in `captured` order, counts.
    public func unwind(_ goroutines: [Goroutine], _ captured: CapturedStacks, arguments: Bool = false) -> [UnwoundStack] {
        unwind(goroutines, [captured], arguments: arguments)
    }

    public func unwind(_ goroutines: [Goroutine], _ captures: [CapturedStacks], arguments: Bool = false) -> [UnwoundStack] {
        var captures = captures
        return unwind(goroutines, taking: &captures, arguments: arguments)
    }

    /// What a capture's slot holds once its stack was taken: one shared value, not a new
    /// (allocated) empty stack per goroutine.
    private static let taken = UnwoundStack(frames: [], end: .truncated("stack taken twice"), origin: "none")

    /// `unwind`, moving each stack walked when read out of `captures` (which hold none
    /// afterwards) instead of copying it: pass captures the caller no longer holds elsewhere,
    /// or their stacks are copied once anyway.
    public func unwind(_ goroutines: [Goroutine], taking captures: inout [CapturedStacks], arguments: Bool = false) -> [UnwoundStack] {
        let unwinder = StackUnwinder(symbolizer: symbolizer)
        return goroutines.map { goroutine in
            var found: (set: Int, index: Int)?
            for (set, captured) in captures.enumerated() {
                if let index = captured.slot(of: goroutine.address) {
                    found = (set, index)
                    break
                }
            }
            if let deadline, deadline.expired {
                deadline.recordCut(read: found != nil)
                return UnwoundStack(frames: [], end: .truncated(found == nil ? SnapshotDeadline.notRead : SnapshotDeadline.notWalked),
                                    origin: "none")
            }
            guard let (set, index) = found else {
                return UnwoundStack(frames: [], end: .truncated("stack not captured"), origin: "none")
            }
            // Walked when read, from the same extent (a capture that still counts is of a g
            // whose stack bounds validated unchanged). Each slot is taken at most once: a g
            // appears once in a snapshot.
            if captures[set].walked != nil {
                var stack = Self.taken
                swap(&stack, &captures[set].walked![index])
                return stack
            }
            let captured = captures[set]
            return walk(unwinder, start: captured.starts[index], stackLo: goroutine.stackLo, stackHi: goroutine.stackHi,
                        batch: captured.batches[index / Self.batch], slot: index % Self.batch, arguments: arguments,
                        memory: memory)
        }
    }

    /// Walks a running goroutine's stack from a sample of its thread (perf events): the trap
    /// PC and SP, with the copy of the stack taken at that instant, and the live stack above
    /// the copy. Nil when the sample was not in that goroutine's Go code (its SP outside the
    /// goroutine's stack: on g0 or a signal stack; its PC in no Go function: VDSO, C): such a
    /// sample does not show where the goroutine is.
    public func unwind(_ goroutine: Goroutine, sampledPC pc: UInt64, sp: UInt64, stackCopy: [UInt8],
                       origin: String = "perf sample") -> UnwoundStack? {
        guard sp >= goroutine.stackLo, sp < goroutine.stackHi, symbolizer.frameInfo(pc) != nil else { return nil }
        let copied = UInt64(stackCopy.count)
        let word = { (address: UInt64) -> UInt64? in
            if address >= sp, address - sp <= copied, copied - (address - sp) >= 8 {
                let offset = Int(address - sp)
                var value: UInt64 = 0
                for byte in 0..<8 { value |= UInt64(stackCopy[offset + byte]) << (8 * UInt64(byte)) }
                return value
            }
            return try? memory.fetch(UInt64.self, from: address)
        }
        return StackUnwinder(symbolizer: symbolizer).unwind(
            pc: pc, sp: sp, stackLo: goroutine.stackLo, stackHi: goroutine.stackHi,
            trapped: true, fromSyscall: false, origin: origin, word: word)
    }
}
