import GospyBinary
import GospyMemory
import GospyRuntime

/// The stack-map decoding `gospy waits` uses to tell live stack words (LiveStackSlots): a
/// stack of frames in real functions of the TestTargets build, whose tables and maps the input
/// patches (the function's _func record, its pcsp and PCDATA_StackMapIndex tables, its locals
/// and arguments stack maps, its stack objects). The real table is patched, not carried in the
/// input: mutations then land on what the decoding reads, not across megabytes of table.
enum StackMapsTarget {
    /// The executable's table and gofunc data, and the functions that have stack maps.
    struct Table {
        let bytes: [UInt8]
        let address: UInt64
        let textStart: UInt64
        let gofuncAddress: UInt64
        let gofunc: [UInt8]
        /// Copies of both that each input patches and then restores: copying megabytes per input
        /// would be most of the fuzzing time.
        let scratch: Scratch
        /// The functions with a locals or arguments stack map (the ones worth patching).
        let functions: [Pclntab.Function]
        let pclntab: Pclntab

        init?(executable: GoExecutable) {
            let table = executable.pclntab
            guard let gofuncAddress = table.gofunc, let data = try? Seeds.pclntabBytes(of: executable),
                  !data.table.isEmpty else { return nil }
            bytes = data.table
            address = table.address
            textStart = table.textStart
            self.gofuncAddress = gofuncAddress
            gofunc = data.gofunc
            scratch = Scratch(table: data.table, gofunc: data.gofunc)
            pclntab = table
            // Every 8th function with maps: a few thousand choices, found in a bounded scan.
            functions = stride(from: 0, to: min(table.functionCount, 1 << 17), by: 8).compactMap { index in
                guard let function = try? table.function(at: index), function.end > function.entry,
                      table.funcdataAddress(Pclntab.funcdataLocalsPointerMaps, of: function) != nil
                        || table.funcdataAddress(Pclntab.funcdataArgsPointerMaps, of: function) != nil else { return nil }
                return function
            }
        }

        /// Where each patchable area of `function` starts: (in the gofunc data?, offset).
        func area(_ kind: Int, of function: Pclntab.Function) -> (inGofunc: Bool, offset: Int)? {
            func gofuncOffset(_ funcdata: Int) -> (inGofunc: Bool, offset: Int)? {
                guard let address = pclntab.funcdataAddress(funcdata, of: function), address >= gofuncAddress,
                      address - gofuncAddress < UInt64(gofunc.count) else { return nil }
                return (true, Int(address - gofuncAddress))
            }
            switch kind {
            case 0: return (false, function.recordOffset)
            case 1: return (false, pclntab.pctabOffset + Int(function.pcsp))
            case 2: return pclntab.pcdataTable(Pclntab.pcdataStackMapIndex, of: function).map { (false, pclntab.pctabOffset + Int($0)) }
            case 3: return gofuncOffset(Pclntab.funcdataLocalsPointerMaps)
            case 4: return gofuncOffset(Pclntab.funcdataArgsPointerMaps)
            default: return gofuncOffset(Pclntab.funcdataStackObjects)
            }
        }
    }

    final class Scratch {
        var table: [UInt8]
        var gofunc: [UInt8]

        init(table: [UInt8], gofunc: [UInt8]) {
            self.table = table
            self.gofunc = gofunc
        }

        /// Writes `patch` at `start` (clipped to the bytes); returns what it replaced.
        func write(_ patch: [UInt8], at start: Int, inGofunc: Bool) -> [UInt8] {
            func swap(in bytes: inout [UInt8]) -> [UInt8] {
                guard start >= 0, start < bytes.count else { return [] }
                let range = start..<start + min(patch.count, bytes.count - start)
                defer { bytes.replaceSubrange(range, with: patch[0..<range.count]) }
                return Array(bytes[range])
            }
            return inGofunc ? swap(in: &gofunc) : swap(in: &table)
        }
    }

    static let maxFrames = 8, maxPatches = 16

    /// Input: flags (u8: bit 0 a load bias follows, bits 1-2 how the walk ended), [load bias
    /// u64], sp (u64), stack size (u32), frame count (u8), per frame function selector (u16),
    /// PC offset (u16), sp step (u16; 0: the frame's real size), trapped (u8); then patches
    /// until the end, each area (u8), offset in it (u16), length (u8) and the bytes. Patches
    /// apply to the first frame's function.
    static func run(_ data: [UInt8], environment: Environment) {
        guard let table = environment.stackMaps, !table.functions.isEmpty else { return }
        var input = InputCursor(data)
        let flags = input.u8()
        let loadBias = flags & 1 != 0 ? input.u64() : 0
        let end: UnwoundStack.End = [.complete, .truncated("fuzz"), .limit, .complete][Int(flags >> 1) & 3]
        let sp = input.u64()
        let hi = sp &+ UInt64(input.u32())
        var frames: [PhysicalFrame] = []
        var frameSP = sp
        var first: Pclntab.Function?
        for _ in 0..<Int(input.u8()) % (maxFrames + 1) {
            let function = table.functions[Int(input.u16()) % table.functions.count]
            let pc = function.entry &+ UInt64(input.u16()) % (function.end - function.entry + 1)
            let step = UInt64(input.u16())
            let trapped = input.u8() & 1 != 0
            frames.append(PhysicalFrame(pc: pc &+ loadBias, sp: frameSP, entry: function.entry &+ loadBias, trapped: trapped))
            first = first ?? function
            let size = step != 0 ? step : table.pclntab.spDelta(function: function, pc: pc).map { UInt64(UInt32(bitPattern: $0)) + 8 } ?? 8
            frameSP = frameSP &+ size
        }
        var undo: [(start: Int, inGofunc: Bool, bytes: [UInt8])] = []
        for _ in 0..<maxPatches where !input.isAtEnd {
            let kind = Int(input.u8() % 6)
            let offset = Int(input.u16())
            let patch = input.take(Int(input.u8()))
            guard let function = first, let area = table.area(kind, of: function) else { continue }
            let start = area.offset + offset
            undo.append((start, area.inGofunc, table.scratch.write(patch, at: start, inGofunc: area.inGofunc)))
        }
        analyse(table, stack: UnwoundStack(frames: frames, end: end, origin: "fuzz"), sp: sp, hi: hi, loadBias: loadBias)
        // The analysis has let go of the scratch bytes: restored in place.
        for entry in undo.reversed() { _ = table.scratch.write(entry.bytes, at: entry.start, inGofunc: entry.inGofunc) }
    }

    static func analyse(_ table: Table, stack: UnwoundStack, sp: UInt64, hi: UInt64, loadBias: UInt64) {
        let reader = BufferMemoryReader(address: table.gofuncAddress, bytes: table.scratch.gofunc)
        guard let pclntab = try? Pclntab(data: ByteView(bytes: table.scratch.table, baseAddress: table.address), address: table.address,
                                         textStart: table.textStart, gofunc: table.gofuncAddress, reader: reader, path: "fuzz")
        else { return }
        _ = LiveStackSlots(pclntab: pclntab, image: reader, loadBias: loadBias).liveOffsets(of: stack, sp: sp, hi: hi)
    }

    /// Seeds: a few real stacks (functions with maps, their real frame sizes), unpatched, and
    /// each area rewritten with its own bytes.
    static func seeds(_ table: Table) -> [(name: String, bytes: [UInt8])] {
        let count = table.functions.count
        guard count > 0 else { return [] }
        var seeds = [("one", [0]), ("three", [count / 3, count / 2, count - 1]), ("eight", Array(0..<min(8, count)))].map { name, selectors in
            (name: name, bytes: stack(table, selectors: selectors).bytes)
        }
        // One frame in the first function that has each area, that area rewritten as it was.
        for kind in 0..<6 {
            guard let selector = table.functions.indices.first(where: { table.area(kind, of: table.functions[$0]) != nil }),
                  let area = table.area(kind, of: table.functions[selector]) else { continue }
            let source = area.inGofunc ? table.gofunc : table.bytes
            let length = min(64, source.count - area.offset)
            var input = stack(table, selectors: [selector])
            input.u8(UInt8(kind))
            input.u16(0)
            input.u8(UInt8(length))
            input.append(Array(source[area.offset..<area.offset + length]))
            seeds.append(("area\(kind)", input.bytes))
        }
        return seeds
    }

    /// A stack's header: frames in `selectors`' functions, each stopped halfway through its
    /// code, each frame's real size.
    static func stack(_ table: Table, selectors: [Int]) -> InputWriter {
        var input = InputWriter()
        input.u8(0)
        input.u64(0xc000_1000)
        input.u32(0x8000)
        input.u8(UInt8(selectors.count))
        for selector in selectors {
            let function = table.functions[selector]
            input.u16(UInt16(selector))
            input.u16(UInt16(min((function.end - function.entry) / 2, 0xffff)))
            input.u16(0)
            input.u8(0)
        }
        return input
    }
}
