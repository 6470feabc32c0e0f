import GospyBinary

/// One physical frame: a PC in a function, with the SP of that frame.
public struct PhysicalFrame: Sendable, Equatable {
    /// The frame's PC in the process (a return address except for a trapped frame).
    public let pc: UInt64
    public let sp: UInt64
    /// The function's entry in the process.
    public let entry: UInt64
    /// Symbolise at `pc` itself: the innermost frame of a trap (registers of a running thread)
    /// or a frame interrupted by an injected call (sigpanic, asyncPreempt). Others use pc-1.
    public let trapped: Bool
    /// The PC a traceback looks up (runtime symPC, delve's Call next to Current): `pc` for a
    /// trapped frame, else the call instruction, pc-1. Every symbolisation and profile uses it.
    public let symbolPC: UInt64

    public init(pc: UInt64, sp: UInt64, entry: UInt64, trapped: Bool) {
        self.pc = pc
        self.sp = sp
        self.entry = entry
        self.trapped = trapped
        symbolPC = Self.symbolizationPC(pc: pc, entry: entry, trapped: trapped)
    }

    /// The one pc-1 rule: a return address is looked up at its call instruction, unless it is
    /// the function's entry (nothing precedes it) or the frame was trapped there.
    public static func symbolizationPC(pc: UInt64, entry: UInt64, trapped: Bool) -> UInt64 {
        !trapped && pc > entry ? pc - 1 : pc
    }
}

/// A goroutine's unwound stack, innermost first.
public struct UnwoundStack: Sendable, Equatable {
    public enum End: Sendable, Equatable {
        /// Reached the top of the stack (goexit, mstart, rt0_go) or a frame with no caller.
        case complete
        /// The walk could not go on; the frames up to here are real, nothing is invented.
        case truncated(String)
        /// Stopped at the frame limit.
        case limit
    }
    public var frames: FrameList
    public var end: End
    /// Where the walk started, for messages ("registers", "vdso", "syscall", "sched ...").
    public var origin: String
    /// The argument words of every physical frame in frame order, as each frame's argument
    /// layout (Symbolizer.readArguments) names them; nil when arguments were not read.
    public var argumentWords: ArgumentWords?
    /// Frames whose words could not be read (unknown frame size, or memory); frames with an
    /// unknown layout contribute no words and print "(...)" without being listed.
    public var unreadableArgumentFrames: [Int] = []

    public init(frames: FrameList, end: End, origin: String) {
        self.frames = frames
        self.end = end
        self.origin = origin
    }

    public init(frames: [PhysicalFrame], end: End, origin: String) {
        self.init(frames: FrameList(frames), end: end, origin: origin)
    }
}

/// Walks goroutine stacks the way the runtime's unwinder does on amd64: frame sizes from each
/// function's pcsp table, return addresses at fp-8, stopping at top-of-stack functions.
public struct StackUnwinder {
    public let symbolizer: Symbolizer
    public static let maxFrames = 20_000

    private let injected: Set<UInt8>
    private let cgocallback: UInt8?
    /// This unwinder's own memory of frame facts and a scratch frame list (one unwinder walks
    /// on one thread: no lock per frame, and one exact-size frame array per stack).
    private let local = Local()

    public init(symbolizer: Symbolizer) {
        self.symbolizer = symbolizer
        let ids = symbolizer.funcIDs?.values ?? [:]
        injected = Set(["sigpanic", "asyncPreempt", "debugCallV2"].compactMap { ids[$0] }.filter { $0 != 0 })
        cgocallback = ids["cgocallback"]
    }

    /// A direct-mapped table of the PCs met (in front of the symbolizer's shared, locked
    /// cache: a million stacks repeat a few hundred PCs), the frames of the walk under way,
    /// and the frame chains made so far (stacks of one shape share one).
    private final class Local {
        static let slots = 4096
        var pcs = [UInt64](repeating: 0, count: slots)
        var infos = [TracebackCache.FrameInfo?](repeating: nil, count: slots)
        var frames: [PhysicalFrame] = []
        let chains = FrameChainInterner()
        let arguments = ArgumentWordArena()
    }

    /// Where this unwinder's thread keeps the argument words of the stacks it walks.
    public var argumentArena: ArgumentWordArena { local.arguments }

    private func frameInfo(_ pc: UInt64) -> TracebackCache.FrameInfo? {
        guard pc != 0 else { return symbolizer.frameInfo(pc) }
        let slot = Int(truncatingIfNeeded: (pc ^ (pc >> 12)) & UInt64(Local.slots - 1))
        if local.pcs[slot] == pc { return local.infos[slot] }
        let info = symbolizer.frameInfo(pc)
        local.pcs[slot] = pc
        local.infos[slot] = info
        return info
    }

    /// - Parameters:
    ///   - trapped: the start is a trap PC (registers), not a saved return address.
    ///   - fromSyscall: the start is g.syscallpc/sp (its function may write SP after saving them).
    ///   - word: reads the 8-byte word at a stack address.
    public func unwind(pc startPC: UInt64, sp startSP: UInt64, stackLo: UInt64, stackHi: UInt64,
                       trapped: Bool, fromSyscall: Bool, origin: String,
                       word: (UInt64) -> UInt64?) -> UnwoundStack {
        local.frames.removeAll(keepingCapacity: true)
        var stack = walk(pc: startPC, sp: startSP, stackLo: stackLo, stackHi: stackHi, trapped: trapped,
                         fromSyscall: fromSyscall, origin: origin, frames: &local.frames, word: word)
        stack.frames = local.frames.withUnsafeBufferPointer { local.chains.list(for: $0) }
        return stack
    }

    /// The walk, appending to `frames` (the stack's frames are set from them afterwards).
    private func walk(pc startPC: UInt64, sp startSP: UInt64, stackLo: UInt64, stackHi: UInt64,
                      trapped: Bool, fromSyscall: Bool, origin: String, frames: inout [PhysicalFrame],
                      word: (UInt64) -> UInt64?) -> UnwoundStack {
        var stack = UnwoundStack(frames: FrameList.empty, end: .complete, origin: origin)
        var pc = startPC
        var sp = startSP
        var trap = trapped
        if pc == 0 {
            // A call through a nil function: start in the caller.
            guard let caller = word(sp) else {
                stack.end = .truncated("stack unreadable at 0x\(String(sp, radix: 16))")
                return stack
            }
            pc = caller
            sp &+= 8
        }
        var innermost = true
        while frames.count < Self.maxFrames {
            guard sp >= stackLo, sp <= stackHi else {
                stack.end = .truncated("sp 0x\(String(sp, radix: 16)) outside the goroutine's stack")
                return stack
            }
            guard let info = frameInfo(pc) else {
                stack.end = .truncated("unknown pc 0x\(String(pc, radix: 16))")
                return stack
            }
            frames.append(PhysicalFrame(pc: pc, sp: sp, entry: info.entry, trapped: trap))
            if info.topFrame { return stack }
            var writesSP = info.writesSP
            if info.funcID == cgocallback && cgocallback != 0 { writesSP = false }
            if innermost && fromSyscall { writesSP = false }
            if writesSP {
                // The frame moved SP in a way the tables do not describe: the runtime stops here
                // too, silently. A thread stopped inside such a function (time.now switching to
                // g0's stack and back) has callers that cannot be found: say so.
                if innermost && trapped {
                    stack.end = .truncated("stopped inside a function that moves its stack pointer (pc 0x\(String(pc, radix: 16))); its callers cannot be found")
                }
                return stack
            }
            guard let delta = info.spDelta, delta >= 0 else {
                stack.end = .truncated("no frame size for pc 0x\(String(pc, radix: 16))")
                return stack
            }
            let fp = sp &+ UInt64(delta) &+ 8
            guard let returnAddress = word(fp &- 8) else {
                stack.end = .truncated("stack unreadable at 0x\(String(fp &- 8, radix: 16))")
                return stack
            }
            trap = injected.contains(info.funcID)
            if returnAddress == 0 { return stack }
            guard fp > sp else {
                stack.end = .truncated("frame did not advance")
                return stack
            }
            pc = returnAddress
            sp = fp
            innermost = false
        }
        stack.end = .limit
        return stack
    }
}
