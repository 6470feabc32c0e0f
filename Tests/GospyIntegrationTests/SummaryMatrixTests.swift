import Foundation
import Testing

/// `gospy summary` against the target's own goroutine dump, on every version x build mode.
@Suite struct SummaryMatrixTests {
    /// States that can change between gospy's snapshot and the dump a moment later.
    static func isTransient(_ state: String) -> Bool {
        state == "running" || state == "runnable" || state == "syscall"
    }

    @Test(arguments: TestTargets.matrix)
    func matchesTheRuntimesOwnDump(binary: TargetBinary) throws {
        // A GOMAXPROCS the machine would not give the target by default (the CPU count, or from
        // Go 1.25 a cgroup limit): gospy must report the target's own value, not the machine's.
        let gomaxprocs = ProcessInfo.processInfo.activeProcessorCount + 1
        let target = try RunningTarget(binary, environment: ["GOMAXPROCS": String(gomaxprocs)])
        defer { target.stop() }
        let threadsBefore = ProcessState.threadStates(target.pid).count
        let (summary, result) = try SummaryJSON.capture(pid: target.pid, ["--pc", "start"])
        let threadsAfter = ProcessState.threadStates(target.pid).count
        let report = try #require(summary, "gospy failed: exit \(result.status) \(result.stderr)")
        let dump = try target.ownDump()
        #expect(!ProcessState.anyStopped(target.pid), "target left stopped")

        #expect(report.goVersion == binary.goVersion)
        #expect(report.unreadableGoroutines == 0)
        #expect(report.processors.count == Int(report.gomaxprocs))
        #expect(report.gomaxprocs == Int32(gomaxprocs))
        // The runtime may start threads around the snapshot (more with a GOMAXPROCS above the
        // CPU count): the count lies between the two sides.
        #expect((min(threadsBefore, threadsAfter)...max(threadsBefore, threadsAfter)).contains(report.threads.total),
                "threads: gospy \(report.threads.total), /proc \(threadsBefore) before, \(threadsAfter) after")

        // The same goroutines (the runtime hides system goroutines; so does gospy by default).
        let mine = Dictionary(uniqueKeysWithValues: report.goroutines.map { ($0.id, $0) })
        let theirs = Dictionary(uniqueKeysWithValues: dump.goroutines.map { ($0.id, $0) })
        #expect(Set(mine.keys) == Set(theirs.keys),
                "only gospy: \(Set(mine.keys).subtracting(theirs.keys).sorted()), only the runtime: \(Set(theirs.keys).subtracting(mine.keys).sorted())")
        var compared = 0
        for (id, runtime) in theirs {
            guard let gospy = mine[id] else { continue }
            #expect(gospy.lockedToThread == runtime.lockedToThread, "goroutine \(id)")
            if !Self.isTransient(runtime.state) && !Self.isTransient(gospy.state) {
                #expect(gospy.state == runtime.state, "goroutine \(id): gospy [\(gospy.state)], runtime [\(runtime.state)]")
                compared += 1
            }
            // The start function is the outermost frame the runtime shows, unless it elided
            // frames; goroutine 1 starts in runtime.main, which tracebacks hide above main.main.
            if let outermost = runtime.frames.last, runtime.frames.count < 50 {
                let start = gospy.startFunction == "runtime.main" ? "main.main" : gospy.startFunction
                #expect(start == outermost.function, "goroutine \(id) start: \(gospy.startFunction ?? "nil") vs \(outermost.function)")
            }
            if let creator = runtime.createdBy {
                #expect(gospy.createdBy?.function == creator.function, "goroutine \(id) creator")
                #expect(gospy.createdBy?.file == creator.file && gospy.createdBy?.line == creator.line, "goroutine \(id) creator position")
                if let parent = runtime.creatorID { #expect(gospy.parentId == parent, "goroutine \(id) parent") }
            }
        }
        #expect(compared >= 25, "too few goroutines in stable states to compare")
        // Every kind of wait the target parks in shows up.
        let states = Set(report.goroutines.map(\.state))
        for expected in ["chan receive", "chan send", "chan receive (nil chan)", "select", "select (no cases)", "sleep", "IO wait"] {
            #expect(states.contains(expected), "no goroutine in [\(expected)]")
        }
        #expect(report.goroutines.contains { $0.lockedToThread })
    }
}
