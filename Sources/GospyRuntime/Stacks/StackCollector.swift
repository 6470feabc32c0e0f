import GospyBinary

/// Unwinds many goroutines at once: the top of every stack is read in one batched gather,
/// deeper parts only when a walk needs them.
public struct StackCollector {
    public let image: RuntimeImage
    public let memory: MemoryReader
    /// Bytes read up front from each goroutine's SP (most parked stacks are shallower).
    public static let prefetch: UInt64 = 1024
    /// Bytes read in the second pass for stacks the first did not cover.
    public static let deepRead: UInt64 = 256 << 10
    /// Goroutines per gather, bounding memory for a million goroutines.
    public static let batch = 32_768

    /// A running goroutine's thread registers (pc, sp), when the target is stopped.
    public typealias Registers = (pc: UInt64, sp: UInt64)

    public init(image: RuntimeImage, memory: MemoryReader) {
        self.image = image
        self.memory = memory
    }

    /// Where a goroutine's stack walk starts, as the runtime's traceback chooses it.
    func start(of goroutine: Goroutine, registers: Registers?) -> (pc: UInt64, sp: UInt64, trapped: Bool, syscall: Bool, origin: String) {
        if goroutine.status == .running, let registers,
           registers.sp >= goroutine.stackLo, registers.sp < goroutine.stackHi {
            return (registers.pc, registers.sp, true, false, "registers")
        }
        let inSyscall = image.executable.version.atLeast(1, 21)
            ? goroutine.syscallSP != 0 : goroutine.status == .syscall
        if inSyscall {
            return (goroutine.syscallPC, goroutine.syscallSP, false, true, "syscall")
        }
        return (goroutine.schedPC, goroutine.schedSP, false, false,
                goroutine.status == .running ? "sched (running: saved state may be stale)" : "sched")
    }

    /// One stack per goroutine, in the same order.
    public func collect(_ goroutines: [Goroutine], registers: (Goroutine) -> Registers? = { _ in nil }) -> [UnwoundStack] {
        let unwinder = StackUnwinder(image: image)
        var result: [UnwoundStack] = []
        result.reserveCapacity(goroutines.count)
        var position = 0
        while position < goroutines.count {
            let slice = goroutines[position..<min(goroutines.count, position + Self.batch)]
            let starts = slice.map { start(of: $0, registers: registers($0)) }
            let ranges = zip(slice, starts).map { goroutine, start -> MemoryRange in
                guard start.sp >= goroutine.stackLo, start.sp < goroutine.stackHi else { return MemoryRange(address: start.sp, size: 0) }
                return MemoryRange(address: start.sp, size: Int(min(goroutine.stackHi - start.sp, Self.prefetch)))
            }
            // First pass: the top of every stack; a walk that needs more is redone after a
            // second batched read of the deeper parts, so deep stacks cost no syscall each.
            let first = memory.gather(ranges: ranges)
            var stacks: [UnwoundStack] = []
            var deep: [Int] = []
            for (index, (goroutine, start)) in zip(slice, starts).enumerated() {
                var missed = false
                let stack = unwinder.unwind(
                    pc: start.pc, sp: start.sp, stackLo: goroutine.stackLo, stackHi: goroutine.stackHi,
                    trapped: start.trapped, fromSyscall: start.syscall, origin: start.origin
                ) { address in
                    if let word = first.u64(index, at: address) { return word }
                    missed = true
                    return nil
                }
                stacks.append(stack)
                if missed { deep.append(index) }
            }
            if !deep.isEmpty {
                let deepRanges = deep.map { index -> MemoryRange in
                    let goroutine = slice[slice.startIndex + index]
                    let sp = starts[index].sp
                    return MemoryRange(address: sp, size: Int(min(goroutine.stackHi &- sp, Self.deepRead)))
                }
                let second = memory.gather(ranges: deepRanges)
                for (slot, index) in deep.enumerated() {
                    let goroutine = slice[slice.startIndex + index]
                    let start = starts[index]
                    stacks[index] = unwinder.unwind(
                        pc: start.pc, sp: start.sp, stackLo: goroutine.stackLo, stackHi: goroutine.stackHi,
                        trapped: start.trapped, fromSyscall: start.syscall, origin: start.origin
                    ) { address in
                        second.u64(slot, at: address) ?? (try? memory.fetch(UInt64.self, from: address))
                    }
                }
            }
            result.append(contentsOf: stacks)
            position += slice.count
        }
        return result
    }
}
