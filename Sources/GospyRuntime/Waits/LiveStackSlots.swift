import GospyBinary
import GospyMemory

/// Which words of a parked goroutine's stack may hold a live pointer, as the runtime's own
/// stack scan decides (runtime.(*stkframe).getStackMap): in each frame the locals and the
/// arguments its stack maps (FUNCDATA_LocalsPointerMaps/ArgsPointerMaps at the call's
/// PCDATA_StackMapIndex) mark live, and its stack objects (address-taken locals, taken whole
/// here: a superset of what the runtime scans). A frame whose maps are missing or do not read
/// is taken whole, and a stack with an injected call (async preemption, debug call) or an
/// unfinished walk is taken whole from there on: never fewer words than the runtime scans.
/// So a dead slot that still holds an old address no longer counts as holding it.
package struct LiveStackSlots {
    /// Bounds on what the binary's tables may claim (a damaged or hostile file).
    static let maxFrameBytes: UInt64 = 1 << 20
    static let maxMaps = 1 << 20, maxBits = 1 << 21, maxStackObjects = 1 << 12

    let pclntab: Pclntab
    /// The executable's file image (link addresses): where the stack maps are read.
    let image: MemoryReader
    let loadBias: UInt64

    /// One frame's live words, relative to its sp; nil when the frame's maps are not known.
    struct FramePlan {
        /// fp - sp: where the caller's frame (and this frame's arguments) begins.
        let callerSPOffset: UInt64
        /// The live words' offsets from sp (locals, arguments, stack objects), each 8 bytes.
        let words: [UInt64]
    }

    /// Plans by frame PC: a hundred thousand goroutines share a few code paths.
    final class Cache {
        var plans: [UInt64: FramePlan?] = [:]
    }
    let cache = Cache()

    init(executable: GoExecutable, loadBias: UInt64) {
        self.init(pclntab: executable.pclntab, image: executable.image, loadBias: loadBias)
    }

    package init(pclntab: Pclntab, image: MemoryReader, loadBias: UInt64) {
        self.pclntab = pclntab
        self.image = image
        self.loadBias = loadBias
    }

    /// The byte ranges (offsets from `sp`, the goroutine's saved SP, which must be its first
    /// frame's; 8-byte aligned) of [sp, hi) to look at; nil to look at all of it.
    package func liveOffsets(of stack: UnwoundStack, sp: UInt64, hi: UInt64) -> [Range<Int>]? {
        guard let first = stack.frames.first, first.sp == sp, hi > sp, hi - sp <= 1 << 30,
              !stack.frames.contains(where: \.trapped) else { return nil }
        var offsets: [Range<Int>] = []
        var cursor = sp
        for frame in stack.frames {
            // Frames run upwards without gaps: each one's sp is where its callee's frame ended.
            guard frame.sp >= cursor, frame.sp < hi else { return nil }
            if frame.sp > cursor { Self.appendAll(from: cursor, to: frame.sp, base: sp, into: &offsets) }
            // Checked against hi - frame.sp: a stack at the top of the address space must not wrap.
            let room = hi - frame.sp
            guard let plan = plan(at: frame.pc), plan.callerSPOffset <= room else {
                // Unknown: everything from here up is taken.
                Self.appendAll(from: frame.sp, to: hi, base: sp, into: &offsets)
                return offsets
            }
            for word in plan.words where room >= 8 && word <= room - 8 {
                let start = Int(frame.sp &+ word &- sp)
                // Adjacent words make one range.
                if let last = offsets.last, last.upperBound == start {
                    offsets[offsets.count - 1] = last.lowerBound..<start + 8
                } else {
                    offsets.append(start..<start + 8)
                }
            }
            cursor = frame.sp + plan.callerSPOffset
        }
        // Past the last frame (a walk that ended early, or goexit's caller area): taken whole.
        if stack.end != .complete, cursor < hi { Self.appendAll(from: cursor, to: hi, base: sp, into: &offsets) }
        return offsets
    }

    static func appendAll(from start: UInt64, to end: UInt64, base: UInt64, into offsets: inout [Range<Int>]) {
        // No word starts in the last 7 bytes of the address space, nor below base.
        guard start >= base, start <= UInt64.max - 7 else { return }
        let first = (start + 7) & ~7
        guard first < end, end - first >= 8 else { return }
        offsets.append(Int(first &- base)..<Int(end &- base))
    }

    func plan(at pc: UInt64) -> FramePlan? {
        if let known = cache.plans[pc] { return known }
        let plan = uncachedPlan(at: pc)
        cache.plans[pc] = plan
        return plan
    }

    private func uncachedPlan(at pc: UInt64) -> FramePlan? {
        let table = pclntab
        guard pc >= loadBias else { return nil }
        let linkPC = pc - loadBias
        // A return address: the call before it is what the frame is stopped at.
        guard let function = table.function(containing: linkPC > 0 ? linkPC - 1 : linkPC),
              let delta = table.spDelta(function: function, pc: linkPC), delta >= 0 else { return nil }
        let fp = UInt64(delta) + 8 // offsets from sp
        guard fp <= Self.maxFrameBytes else { return nil }
        // varp: below the return address and the saved frame pointer (a frame of 1 to 7 bytes
        // has no room for one: a damaged pcsp table).
        var varp = fp - 8
        if varp > 0 {
            guard varp >= 8 else { return nil }
            varp -= 8
        }
        var index: Int32 = -1
        if linkPC != function.entry, let pcdata = table.pcdataTable(Pclntab.pcdataStackMapIndex, of: function) {
            index = table.pcvalue(tableOffset: pcdata, function: function, pc: linkPC - 1) ?? -1
        }
        if index == -1 { index = 0 }
        guard index >= 0 else { return nil }
        var words: [UInt64] = []

        // Locals.
        if varp > 0 {
            guard let map = stackMap(Pclntab.funcdataLocalsPointerMaps, of: function, index: Int(index)) else { return nil }
            let size = UInt64(map.count) * 8
            guard size <= varp else { return nil }
            for (bit, live) in map.enumerated() where live { words.append(varp - size + UInt64(bit) * 8) }
        }
        // Arguments (above fp, in the caller's frame). ArgsSizeUnknown (negative): reflect's
        // stubs, whose maps come from elsewhere: not known.
        guard function.args >= 0 else { return nil }
        if function.args > 0 {
            guard let map = stackMap(Pclntab.funcdataArgsPointerMaps, of: function, index: Int(index)) else { return nil }
            for (bit, live) in map.enumerated() where live && bit < Int(function.args) / 8 {
                words.append(fp + UInt64(bit) * 8)
            }
        }
        // Stack objects, whole: off < 0 from varp, else from argp (fp).
        if let address = table.funcdataAddress(Pclntab.funcdataStackObjects, of: function) {
            guard let count = try? image.fetchPointer(from: address), count <= UInt64(Self.maxStackObjects),
                  let records = try? image.fetchBytes(from: address &+ 8, count: Int(count) * 16) else { return nil }
            for record in 0..<Int(count) {
                let off = records.withUnsafeBytes { Int64($0.loadUnaligned(fromByteOffset: record * 16, as: Int32.self)) }
                let size = records.withUnsafeBytes { Int64($0.loadUnaligned(fromByteOffset: record * 16 + 4, as: Int32.self)) }
                let base = off < 0 ? Int64(varp) + off : Int64(fp) + off
                // Inside the frame or its arguments, and a bounded count of words in all.
                guard size >= 0, base >= 0, base + size <= Int64(fp) + Int64(function.args),
                      words.count + Int(size / 8) <= Int(Self.maxFrameBytes / 4) else { return nil }
                var word = UInt64(base) & ~7
                while word < UInt64(base + size) {
                    words.append(word)
                    word += 8
                }
            }
        }
        return FramePlan(callerSPOffset: fp, words: words)
    }

    /// Bitmap `index` of a stack map funcdata ({n int32, nbit int32, bytedata}); an empty
    /// bitmap when the map has no bits; nil when absent or it does not read.
    func stackMap(_ funcdata: Int, of function: Pclntab.Function, index: Int) -> [Bool]? {
        guard let address = pclntab.funcdataAddress(funcdata, of: function),
              let header = try? image.fetchBytes(from: address, count: 8) else { return nil }
        let count = header.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 0, as: Int32.self)) }
        let bitCount = header.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 4, as: Int32.self)) }
        guard count > 0, count <= Self.maxMaps, bitCount >= 0, bitCount <= Self.maxBits else { return nil }
        if bitCount == 0 { return [] }
        guard index < count else { return nil }
        let bytesPerMap = (bitCount + 7) / 8
        guard let bytes = try? image.fetchBytes(from: address &+ 8 &+ UInt64(index * bytesPerMap), count: bytesPerMap)
        else { return nil }
        return (0..<bitCount).map { bytes[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }
}
