import GospyBinary

/// What reading and printing one frame's arguments takes, per PC.
struct ArgumentPlan {
    let layout: ArgumentLayout
    /// argp - sp: the frame's size plus its return address (sys.MinFrameSize is 0 on amd64);
    /// nil when the frame size is unknown.
    let argpOffset: UInt64?
}

/// Every physical frame's plan for one stack, and how many words they read in all.
struct StackArgumentPlans {
    let plans: [ArgumentPlan?]
    let wordCount: Int
}

/// Function arguments as a traceback prints them (runtime.printArgs): the words at each
/// frame's argp (the caller's SP: fp on amd64) that the function's ArgInfo names. Read from
/// the same stack bytes as the walk, so a parked goroutine shows the values the runtime's own
/// dump shows; a stale register-argument spill slot ends in "?", as there.
extension Symbolizer {
    /// How a physical frame's arguments are read and printed, cached per PC; nil when unknown.
    func argumentPlan(at frame: PhysicalFrame) -> ArgumentPlan? {
        cache.argumentPlans.value(TracebackCache.FrameKey(pc: frame.pc, trapped: frame.trapped)) {
            let table = pclntab
            guard let (function, linkPC, symbolPC) = symbolization(of: frame) else { return nil }
            // Go 1.19 asks the liveness question at the PC its inline loop ends on (the
            // outermost inlined call's site), where a spill slot may not be written yet.
            let livenessPC = version.atLeast(1, 21) ? symbolPC : table.outermostCallPC(at: symbolPC, in: function)
            guard let layout = table.argumentLayout(of: function, at: livenessPC) else { return nil }
            let delta = table.spDelta(function: function, pc: linkPC)
            return ArgumentPlan(layout: layout, argpOffset: delta.flatMap { $0 >= 0 ? UInt64($0) + 8 : nil })
        }
    }

    /// The plans of a stack's frames, cached per stack: one lookup per goroutine, not one per
    /// frame (goroutines share a few hundred stacks).
    func argumentPlans(of frames: FrameList) -> StackArgumentPlans {
        cache.stackArgumentPlans.value(TracebackIdentity(frames: frames)) {
            let plans = frames.map { argumentPlan(at: $0) }
            return StackArgumentPlans(plans: plans, wordCount: plans.reduce(0) { $0 + ($1?.layout.wordCount ?? 0) })
        }
    }

    /// Reads every frame's argument words into `stack` with `word` (the walk's reader), kept in
    /// `arena` (one per walking thread; without, in room of their own).
    public func readArguments(of stack: inout UnwoundStack, arena: ArgumentWordArena? = nil, word: (UInt64) -> UInt64?) {
        let stackPlans = argumentPlans(of: stack.frames)
        let plans = stackPlans.plans
        var unreadable: [Int] = []
        let frames = stack.frames
        // Written straight into the arena (a million stacks keep their words until printed),
        // in exactly the room the frames' plans name; unread words stay 0.
        stack.argumentWords = (arena ?? ArgumentWordArena(chunkWords: 0)).store(count: stackPlans.wordCount) { words in
            var next = 0
            for (index, frame) in frames.enumerated() {
                // No plan: no words, and argumentTexts already answers nil for the frame.
                guard index < plans.count, let plan = plans[index], plan.layout.wordCount > 0 else { continue }
                guard let argpOffset = plan.argpOffset else {
                    unreadable.append(index)
                    next += plan.layout.wordCount
                    continue
                }
                let argp = frame.sp &+ argpOffset
                var readable = true
                for item in plan.layout.items {
                    guard case let .word(offset, _, _) = item else { continue }
                    if let value = word(argp &+ UInt64(offset)) {
                        if next < words.count { words[next] = value }
                    } else {
                        readable = false
                    }
                    next += 1
                }
                if !readable { unreadable.append(index) }
            }
        }
        stack.unreadableArgumentFrames = unreadable
    }

    /// The text between each physical frame's parentheses ("0xc000012345, 0x1"), or nil for a
    /// frame whose arguments were not read. `wanted` picks the frames to print (the rest nil).
    public func argumentTexts(_ stack: UnwoundStack, wanted: (Int) -> Bool = { _ in true }) -> [String?] {
        let slots = argumentSlots(stack.frames)
        var bytes: [UInt8] = []
        return slots.indices.map { index in
            bytes.removeAll(keepingCapacity: true)
            guard wanted(index), Self.appendArgumentText(of: stack, frame: index, slot: slots[index], into: &bytes) else {
                return nil
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Where each physical frame's arguments sit among a stack's argument words, as
    /// readArguments lays them out: nil for a frame whose layout is unknown. Depends on the
    /// frames' PCs alone, so a dump works it out once per distinct stack.
    public func argumentSlots(_ frames: FrameList) -> [ArgumentSlot?] {
        var firstWord = 0
        return argumentPlans(of: frames).plans.map { plan in
            guard let layout = plan?.layout else { return nil }
            defer { firstWord += layout.wordCount }
            return ArgumentSlot(layout: layout, firstWord: firstWord)
        }
    }

    /// Appends physical frame `index`'s argument text (its `slot` from argumentSlots); false,
    /// with nothing appended, when its arguments were not read.
    public static func appendArgumentText(of stack: UnwoundStack, frame index: Int, slot: ArgumentSlot?,
                                          into out: inout [UInt8]) -> Bool {
        guard let slot, let words = stack.argumentWords else { return false }
        // Clamped to the words read, as a stack whose words ran short would be.
        let start = min(words.count, slot.firstWord)
        let end = min(words.count, slot.firstWord + slot.layout.wordCount)
        guard end - start == slot.layout.wordCount, !stack.unreadableArgumentFrames.contains(index) else { return false }
        words.withUnsafeBufferPointer { slot.layout.render(UnsafeBufferPointer(rebasing: $0[start..<end]), into: &out) }
        return true
    }
}

/// A physical frame's argument layout and the index of its first word in its stack's
/// argument words.
public struct ArgumentSlot: Sendable {
    public let layout: ArgumentLayout
    public let firstWord: Int
}
