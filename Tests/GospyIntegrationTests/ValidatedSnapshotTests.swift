import Foundation
@testable import GospyInspector
import GospyRuntime
import Testing

/// Blocking snapshots read while the target runs and stop it only to validate. Inside one
/// stop, these tests take the validated snapshot and then read the whole snapshot the old way
/// (everything while stopped): both must be identical, goroutine for goroutine and frame for
/// frame, also while the target creates and ends goroutines at a high rate.
@Suite(.serialized) struct ValidatedSnapshotTests {
    /// The validated read and a whole read inside the same stop.
    static func bothWays(_ inspector: Inspector, incremental: Bool = false)
        throws -> (validated: Inspector.Capture, whole: (RuntimeSnapshot, [UnwoundStack]?)) {
        var whole: Inspector.StoppedRead?
        let (snapshot, stacks, phases) = try inspector.captureValidated(
            holdStopped: 0, stacks: true, arguments: true, incremental: incremental,
            alsoWhileStopped: { whole = try inspector.readWhileStopped(stacks: true) })
        let validated = Inspector.Capture(snapshot: snapshot, stacks: stacks, threadStates: [:], stoppedSeconds: phases.stopped,
                                          elapsedSeconds: 0, phases: phases)
        return (validated, try inspector.finish(try #require(whole), arguments: true))
    }

    static func expectIdentical(_ validated: Inspector.Capture, _ whole: (RuntimeSnapshot, [UnwoundStack]?),
                                _ context: String) {
        let (snapshot, stacks) = whole
        #expect(validated.snapshot.allgs == snapshot.allgs, "\(context): allgs")
        #expect(validated.snapshot.goroutines.count == snapshot.goroutines.count, "\(context): goroutine count")
        #expect(validated.snapshot.unreadableGoroutines == snapshot.unreadableGoroutines, "\(context): unreadable")
        #expect(validated.snapshot.machines == snapshot.machines, "\(context): Ms")
        #expect(validated.snapshot.processors == snapshot.processors, "\(context): Ps")
        var differing = 0
        for (index, goroutine) in snapshot.goroutines.enumerated() where index < validated.snapshot.goroutines.count {
            let mine = validated.snapshot.goroutines[index]
            let sameStack = validated.stacks?[index] == stacks?[index]
            if mine != goroutine || !sameStack {
                differing += 1
                if differing <= 3 {
                    Issue.record("\(context): goroutine \(goroutine.id) differs: validated \(mine.status) \(validated.stacks?[index].frames.count ?? -1) frames, whole \(goroutine.status) \(stacks?[index].frames.count ?? -1) frames")
                }
            }
        }
        #expect(differing == 0, "\(context): \(differing) goroutines differ")
    }

    /// Starts `binary` with `arguments` and compares `rounds` validated snapshots with whole reads
    /// inside the same stops; `check` sees each round's validated capture.
    static func compareRounds(_ binary: TargetBinary, _ arguments: [String] = [], rounds: Int, label: String,
                              incremental: (Int) -> Bool = { _ in false },
                              check: (Int, Inspector.Capture) throws -> Void = { _, _ in }) throws {
        let target = try RunningTarget(binary, arguments: arguments, readyTimeout: 120)
        defer { target.stop() }
        let inspector = try Inspector(pid: target.pid)
        for round in 0..<rounds {
            let (validated, whole) = try bothWays(inspector, incremental: incremental(round))
            expectIdentical(validated, whole, "\(label) round \(round)")
            try check(round, validated)
        }
        #expect(try target.send("count").hasPrefix("COUNT "), "\(label): the target no longer answers")
    }

    /// Every release and build mode, a quiet target: identical, and most goroutines are not
    /// read again while stopped.
    @Test(arguments: TestTargets.matrix)
    func validatedEqualsWholeRead(binary: TargetBinary) throws {
        TestTargets.requireMatrix()
        try Self.compareRounds(binary, rounds: 3, label: binary.testDescription, check: { _, validated in
            let counts = try #require(validated.phases.validation)
            #expect(counts.unchanged > counts.reread, "\(binary.testDescription): \(counts)")
            #expect(validated.phases.stacksReadWhileStopped < validated.phases.stacksReadWhileRunning)
        })
    }

    /// A target creating and ending thousands of goroutines a second: never a goroutine that
    /// did not exist at the stop, never a stack read at another moment than its g.
    @Test(arguments: ["1.19", "1.27"])
    func validatedEqualsWholeReadUnderChurn(release: String) throws {
        let binary = try #require(TestTargets.binary(release: release, mode: release == "1.27" ? "distro" : "plain"))
        var reread = 0
        try Self.compareRounds(binary, ["-scenario=churn"], rounds: 25, label: "go\(release) churn",
                               incremental: { $0 % 2 == 1 }, check: { _, validated in
            reread += validated.phases.validation?.reread ?? 0
        })
        // The churn really changed goroutines between the two reads.
        #expect(reread > 0)
    }

    /// A target large enough that validation runs in chunks on several threads.
    @Test func validatedEqualsWholeReadAtScale() throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last)
        try Self.compareRounds(binary, ["-scenario=many", "-n=100000"], rounds: 3, label: "100k", check: { _, validated in
            let counts = try #require(validated.phases.validation)
            #expect(counts.goroutines > SnapshotReader.parallelValidationThreshold, "\(counts)")
            #expect(counts.unchanged > 99_000, "\(counts)")
        })
    }

    /// Incremental captures (top's): goroutines unchanged since the last snapshot keep their
    /// walked stacks, and the result is still identical to a whole read.
    @Test func incrementalReusesUnchangedStacks() throws {
        let binary = try #require(TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last)
        var reused = 0
        try Self.compareRounds(binary, ["-scenario=churn"], rounds: 10, label: "incremental",
                               incremental: { _ in true }, check: { round, validated in
            if round > 0 { reused += validated.phases.stacksReused }
        })
        #expect(reused > 0, "no stack was reused from a previous snapshot")
    }
}
