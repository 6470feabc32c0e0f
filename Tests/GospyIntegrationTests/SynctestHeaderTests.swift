import Foundation
import GospyRuntime
import Testing

/// Goroutines in synctest bubbles (`-scenario synctest`, Go 1.25+): their headers'
/// " (durable)" and ", synctest bubble N" against the runtime's own dump, with symbols and
/// without (the bubble's id offset then comes from the built-in tables).
@Suite struct SynctestHeaderTests {
    static var binaries: [TargetBinary] {
        TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) && (GoVersionParts($0.release)?.minor ?? 0) >= 25 }
    }

    @Test(arguments: Self.binaries)
    func bubbleHeadersEqualTheRuntimesDump(binary: TargetBinary) throws {
        TestTargets.requireMatrix()
        // synctest refuses asynctimerchan=1, the default of the target's go 1.19 directive.
        let target = try RunningTarget(binary, arguments: ["-scenario", "synctest"], environment: ["GODEBUG": "asynctimerchan=0"])
        defer { target.stop() }
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid)])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let mine = GoroutineDump(parsing: result.stdout)
        let theirs = try target.ownDump()
        TracebackHeaderTests.compare(mine, theirs, binary.testDescription)

        // Every bubbled goroutine of the runtime's dump was compared: the target parks them all
        // before it is ready, and they never move.
        let bubbled = theirs.goroutines.filter { $0.header.contains(", synctest bubble ") }
        #expect(bubbled.count >= 16, "bubbled goroutines in the runtime's dump: \(bubbled.map(\.header))")
        for runtime in bubbled {
            #expect(mine.goroutine(runtime.id)?.header == runtime.header, "\(binary.testDescription) goroutine \(runtime.id)")
        }
        // The scenario's cases were among them: two bubbles, durable and not.
        let headers = bubbled.map(\.header)
        for wanted in ["synctest bubble 1]", "synctest bubble 2]", "[sleep (durable), ", "[chan receive (durable), ",
                       "[select (no cases) (durable), ", "[sync.WaitGroup.Wait (durable), ", "[synctest.Wait (durable), ",
                       "[sync.Mutex.Lock, synctest bubble", "[chan receive, synctest bubble"] {
            #expect(headers.contains { $0.contains(wanted) }, "no header with \(wanted): \(headers)")
        }
        // Goroutines outside the bubbles say nothing of them.
        #expect(!mine.goroutines.contains { !$0.header.contains("synctest bubble") && $0.header.contains("(durable)") })
    }
}
