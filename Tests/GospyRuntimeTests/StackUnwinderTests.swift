import Testing
@testable import GospyRuntime

/// The unwinder over synthetic frames: frame sizes from pcsp, return addresses at sp + size,
/// the symbolisation PC fixed where each frame is made, and honest truncation.
@Suite struct StackUnwinderTests {
    typealias P = SyntheticProgram

    @Test func walksToTheTopFrame() {
        let stack = P.unwind(P.parked)
        #expect(stack.end == .complete)
        #expect(stack.frames.map(\.pc) == P.parked.map { P.pc($0.name, $0.offset) })
        #expect(stack.frames.map(\.entry) == P.parked.map { P.pc($0.name) })
        // Each caller's sp is just above the return address its callee's frame holds.
        let sps = stack.frames.map(\.sp)
        #expect(sps == [0xc000_0e00, 0xc000_0e18, 0xc000_0e48, 0xc000_0e58, 0xc000_0e78])
    }

    @Test func returnAddressesAreSymbolisedAtTheCall() {
        let stack = P.unwind(P.parked)
        #expect(stack.frames.allSatisfy { !$0.trapped })
        #expect(stack.frames.map(\.symbolPC) == stack.frames.map { $0.pc - 1 })
    }

    @Test func aTrapPCIsSymbolisedAsIs() {
        let stack = P.unwind(P.parked, trapped: true)
        #expect(stack.frames[0].trapped && stack.frames[0].symbolPC == stack.frames[0].pc)
        #expect(stack.frames.dropFirst().allSatisfy { !$0.trapped && $0.symbolPC == $0.pc - 1 })
    }

    @Test func theCallerOfSigpanicIsSymbolisedAtTheFaultingPC() {
        let stack = P.unwind([("runtime.sigpanic", 0x10), ("main.worker", 0x20), ("main.main", 0x20), ("runtime.goexit", 1)])
        #expect(stack.end == .complete)
        let worker = stack.frames[1]
        #expect(worker.trapped && worker.symbolPC == P.pc("main.worker", 0x20))
        #expect(!stack.frames[2].trapped)
    }

    @Test func anEntryPCIsNotMovedBeforeItsFunction() {
        #expect(PhysicalFrame.symbolizationPC(pc: 0x401000, entry: 0x401000, trapped: false) == 0x401000)
        #expect(PhysicalFrame.symbolizationPC(pc: 0x401001, entry: 0x401000, trapped: false) == 0x401000)
        #expect(PhysicalFrame.symbolizationPC(pc: 0x401001, entry: 0x401000, trapped: true) == 0x401001)
    }

    @Test func stopsAtAnUnknownReturnAddress() {
        // main.main's return address slot (its sp + 0x18) holds garbage.
        let stack = P.unwind(P.parked, override: [0xc000_0e58 + 0x18: 0xdead])
        #expect(stack.end == .truncated("unknown pc 0xdead"))
        #expect(stack.frames.count == 4)
    }

    @Test func stopsWhenTheStackPointerLeavesTheStack() {
        let (pc, _, memory) = P.stack(P.parked)
        let stack = StackUnwinder(symbolizer: P.symbolizer).unwind(
            pc: pc, sp: P.stackHi + 0x100, stackLo: P.stackLo, stackHi: P.stackHi, trapped: false, fromSyscall: false,
            origin: "sched") { try? memory.fetch(UInt64.self, from: $0) }
        #expect(stack.frames.isEmpty)
        #expect(stack.end == .truncated("sp 0xc0001100 outside the goroutine's stack"))
    }

    @Test func aNilFunctionCallStartsInItsCaller() {
        // pc 0 with the caller's return address at sp: as a call through a nil func value leaves it.
        let sp: UInt64 = 0xc000_0e00
        let (_, _, memory) = P.stack([("main.worker", 0x20), ("main.main", 0x20), ("runtime.goexit", 1)], sp: sp + 8,
                                     override: [sp: P.pc("main.worker", 0x20)])
        let stack = StackUnwinder(symbolizer: P.symbolizer).unwind(
            pc: 0, sp: sp, stackLo: P.stackLo, stackHi: P.stackHi, trapped: false, fromSyscall: false,
            origin: "sched") { try? memory.fetch(UInt64.self, from: $0) }
        #expect(stack.end == .complete)
        #expect(stack.frames.map(\.pc) == [P.pc("main.worker", 0x20), P.pc("main.main", 0x20), P.pc("runtime.goexit", 1)])
        #expect(stack.frames.first?.sp == sp + 8)
    }
}
