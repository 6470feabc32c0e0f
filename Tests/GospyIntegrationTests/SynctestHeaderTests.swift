import Foundation
import GospyRuntime
import Testing

/// Goroutines in synctest bubbles (`-scenario synctest`): their headers' " (durable)" and
/// ", synctest bubble N" (Go 1.25+; 1.24 built with GOEXPERIMENT=synctest: ", synctest group
/// N") against the runtime's own dump, with symbols and without (the offsets then come from
/// the built-in tables).
@Suite struct SynctestHeaderTests {
    static var binaries: [TargetBinary] {
        TestTargets.matrix.filter { ["plain", "stripped", "distro"].contains($0.mode) && (GoVersionParts($0.release)?.minor ?? 0) >= 25 }
            + TestTargets.all.filter { $0.mode == "synctest-go124" }
    }

    /// "goroutine 7 [sleep (durable), synctest bubble 2]:" -> "bubble 2".
    static func bubble(_ header: String) -> String? {
        guard let start = header.range(of: ", synctest ")?.upperBound else { return nil }
        return header[start...].split(separator: " ").prefix(2).joined(separator: " ").replacingOccurrences(of: "]:", with: "")
    }

    @Test(arguments: Self.binaries)
    func bubbleHeadersEqualTheRuntimesDump(binary: TargetBinary) throws {
        TestTargets.requireMatrix()
        // synctest refuses asynctimerchan=1, the default of the target's go 1.19 directive.
        let target = try RunningTarget(binary, arguments: ["-scenario", "synctest"], environment: ["GODEBUG": "asynctimerchan=0"])
        defer { target.stop() }
        let (mine, theirs) = try TracebackHeaderTests.dumps(of: target)
        TracebackHeaderTests.compare(mine, theirs, binary.testDescription)

        // Every bubbled goroutine of the runtime's dump was compared: the target parks them all
        // before it is ready, and they never move.
        let go124 = binary.release == "1.24"
        let bubbled = theirs.goroutines.filter { $0.header.contains(go124 ? ", synctest group " : ", synctest bubble ") }
        #expect(bubbled.count >= 16, "bubbled goroutines in the runtime's dump: \(bubbled.map(\.header))")
        for runtime in bubbled {
            #expect(mine.goroutine(runtime.id)?.header == runtime.header, "\(binary.testDescription) goroutine \(runtime.id)")
        }
        // The scenario's cases were among them: two bubbles, durable waits and others.
        let headers = bubbled.map(\.header)
        #expect(Set(headers.compactMap(Self.bubble)).count == 2, "\(headers)")
        let wanted = go124
            ? ["[sleep, synctest group ", "[chan receive (synctest), synctest group ", "[synctest.Wait, synctest group ",
               "[sync.Mutex.Lock, synctest group ", "[chan receive, synctest group "]
            : ["[sleep (durable), ", "[chan receive (durable), ", "[select (no cases) (durable), ",
               "[sync.WaitGroup.Wait (durable), ", "[synctest.Wait (durable), ",
               "[sync.Mutex.Lock, synctest bubble ", "[chan receive, synctest bubble "]
        for text in wanted {
            #expect(headers.contains { $0.contains(text) }, "no header with \(text): \(headers)")
        }
        if go124 {
            // A group is named by its root, the goroutine waiting in synctest.Run.
            for root in bubbled where root.state == "synctest.Run" {
                #expect(root.header.hasSuffix(", synctest group \(root.id)]:"), "\(root.header)")
            }
        }
        // Goroutines outside the bubbles say nothing of them.
        #expect(!mine.goroutines.contains { !$0.header.contains(", synctest ") && $0.header.contains("(durable)") })
    }
}
