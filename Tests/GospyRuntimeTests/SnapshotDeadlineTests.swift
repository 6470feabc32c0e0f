import GospyMemory
import Testing
@testable import GospyRuntime

/// Stacks past a snapshot's deadline: not read, or read but not walked, each marked and counted.
@Suite struct SnapshotDeadlineCutTests {
    func parkedGoroutine() -> (Goroutine, BufferMemoryReader) {
        let (pc, sp, memory) = SyntheticProgram.stack(SyntheticProgram.parked)
        let template = SyntheticProgram.goroutine()
        let goroutine = Goroutine(
            address: template.address, id: 7, status: .waiting, scanning: false, waitReason: 0, waitReasonText: nil,
            waitSince: 0, m: 0, lockedM: 0, startPC: 0, creatorPC: 0, parentID: nil, schedPC: pc, schedSP: sp, schedBP: 0,
            syscallPC: 0, syscallSP: 0, stackLo: SyntheticProgram.stackLo, stackHi: SyntheticProgram.stackHi, labels: 0)
        return (goroutine, memory)
    }

    @Test func withinTheDeadlineNothingIsCut() {
        let (goroutine, memory) = parkedGoroutine()
        let deadline = SnapshotDeadline(seconds: 3600)
        let collector = StackCollector(symbolizer: SyntheticProgram.symbolizer, memory: memory, deadline: deadline)
        let stack = collector.unwind([goroutine], collector.capture([goroutine.stackExtent]))[0]
        #expect(stack.end == .complete && stack.frames.count == SyntheticProgram.parked.count)
        #expect(deadline.cut == nil)
    }

    @Test func pastTheDeadlineStacksAreMarkedAndCounted() {
        let (goroutine, memory) = parkedGoroutine()
        // Read in time, walked too late.
        let captured = StackCollector(symbolizer: SyntheticProgram.symbolizer, memory: memory).capture([goroutine.stackExtent])
        let late = SnapshotDeadline(seconds: 0)
        let walker = StackCollector(symbolizer: SyntheticProgram.symbolizer, memory: memory, deadline: late)
        let notWalked = walker.unwind([goroutine], captured)[0]
        #expect(notWalked.frames.isEmpty && notWalked.end == .truncated(SnapshotDeadline.notWalked))
        // Not read at all: the capture stops at the deadline.
        let notRead = walker.unwind([goroutine], walker.capture([goroutine.stackExtent]))[0]
        #expect(notRead.frames.isEmpty && notRead.end == .truncated(SnapshotDeadline.notRead))
        #expect(late.cut == SnapshotCut(seconds: 0, stacksNotRead: 1, stacksNotWalked: 1))
    }

    @Test func hugeAndInvalidDeadlinesDoNotTrap() {
        #expect(!SnapshotDeadline(seconds: .infinity).expired)
        #expect(!SnapshotDeadline(seconds: 1e300).expired)
        #expect(SnapshotDeadline(seconds: -1).expired && SnapshotDeadline(seconds: .nan).expired)
    }
}
