import Foundation
import Testing

/// `gospy dump` against the target's own goroutine dump, frame by frame, on every version x
/// build mode. Both are read with the same parser.
@Suite struct DumpMatrixTests {
    static func isTransient(_ state: String) -> Bool {
        state == "running" || state == "runnable" || state == "syscall"
    }

    @Test(arguments: TestTargets.matrix)
    func tracebackEqualsTheRuntimesDump(binary: TargetBinary) throws {
        try Self.compareWithTheRuntimesDump(binary)
    }

    /// Enough goroutines that the dump is rendered in blocks on several threads
    /// (DumpBlockRendering): still the runtime's order and text, goroutine for goroutine.
    @Test func tracebackEqualsTheRuntimesDumpWhenRenderedInBlocks() throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last)
        try Self.compareWithTheRuntimesDump(binary, arguments: ["-scenario=many", "-n=20000"], minimumCompared: 20_000)
    }

    static func compareWithTheRuntimesDump(_ binary: TargetBinary, arguments: [String] = [], minimumCompared: Int = 25) throws {
        let target = try RunningTarget(binary, arguments: arguments, readyTimeout: 120)
        defer { target.stop() }
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid)])
        #expect(result.status == 0, "\(result.stderr)")
        let mine = GoroutineDump(parsing: result.stdout)
        let theirs = try target.ownDump()
        #expect(!ProcessState.anyStopped(target.pid))

        #expect(Set(mine.goroutines.map(\.id)) == Set(theirs.goroutines.map(\.id)))
        // The same order: the runtime prints the dumping goroutine first, then allgs order.
        let dumping = theirs.goroutines.first?.id
        let common = Set(mine.goroutines.map(\.id)).intersection(theirs.goroutines.map(\.id))
        #expect(mine.goroutines.map(\.id).filter { common.contains($0) && $0 != dumping }
                == theirs.goroutines.dropFirst().map(\.id).filter { common.contains($0) }, "goroutine order")
        var compared = 0
        var framesCompared = 0
        var argumentsCompared = 0
        for runtime in theirs.goroutines {
            guard let gospy = mine.goroutine(runtime.id) else { continue }
            if Self.isTransient(runtime.state) || Self.isTransient(gospy.state) {
                // A goroutine that ran between the two dumps: its stack still ends where it
                // started, unless gospy caught its thread switching stacks (mcall during a
                // preemption: the runtime's own dump never sees that state) and says so.
                let caughtSwitching = gospy.body.contains {
                    $0.hasPrefix("...stack truncated: stopped inside a function that moves its stack pointer")
                }
                if gospy.state == "running", !caughtSwitching, let last = gospy.frames.last, let expected = runtime.frames.last {
                    #expect(last.function == expected.function, "goroutine \(runtime.id) (running) ends in \(last.function)\n\(gospy.body.joined(separator: "\n"))")
                }
                continue
            }
            compared += 1
            #expect(gospy.header == runtime.header, "goroutine \(runtime.id)")
            #expect(gospy.frames.count == runtime.frames.count,
                    "goroutine \(runtime.id): \(gospy.frames.count) frames, runtime \(runtime.frames.count)\n\(gospy.frames.map(\.function))\n\(runtime.frames.map(\.function))")
            for (a, b) in zip(gospy.frames, runtime.frames) {
                #expect(a.function == b.function && a.file == b.file && a.line == b.line && a.offset == b.offset,
                        "goroutine \(runtime.id): gospy \(a), runtime \(b)")
                // Arguments too: a parked goroutine's frames hold the same words for both.
                #expect(a.arguments == b.arguments, "goroutine \(runtime.id) \(a.function): gospy (\(a.arguments ?? "")), runtime (\(b.arguments ?? ""))")
                framesCompared += 1
                if !a.inlined && b.arguments?.isEmpty == false { argumentsCompared += 1 }
            }
            #expect(gospy.createdBy == runtime.createdBy, "goroutine \(runtime.id) created by")
            #expect(gospy.creatorID == runtime.creatorID, "goroutine \(runtime.id) creator id")
        }
        #expect(compared >= minimumCompared, "too few goroutines in stable states: \(compared)")
        #expect(framesCompared >= 100)
        #expect(argumentsCompared >= 10, "too few frames with arguments")
        // The elided deep recursion is printed the way the runtime prints it.
        let elisionLines = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("...") && $0.contains("elided") } }
        #expect(elisionLines(result.stdout).count == elisionLines(try target.ownDumpText()).count)
    }
}

/// "N minutes" in the headers: the runtime counts them from g.waitsince, which a collection
/// records for goroutines it finds blocked. Parks the target, collects, and waits past a minute.
@Suite struct WaitMinutesTests {
    static var binaries: [TargetBinary] {
        [TestTargets.binary(release: "1.19", mode: "stripped"), TestTargets.binary(release: TestTargets.newestRelease, mode: "distro")]
            .compactMap { $0 }
    }

    @Test(arguments: Self.binaries)
    func minutesMatchTheRuntimesDump(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        #expect(try target.send("gc") == "GC done")
        Thread.sleep(forTimeInterval: 63)
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid)])
        #expect(result.status == 0, "\(result.stderr)")
        let mine = GoroutineDump(parsing: result.stdout)
        let theirs = try target.ownDump()
        // Parked goroutines; a goroutine in a syscall waits too, but may be running by the time
        // the runtime dumps (the dumping goroutine is the one that was reading its stdin).
        let waited = theirs.goroutines.filter { $0.minutes != nil && !DumpMatrixTests.isTransient($0.state) }
        #expect(waited.count >= 10, "the runtime's own dump shows minutes for \(waited.count) goroutines")
        var compared = 0
        for runtime in theirs.goroutines where !DumpMatrixTests.isTransient(runtime.state) {
            guard let gospy = mine.goroutine(runtime.id), !DumpMatrixTests.isTransient(gospy.state) else { continue }
            #expect(gospy.header == runtime.header, "goroutine \(runtime.id)")
            if runtime.minutes != nil { compared += 1 }
        }
        #expect(compared == waited.count)
        // summary says the same: waited at least a minute.
        let (summary, summaryResult) = try SummaryJSON.capture(pid: target.pid)
        let report = try #require(summary, "\(summaryResult.stderr)")
        for runtime in waited {
            #expect(report.goroutines.first { $0.id == runtime.id }?.waitMinutes == runtime.minutes, "goroutine \(runtime.id)")
        }
    }
}
