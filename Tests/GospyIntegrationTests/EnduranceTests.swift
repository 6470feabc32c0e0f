import Foundation
import GospyInspector
import Testing

/// Long runs against a target that creates and ends goroutines at a high rate: many blocking
/// snapshots in a row, and gospy killed with SIGKILL at random moments while it holds the
/// target stopped. CI runs reduced counts; GOSPY_ENDURANCE=full (scripts/endurance.sh) runs
/// the counts README's Reliability section reports (1,000 snapshots, 200 kills).
@Suite(.serialized) struct EnduranceTests {
    static var sample: TargetBinary? { LiveRobustnessTests.sample }
    static var full: Bool { ProcessInfo.processInfo.environment["GOSPY_ENDURANCE"] == "full" }

    /// Blocking snapshots through the Inspector: after each the target runs (no thread left in
    /// 't' or 'T'), every id is one the runtime handed out (0 < id <= sched.goidgen, read in
    /// the same stop), none twice, and the parked goroutines are all there in their states.
    @Test func blockingSnapshotsUnderChurn() throws {
        let rounds = Self.full ? 1000 : 200
        let target = try RunningTarget(try #require(Self.sample), arguments: ["-scenario=churn"])
        defer { target.stop() }
        let parked = try target.ownDump().goroutines.filter { goroutine in
            !["running", "runnable", "syscall"].contains(goroutine.state)
                && goroutine.frames.contains { $0.function.hasPrefix("main.park") }
        }
        #expect(parked.count >= 20)
        let inspector = try Inspector(pid: target.pid)
        var leftStopped = 0, invented = 0, duplicated = 0, missing = 0, goroutines = 0
        for round in 0..<rounds {
            let capture = try inspector.capture(blocking: true, stacks: round % 10 == 0)
            if ProcessState.anyStopped(target.pid) {
                leftStopped += 1
                Issue.record("round \(round): target left stopped: \(ProcessState.threadStates(target.pid))")
            }
            let snapshot = capture.snapshot
            let goidgen = try #require(snapshot.scheduler?.goidgen, "round \(round): no scheduler state")
            let ids = snapshot.goroutines.map(\.id)
            goroutines += ids.count
            let beyond = ids.filter { $0 == 0 || $0 > goidgen }
            invented += beyond.count
            #expect(beyond.isEmpty, "round \(round): ids \(beyond.prefix(5)) beyond goidgen \(goidgen)")
            let distinct = Set(ids).count
            duplicated += ids.count - distinct
            #expect(distinct == ids.count, "round \(round): duplicate goroutine ids")
            let byID = Dictionary(snapshot.goroutines.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for goroutine in parked where byID[UInt64(goroutine.id)]?.stateText != goroutine.state {
                missing += 1
                Issue.record("round \(round): parked goroutine \(goroutine.id) [\(goroutine.state)] missing or changed")
            }
        }
        #expect(try target.send("count").hasPrefix("COUNT "))
        print("endurance: \(rounds) blocking snapshots under churn: \(leftStopped) left stopped, \(invented) invented ids, "
              + "\(duplicated) duplicates, \(missing) parked goroutines missing, \(goroutines / max(1, rounds)) goroutines per snapshot")
    }

    /// gospy killed with SIGKILL while it holds the target stopped (`--test-hold-stopped`),
    /// at a random moment of the pause, or at a random moment of a whole blocking snapshot:
    /// the kernel detaches a dead tracer, so the target must leave 't' promptly and answer.
    @Test func sigkillDuringBlockingSnapshots() throws {
        let rounds = Self.full ? 200 : 40
        let target = try RunningTarget(try #require(Self.sample), arguments: ["-scenario=churn"])
        defer { target.stop() }
        var random = SystemRandomNumberGenerator()
        var killedWhileStopped = 0, holdingKilledWhileStopped = 0, leftStopped = 0, unanswered = 0
        for round in 0..<rounds {
            let holding = round % 2 == 0
            let gospy = try Subprocess.start(Subprocess.gospy, ["summary", "--pid", String(target.pid)]
                                             + (holding ? ["--test-hold-stopped", "2"] : []))
            if holding {
                // Mid-pause: once the target is seen stopped, a random moment within the hold.
                if LiveRobustnessTests.eventually(10, { ProcessState.anyStopped(target.pid) }) {
                    usleep(UInt32.random(in: 0...300_000, using: &random))
                }
            } else {
                // Any moment of a blocking snapshot (start-up, read while running, stop, resume).
                usleep(UInt32.random(in: 0...400_000, using: &random))
            }
            if ProcessState.anyStopped(target.pid) {
                killedWhileStopped += 1
                if holding { holdingKilledWhileStopped += 1 }
            }
            gospy.killAndWait()
            if !LiveRobustnessTests.eventually(3, { !ProcessState.anyStopped(target.pid) }) {
                leftStopped += 1
                Issue.record("round \(round): target left stopped: \(ProcessState.threadStates(target.pid))")
            }
            if (try? target.send("count", timeout: 10))?.hasPrefix("COUNT ") != true {
                unanswered += 1
                Issue.record("round \(round): target does not answer")
            }
        }
        // The test exercises what it claims: the held rounds' kills land while the target is stopped.
        #expect(holdingKilledWhileStopped * 4 >= rounds / 2 * 3, "only \(holdingKilledWhileStopped) held kills landed mid-pause")
        print("endurance: gospy SIGKILLed \(rounds) times (\(killedWhileStopped) while the target was stopped): "
              + "\(leftStopped) left stopped, \(unanswered) unanswered")
    }
}
