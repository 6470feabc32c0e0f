import Testing
@testable import GospyRuntime

/// Which frames each output shows, "created by" and "in a syscall", over synthetic stacks.
@Suite struct TracebackTests {
    typealias P = SyntheticProgram
    let symbolizer = P.symbolizer

    @Test func logicalFramesCarryTheCallLine() {
        let frames = symbolizer.logicalFrames(P.unwind(P.parked))
        #expect(frames.map(\.rawName) == P.parked.map(\.name))
        // worker's return address is at +0x20, where line 31 starts: the call was on line 30.
        #expect(frames[1].line == 30 && frames[1].file == "main.go")
        #expect(frames[3].line == 11)
        #expect(frames.map(\.physicalIndex) == [0, 1, 2, 3, 4])
        #expect(frames.map(\.symbolPC) == frames.map { $0.pc - 1 })
    }

    @Test func aTrappedFrameIsLookedUpAtItsPC() {
        let frames = symbolizer.logicalFrames(P.unwind([("main.worker", 0x20), ("main.main", 0x20), ("runtime.goexit", 1)], trapped: true))
        #expect(frames[0].line == 31 && frames[0].symbolPC == frames[0].pc)
    }

    @Test func tracebackHidesRuntimeInternalsWrappersAndGoexit() {
        let body = symbolizer.traceback(P.unwind(P.parked))
        #expect(body.frames.map(\.function) == ["main.worker", "main.main"])
        #expect(body.tail.isEmpty && body.elidedCount == nil && !body.additionalElided)
        let all = symbolizer.traceback(P.unwind(P.parked), showRuntime: true)
        #expect(all.frames.count == 5)
    }

    @Test func aWrapperThatCalledAPanicIsShown() {
        let stack = P.unwind([("runtime.sigpanic", 0x10), ("main.(*T).Run-fm", 0x10), ("main.main", 0x20), ("runtime.goexit", 1)])
        #expect(symbolizer.traceback(stack).frames.map(\.function) == ["main.(*T).Run-fm", "main.main"])
    }

    @Test func exportedRuntimeFunctionsAreShown() {
        let stack = P.unwind([("runtime.Gosched", 0x10), ("main.main", 0x20), ("runtime.goexit", 1)])
        #expect(symbolizer.traceback(stack).frames.map(\.function) == ["runtime.Gosched", "main.main"])
        #expect(Symbolizer.isExportedRuntime("runtime.(*Func).Name", release: P.version))
        #expect(!Symbolizer.isExportedRuntime("runtime.(*mheap).alloc", release: P.version))
    }

    @Test func aStackOfOnlyHiddenFramesShowsThemAll() {
        let stack = P.unwind([("runtime.gopark", 0x10), ("runtime.goexit", 1)])
        #expect(symbolizer.traceback(stack).frames.map(\.rawName) == ["runtime.gopark", "runtime.goexit"])
    }

    @Test func theProfileListsCallsWithoutWrappersOrGoexit() {
        let stack = P.unwind(P.parked)
        let profile = symbolizer.profileFrames(stack)
        #expect(profile.map { $0.lines.map(\.rawName) } == [["runtime.gopark"], ["main.worker"], ["main.main"]])
        #expect(profile.map(\.frame.pc) == [stack.frames[0].pc, stack.frames[1].pc, stack.frames[3].pc])
        #expect(profile.allSatisfy { $0.frame.symbolPC == $0.frame.pc - 1 })
    }

    @Test func theGroupedProfileSkipsTheRuntimeAtTheTop() {
        let frames = symbolizer.groupedProfileFrames(P.unwind(P.parked))
        #expect(frames.map(\.rawName) == ["main.worker", "main.(*T).Run-fm", "main.main"])
    }

    @Test func createdByNamesTheGoStatementsCall() throws {
        let creator = try #require(symbolizer.createdBy(P.goroutine(creatorPC: P.pc("main.main", 0x20), parentID: 1)))
        #expect(creator.function == "main.main" && creator.file == "main.go" && creator.line == 11)
        #expect(creator.offset == 0x20 && creator.parentID == 1)
        #expect(symbolizer.createdBy(P.goroutine(creatorPC: P.pc("main.main", 0x20), parentID: 0))?.parentID == nil)
    }

    @Test func createdByIsAbsentWhereTheRuntimeOmitsIt() {
        // Goroutine 1, and goroutines started by functions a traceback hides.
        #expect(symbolizer.createdBy(P.goroutine(id: 1, creatorPC: P.pc("main.main", 0x20))) == nil)
        #expect(symbolizer.createdBy(P.goroutine(creatorPC: P.pc("runtime.gopark", 0x10))) == nil)
        #expect(symbolizer.createdBy(P.goroutine(creatorPC: 0)) == nil)
    }

    @Test func createdByShowsRuntimeCreatorsWithRuntimeFrames() throws {
        // GOTRACEBACK=system (and SIGQUIT) show every creator but goroutine 1's.
        let creator = try #require(symbolizer.createdBy(P.goroutine(creatorPC: P.pc("runtime.gopark", 0x10)), showRuntime: true))
        #expect(creator.function == "runtime.gopark" && creator.offset == 0x10)
        #expect(symbolizer.createdBy(P.goroutine(id: 1, creatorPC: P.pc("main.main", 0x20)), showRuntime: true) == nil)
        #expect(symbolizer.createdBy(P.goroutine(creatorPC: 0), showRuntime: true) == nil)
    }

    @Test func inASyscallFollowsTheRelease() throws {
        #expect(symbolizer.isInSyscall(status: .waiting, syscallSP: 0xc000_0e00))
        #expect(!symbolizer.isInSyscall(status: .syscall, syscallSP: 0))
        let legacy = Symbolizer(pclntab: symbolizer.pclntab, version: GoVersion(major: 1, minor: 19), loadBias: P.loadBias)
        #expect(legacy.isInSyscall(status: .syscall, syscallSP: 0))
        #expect(!legacy.isInSyscall(status: .waiting, syscallSP: 0xc000_0e00))
    }
}
