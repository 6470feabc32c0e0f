import GospyBinary
import GospyMemory
import GospyTestSupport
import Testing
@testable import GospyRuntime

/// The live words of a parked frame from synthetic stack maps, and damaged maps (counts,
/// indexes, stack objects outside the frame) that make the frame count whole, never read past.
@Suite struct LiveStackSlotsTests {
    static let gofunc: UInt64 = 0x60_0000
    static let sp: UInt64 = 0xc000_1000
    static let hi: UInt64 = 0xc000_1100

    /// A stack map {n, nbit, bitmaps}.
    static func stackMap(count: Int32, bits: Int32, maps: [[UInt8]]) -> [UInt8] {
        le32(UInt32(bitPattern: count)) + le32(UInt32(bitPattern: bits)) + maps.flatMap { $0 }
    }

    /// main.work (frame 0x28 bytes below its return address, 16 bytes of arguments) parked at a
    /// call past the stack map index change, called from runtime.goexit; `gofunc` holds `data`
    /// with locals map at +0, args map at +0x100, stack objects at +0x200.
    static func slots(locals: [UInt8], args: [UInt8], objects: [UInt8]? = nil, spDelta: Int32 = 0x28) -> LiveStackSlots {
        var builder = PclntabBuilder(format: .go120)
        var work = PclntabBuilder.Function(name: "main.work", size: 0x100, sp: [(0, 4), (spDelta, 0xfc)],
                                           file: [(0, 0x100)], line: [(10, 0x100)])
        work.args = 16
        work.stackMapIndex = [(0, 0x40), (1, 0xc0)]
        work.funcdata = [1: 0, 0: 0x100]
        if objects != nil { work.funcdata[2] = 0x200 }
        builder.functions = [work, .init(name: "runtime.goexit", size: 0x10, sp: [(0, 0x10)], file: [(1, 0x10)], line: [(1, 0x10)])]
        let table = try! Pclntab(data: ByteView(bytes: builder.build().table, baseAddress: 0x50_0000), address: 0x50_0000,
                                 textStart: nil, gofunc: gofunc, reader: nil, path: "synthetic")
        var data = [UInt8](repeating: 0, count: 0x300)
        data.replaceSubrange(0..<locals.count, with: locals)
        data.replaceSubrange(0x100..<0x100 + args.count, with: args)
        if let objects { data.replaceSubrange(0x200..<0x200 + objects.count, with: objects) }
        return LiveStackSlots(pclntab: table, image: BufferMemoryReader(address: gofunc, bytes: data), loadBias: 0)
    }

    static func stack(trapped: Bool = false) -> UnwoundStack {
        UnwoundStack(frames: [
            PhysicalFrame(pc: 0x401050, sp: sp, entry: 0x401000, trapped: trapped),
            PhysicalFrame(pc: 0x401101, sp: sp + 0x30, entry: 0x401100, trapped: false),
        ], end: .complete, origin: "test")
    }

    // Locals: 4 words below varp (sp+0x20), live 0 and 2 at index 1; arguments: 2 words at fp (sp+0x30).
    static let goodLocals = stackMap(count: 2, bits: 4, maps: [[0b0000], [0b0101]])
    static let goodArgs = stackMap(count: 2, bits: 2, maps: [[0b00], [0b10]])

    @Test func onlyTheLiveWordsAtTheCallCount() {
        let offsets = Self.slots(locals: Self.goodLocals, args: Self.goodArgs).liveOffsets(of: Self.stack(), sp: Self.sp, hi: Self.hi)
        #expect(offsets == [0..<8, 0x10..<0x18, 0x38..<0x40])
    }

    @Test func stackObjectsCountWhole() {
        // One 16-byte object at varp-0x10 (sp+0x10), whole.
        let objects = le64(1) + le32(UInt32(bitPattern: -0x10)) + le32(16) + le32(8) + le32(0)
        let offsets = Self.slots(locals: Self.goodLocals, args: Self.goodArgs, objects: objects)
            .liveOffsets(of: Self.stack(), sp: Self.sp, hi: Self.hi)
        #expect(offsets == [0..<8, 0x10..<0x18, 0x38..<0x40, 0x10..<0x20])
    }

    @Test func damagedMapsCountTheWholeFrame() {
        let whole: [Range<Int>]? = [0..<Int(Self.hi - Self.sp)]
        let damaged: [(locals: [UInt8], args: [UInt8], objects: [UInt8]?)] = [
            (Self.stackMap(count: 1 << 30, bits: 4, maps: [[0b0101]]), Self.goodArgs, nil), // absurd count
            (Self.stackMap(count: 1, bits: 4, maps: [[0b0101]]), Self.goodArgs, nil), // index 1 of 1 map
            (Self.stackMap(count: 2, bits: 1 << 30, maps: []), Self.goodArgs, nil), // absurd bit count
            (Self.stackMap(count: 2, bits: 64, maps: []), Self.goodArgs, nil), // 8 words: more than the frame holds
            (Self.stackMap(count: -1, bits: 4, maps: []), Self.goodArgs, nil),
            (Self.goodLocals, Self.stackMap(count: 0, bits: 2, maps: []), nil), // arguments without a map
            (Self.goodLocals, Self.goodArgs, le64(1 << 40)), // absurd object count
            (Self.goodLocals, Self.goodArgs, le64(1) + le32(0) + le32(0x1000) + le32(0) + le32(0)), // past the frame
            (Self.goodLocals, Self.goodArgs, le64(1) + le32(UInt32(bitPattern: -0x100)) + le32(8) + le32(0) + le32(0)), // below sp
        ]
        for (index, maps) in damaged.enumerated() {
            let offsets = Self.slots(locals: maps.locals, args: maps.args, objects: maps.objects)
                .liveOffsets(of: Self.stack(), sp: Self.sp, hi: Self.hi)
            #expect(offsets == whole, "case \(index): \(String(describing: offsets))")
        }
    }

    @Test func aFrameTooSmallForItsFramePointerCountsWhole() {
        // An SP delta of 4 (a damaged pcsp table): no room below the return address for the
        // saved frame pointer.
        let offsets = Self.slots(locals: Self.goodLocals, args: Self.goodArgs, spDelta: 4)
            .liveOffsets(of: Self.stack(), sp: Self.sp, hi: Self.hi)
        #expect(offsets == [0..<Int(Self.hi - Self.sp)])
    }

    @Test func aStackAtTheTopOfTheAddressSpaceDoesNotWrap() {
        let sp = UInt64.max - 0x1f
        let stack = UnwoundStack(frames: [
            PhysicalFrame(pc: 0x401050, sp: sp, entry: 0x401000, trapped: false),
            PhysicalFrame(pc: 0x401101, sp: sp + 0x10, entry: 0x401100, trapped: false),
        ], end: .complete, origin: "test")
        // main.work's frame (0x30 bytes) does not fit below the top: taken whole from its sp.
        let offsets = Self.slots(locals: Self.goodLocals, args: Self.goodArgs).liveOffsets(of: stack, sp: sp, hi: .max)
        #expect(offsets == [0..<0x1f])
    }

    @Test func anInjectedCallOrAnotherSPTakesTheStackWhole() {
        let slots = Self.slots(locals: Self.goodLocals, args: Self.goodArgs)
        #expect(slots.liveOffsets(of: Self.stack(trapped: true), sp: Self.sp, hi: Self.hi) == nil)
        #expect(slots.liveOffsets(of: Self.stack(), sp: Self.sp + 8, hi: Self.hi) == nil)
        #expect(slots.liveOffsets(of: Self.stack(), sp: Self.sp, hi: Self.sp) == nil)
    }
}
