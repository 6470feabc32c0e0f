import Testing
@testable import GospyRuntime

/// Stacks of one shape share one frame chain, and reading a shared chain gives exactly the
/// frames a walk found (each SP from the stack's own first SP).
@Suite struct FrameListTests {
    typealias P = SyntheticProgram

    /// Walks `calls` with its innermost frame at `sp`, through `unwinder`.
    static func walk(_ unwinder: StackUnwinder, _ calls: [(name: String, offset: UInt64)], sp: UInt64,
                     trapped: Bool = false) -> UnwoundStack {
        let (pc, start, memory) = P.stack(calls, sp: sp)
        return unwinder.unwind(pc: pc, sp: start, stackLo: P.stackLo, stackHi: P.stackHi, trapped: trapped,
                               fromSyscall: false, origin: "sched") { try? memory.fetch(UInt64.self, from: $0) }
    }

    @Test func stacksOfOneShapeShareAChainAndKeepTheirOwnSPs() {
        let unwinder = StackUnwinder(symbolizer: P.symbolizer)
        let low = Self.walk(unwinder, P.parked, sp: 0xc000_0c00)
        let high = Self.walk(unwinder, P.parked, sp: 0xc000_0e00)
        #expect(low.frames.chain === high.frames.chain)
        #expect(high.frames.map(\.sp) == [0xc000_0e00, 0xc000_0e18, 0xc000_0e48, 0xc000_0e58, 0xc000_0e78])
        #expect(low.frames.map(\.sp) == high.frames.map { $0.sp - 0x200 })
        #expect(low.frames.map(\.pc) == high.frames.map(\.pc))
        #expect(low.frames != high.frames)
        // The same frames as a list of their own compare equal to the shared ones.
        #expect(FrameList(Array(high.frames)) == high.frames)
        #expect(TracebackIdentity(frames: low.frames) == TracebackIdentity(frames: high.frames))
    }

    @Test func differentShapesGetDifferentChains() {
        let unwinder = StackUnwinder(symbolizer: P.symbolizer)
        let parked = Self.walk(unwinder, P.parked, sp: 0xc000_0e00)
        let trapped = Self.walk(unwinder, P.parked, sp: 0xc000_0e00, trapped: true)
        let shorter = Self.walk(unwinder, Array(P.parked.dropFirst()), sp: 0xc000_0e00)
        #expect(parked.frames.chain !== trapped.frames.chain)
        #expect(parked.frames.chain !== shorter.frames.chain)
        #expect(trapped.frames[0].trapped && !parked.frames[0].trapped)
        #expect(shorter.frames.map(\.pc) == Array(parked.frames.dropFirst()).map(\.pc))
        // A trap mark is part of a traceback's identity; the PCs alone are the same.
        #expect(TracebackIdentity(frames: parked.frames) != TracebackIdentity(frames: trapped.frames))
        #expect(StackPCs(frames: parked.frames) == StackPCs(frames: trapped.frames))
    }

    @Test func identitiesOfEqualStacksInSeparateChainsAreOneKey() {
        let a = Self.walk(StackUnwinder(symbolizer: P.symbolizer), P.parked, sp: 0xc000_0e00)
        let b = Self.walk(StackUnwinder(symbolizer: P.symbolizer), P.parked, sp: 0xc000_0d00)
        #expect(a.frames.chain !== b.frames.chain)
        let keys: Set<TracebackIdentity> = [TracebackIdentity(frames: a.frames), TracebackIdentity(frames: b.frames)]
        #expect(keys.count == 1)
        let pcs: Set<StackPCs> = [StackPCs(frames: a.frames), StackPCs(frames: b.frames)]
        #expect(pcs.count == 1)
    }

    @Test func framesInAnyOrderRoundTrip() {
        // SPs that go down as well as up (frames from elsewhere) are kept exactly.
        let frames = [
            PhysicalFrame(pc: 0x40_1010, sp: 0xc000_0e00, entry: 0x40_1000, trapped: true),
            PhysicalFrame(pc: 0x40_2020, sp: 0xc000_0100, entry: 0x40_2000, trapped: false),
            PhysicalFrame(pc: 0x40_3030, sp: UInt64.max, entry: 0x40_3000, trapped: false),
        ]
        #expect(Array(FrameList(frames)) == frames)
        #expect(FrameList([PhysicalFrame]()).isEmpty)
    }

    @Test func pastTheLimitAWalkGetsAChainOfItsOwn() {
        let interner = FrameChainInterner()
        var kept: [FrameList] = []
        for index in 0..<(FrameChainInterner.limit + 2) {
            let frame = PhysicalFrame(pc: 0x40_0000 + UInt64(index), sp: 0xc000_0000, entry: 0x40_0000, trapped: false)
            kept.append([frame].withUnsafeBufferPointer { interner.list(for: $0) })
        }
        let late = PhysicalFrame(pc: 0x40_0000 + UInt64(FrameChainInterner.limit + 1), sp: 0xc000_0008, entry: 0x40_0000,
                                 trapped: false)
        let again = [late].withUnsafeBufferPointer { interner.list(for: $0) }
        #expect(again.chain !== kept.last!.chain)
        #expect(Array(again) == [late])
        let early = PhysicalFrame(pc: 0x40_0000, sp: 0xc000_0010, entry: 0x40_0000, trapped: false)
        #expect([early].withUnsafeBufferPointer { interner.list(for: $0) }.chain === kept[0].chain)
    }
}
