import Foundation
import Testing

/// The target is never harmed: it keeps running after many snapshots, after gospy is
/// interrupted or killed while the target is stopped, and after failed snapshots.
@Suite(.serialized) struct LiveRobustnessTests {
    static var sample: TargetBinary? { TestTargets.binary(release: "1.27", mode: "distro") ?? TestTargets.matrix.last }

    /// Waits until `condition` holds or `seconds` pass.
    static func eventually(_ seconds: Double = 3, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    @Test func hundredBlockingSnapshotsInARow() throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        var stopped: [Double] = []
        for round in 0..<100 {
            let (summary, result) = try SummaryJSON.capture(pid: target.pid)
            let report = try #require(summary, "round \(round): exit \(result.status) \(result.stderr)")
            stopped.append(report.stoppedSeconds ?? -1)
            #expect(!ProcessState.anyStopped(target.pid), "round \(round): target left stopped")
        }
        #expect(stopped.allSatisfy { $0 >= 0 }, "every blocking snapshot reports its pause")
        // Still alive and answering.
        #expect(try target.send("count").hasPrefix("COUNT "))
    }

    /// gospy holds the target stopped; a signal to gospy must leave it running.
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP, SIGKILL])
    func signalWhileTargetStopped(signal: Int32) throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        let gospy = try Subprocess.startHoldingStopped(target.pid, seconds: 30)
        // gospy reads the binary and every g before it stops anything: with the other suites
        // running beside it on 2 cores that can take seconds. It holds the stop for 30.
        #expect(Self.eventually(25) { ProcessState.anyStopped(target.pid) }, "gospy never stopped the target")
        kill(gospy.pid, signal)
        gospy.process.waitUntilExit()
        if signal == SIGKILL {
            #expect(gospy.process.terminationReason == .uncaughtSignal)
        } else {
            #expect(gospy.process.terminationStatus == 128 + signal, "exit \(gospy.process.terminationStatus)")
        }
        #expect(Self.eventually(10) { !ProcessState.anyStopped(target.pid) }, "target left stopped: \(ProcessState.threadStates(target.pid))")
        #expect(try target.send("count").hasPrefix("COUNT "))
    }

    @Test func failedSnapshotsLeaveTheTargetRunning() throws {
        let sample = try #require(Self.sample)
        let target = try RunningTarget(sample)
        defer { target.stop() }
        // A wrong --bin fails before stopping; a binary of another version too.
        let other = try #require(TestTargets.matrix.first { $0.release != sample.release })
        let wrong = try Subprocess.run(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--bin", other.path])
        #expect(wrong.status == 8, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("--bin"))
        #expect(!ProcessState.anyStopped(target.pid))
        #expect(try target.send("count").hasPrefix("COUNT "))
    }

    /// The target dies while gospy holds it stopped: a clean "exited" error, exit 7.
    @Test func targetExitsMidRead() throws {
        let target = try RunningTarget(try #require(Self.sample))
        defer { target.stop() }
        let gospy = try Subprocess.start(Subprocess.gospy, ["summary", "--pid", String(target.pid), "--test-hold-stopped", "1"],
                                         errors: true)
        #expect(Self.eventually(25) { ProcessState.anyStopped(target.pid) })
        kill(target.pid, SIGKILL)
        gospy.process.waitUntilExit()
        let message = String(decoding: gospy.errors?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        #expect(gospy.process.terminationStatus == 7, "exit \(gospy.process.terminationStatus): \(message)")
        #expect(message.contains("exited"))
        #expect(message.split(separator: "\n").count == 1)
    }

    /// Without stopping, a target that creates and ends thousands of goroutines per second:
    /// every snapshot is consistent or says how many goroutines it could not read, and never
    /// shows a goroutine that did not exist.
    @Test func nonBlockingUnderChurn() throws {
        let target = try RunningTarget(try #require(Self.sample), arguments: ["-scenario=churn"])
        defer { target.stop() }
        let before = try target.ownDump()
        // The parked set (main.park*), not the churn's short-lived goroutines.
        let parked = before.goroutines.filter { goroutine in
            !["running", "runnable", "syscall"].contains(goroutine.state)
                && goroutine.frames.contains { $0.function.hasPrefix("main.park") }
        }
        #expect(parked.count >= 20)
        var unreadable = 0
        for round in 0..<20 {
            let (summary, result) = try SummaryJSON.capture(pid: target.pid, ["--non-blocking"])
            let report = try #require(summary, "round \(round): exit \(result.status) \(result.stderr)")
            #expect(report.stoppedSeconds == nil)
            unreadable += report.unreadableGoroutines
            let ids = report.goroutines.map(\.id)
            #expect(Set(ids).count == ids.count, "duplicate goroutine ids")
            // Every id the runtime has handed out is at most sched.goidgen, read coherently
            // (target stopped) just after.
            let (later, laterResult) = try SummaryJSON.capture(pid: target.pid)
            let goidgen = try #require(later?.scheduler?.goidgen, "\(laterResult.stderr)")
            #expect(ids.allSatisfy { $0 > 0 && UInt64($0) <= goidgen }, "a goroutine id beyond any the runtime assigned (goidgen \(goidgen))")
            #expect(report.goroutines.allSatisfy { ["running", "runnable", "syscall", "waiting", "preempted", "copystack", "idle", "leaked"].contains($0.status) })
            let byID = Dictionary(uniqueKeysWithValues: report.goroutines.map { ($0.id, $0) })
            for goroutine in parked {
                #expect(byID[goroutine.id]?.state == goroutine.state, "round \(round): parked goroutine \(goroutine.id)")
            }
            #expect(!ProcessState.anyStopped(target.pid))
        }
        print("non-blocking under churn: \(unreadable) unreadable goroutines over 20 snapshots")
    }
}
