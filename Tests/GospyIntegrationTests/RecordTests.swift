import Foundation
import Testing

/// `gospy record` against -scenario=record, whose truth the target measures itself: its worker
/// goroutine's time in recordSpinA and recordSpinB (75/25 by the clock), and 50 goroutines
/// asleep for the whole recording.
@Suite(.serialized) struct RecordTests {
    static var binaries: [TargetBinary] {
        [("1.19", "plain"), ("1.27", "plain"), ("1.19", "distro")].compactMap { TestTargets.binary(release: $0.0, mode: $0.1) }
    }

    struct Modes: CustomTestStringConvertible, Sendable {
        let binary: TargetBinary
        let blocking: Bool
        var testDescription: String { binary.testDescription + (blocking ? " blocking" : " non-blocking") }
    }

    static var accuracyCases: [Modes] { binaries.flatMap { [Modes(binary: $0, blocking: false), Modes(binary: $0, blocking: true)] } }

    /// The target's own "WORK loops=.. a=.. b=..".
    static func work(_ target: RunningTarget) throws -> (loops: Double, a: Double, b: Double) {
        let reply = try target.send("work")
        var fields: [String: Double] = [:]
        for part in reply.split(separator: " ").dropFirst() {
            let pair = part.split(separator: "=")
            if pair.count == 2 { fields[String(pair[0])] = Double(pair[1]) }
        }
        return (fields["loops"] ?? 0, fields["a"] ?? 0, fields["b"] ?? 0)
    }

    /// The summary line's "samples: N".
    static func samples(_ stderr: String) -> Int? {
        guard let range = stderr.range(of: "samples: ") else { return nil }
        return Int(stderr[range.upperBound...].prefix { $0.isNumber })
    }

    static func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "gospy-record-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)"
    }

    @Test(arguments: accuracyCases)
    func sharesMatchTheTargetsOwnClock(modes: Modes) throws {
        let target = try RunningTarget(modes.binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let path = Self.temporary("accuracy.txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let before = try Self.work(target)
        let result = try Subprocess.run(Subprocess.gospy, ["record", "--pid", String(target.pid), "--format", "collapsed",
                                                           "--duration", "3", "-o", path] + (modes.blocking ? ["--blocking"] : []))
        let after = try Self.work(target)
        #expect(result.status == 0, "\(result.stderr)")
        let samples = try #require(Self.samples(result.stderr), "\(result.stderr)")
        #expect(samples >= 100, "3 s at 100/s: \(result.stderr)")
        let stacks = CollapsedStacks(try String(contentsOfFile: path, encoding: .utf8))

        // Every sample counts each of the 50 sleepers, under their wait reason.
        let sleepers = stacks.filter { $0.contains("main.recordSleeper") }
        #expect(sleepers.total == 50 * samples, "\(sleepers.total) sleeper stacks in \(samples) samples")
        #expect(sleepers.stacks.keys.allSatisfy { $0.first == "[sleep]" }, "\(sleepers.stacks.keys)")

        // The worker's shares in A and B, against its own clock over the same time.
        let worker = stacks.filter { $0.contains("main.recordWorker") }
        let inA = worker.filter { $0.contains("main.recordSpinA") }.total
        let inB = worker.filter { $0.contains("main.recordSpinB") }.total
        #expect(inA + inB >= samples * 9 / 10, "the worker is seen in most samples: \(inA)+\(inB) of \(samples)")
        let truth = (after.a - before.a) / max(1, (after.a - before.a) + (after.b - before.b))
        let measured = Double(inA) / Double(max(1, inA + inB))
        #expect(abs(measured - truth) <= 0.05, "recorded \(measured) in recordSpinA, the target says \(truth)")
        #expect(abs(truth - 0.75) < 0.05, "the target's own split: \(truth)")
        // On-CPU: the worker is counted as running when it is.
        #expect(worker.filter { $0.first == "[running]" }.total >= (inA + inB) / 2)
    }

    @Test(arguments: binaries.prefix(2))
    func goToolPprofTotalsMatchTheRecordedSamples(binary: TargetBinary) throws {
        let target = try RunningTarget(binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let path = Self.temporary("profile.pb.gz")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Subprocess.run(Subprocess.gospy, ["record", "--pid", String(target.pid), "--format", "pprof",
                                                           "--duration", "1", "-o", path])
        #expect(result.status == 0, "\(result.stderr)")
        let samples = try #require(Self.samples(result.stderr))
        let stacks = try #require(result.stderr.range(of: "goroutine stacks: ").map { Int(result.stderr[$0.upperBound...].prefix { $0.isNumber }) } ?? nil)
        let go = TestTargets.toolchain(release: binary.release)
        let environment = ["GOTOOLCHAIN": "local", "GOFLAGS": "", "GOCACHE": TestTargets.cacheDirectory + "/gocache/go\(binary.release)"]
        func total(_ extra: [String]) throws -> Int? {
            let top = try Subprocess.run(go, ["tool", "pprof", "-top", "-sample_index=samples"] + extra + [path], environment: environment)
            #expect(top.status == 0, "\(top.stderr)")
            // "Showing nodes accounting for X, Y% of TOTAL total"
            guard let line = top.stdout.split(separator: "\n").first(where: { $0.contains("% of ") && $0.hasSuffix(" total") }),
                  let of = line.range(of: "% of ") else { return nil }
            return Int(line[of.upperBound...].prefix { $0.isNumber })
        }
        #expect(try total([]) == stacks, "pprof's total is every goroutine stack counted")
        #expect(try total(["-tagfocus=state=sleep"]) == 50 * samples, "-tagfocus on the state label keeps the 50 sleepers")
        let running = try Subprocess.run(go, ["tool", "pprof", "-top", "-sample_index=samples", "-tagfocus=state=running", path],
                                         environment: environment)
        #expect(running.stdout.contains("main.recordSpinA"), "\(running.stdout)")
    }

    @Test func speedscopeOutputHasTheFormatsStructure() throws {
        let binary = try #require(Self.binaries.first)
        let target = try RunningTarget(binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let path = Self.temporary("profile.speedscope.json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Subprocess.run(Subprocess.gospy, ["record", "--pid", String(target.pid), "--format", "speedscope",
                                                           "--duration", "1", "--rate", "50", "-o", path])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let frames = try #require((json["shared"] as? [String: Any])?["frames"] as? [[String: Any]])
        let profile = try #require((json["profiles"] as? [[String: Any]])?.first)
        #expect(profile["type"] as? String == "sampled" && profile["unit"] as? String == "seconds")
        let samples = try #require(profile["samples"] as? [[Int]])
        let weights = try #require(profile["weights"] as? [Double])
        #expect(samples.count == weights.count && !samples.isEmpty)
        #expect(samples.allSatisfy { $0.allSatisfy { $0 >= 0 && $0 < frames.count } })
        let names = Set(frames.compactMap { $0["name"] as? String })
        #expect(names.contains("main.recordSleeper") && names.contains("[sleep]"))
        // The sleepers' weight is about 50 goroutines x the recording's length.
        let sleeperWeight = zip(samples, weights).filter { stack, _ in stack.contains { frames[$0]["name"] as? String == "main.recordSleeper" } }
            .reduce(0) { $0 + $1.1 }
        #expect(sleeperWeight > 50 * 0.8 && sleeperWeight < 50 * 1.5, "\(sleeperWeight) s")
    }

    @Test func targetExitingMidRecordingStillWritesTheFile() throws {
        let binary = try #require(Self.binaries.first)
        let target = try RunningTarget(binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let path = Self.temporary("exit.txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try Subprocess.start(Subprocess.gospy, ["record", "--pid", String(target.pid), "--format", "collapsed",
                                                               "-o", path, "--duration", "60"], errors: true)
        Thread.sleep(forTimeInterval: 1.5)
        kill(target.pid, SIGKILL)
        recorder.process.waitUntilExit()
        let stderr = String(decoding: recorder.errors?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        #expect(recorder.process.terminationStatus == 7, "\(stderr)")
        #expect(stderr.contains("exited"), "\(stderr)")
        let samples = try #require(Self.samples(stderr), "\(stderr)")
        let stacks = CollapsedStacks(try String(contentsOfFile: path, encoding: .utf8))
        #expect(stacks.filter { $0.contains("main.recordSleeper") }.total == 50 * samples, "what was sampled is all there")
    }

    @Test func interruptWritesTheFileAndFlushWritesBefore() throws {
        let binary = try #require(Self.binaries.first)
        let target = try RunningTarget(binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let path = Self.temporary("interrupt.txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try Subprocess.start(Subprocess.gospy, ["record", "--pid", String(target.pid), "--format", "collapsed",
                                                               "-o", path, "--flush", "0.5"], errors: true)
        var flushed = false
        for _ in 0..<100 where !flushed {
            Thread.sleep(forTimeInterval: 0.1)
            flushed = FileManager.default.fileExists(atPath: path)
        }
        #expect(flushed, "--flush wrote the file while recording")
        let early = CollapsedStacks((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        #expect(early.filter { $0.contains("main.recordSleeper") }.total > 0)
        kill(recorder.pid, SIGINT)
        recorder.process.waitUntilExit()
        let stderr = String(decoding: recorder.errors?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        #expect(recorder.process.terminationStatus == 0, "\(stderr)")
        let samples = try #require(Self.samples(stderr), "\(stderr)")
        let stacks = CollapsedStacks(try String(contentsOfFile: path, encoding: .utf8))
        #expect(stacks.filter { $0.contains("main.recordSleeper") }.total == 50 * samples)
        #expect(!ProcessState.anyStopped(target.pid))
        #expect(try target.send("count").hasPrefix("COUNT"))
    }

    @Test func unwritableOutputFailsBeforeSampling() throws {
        let binary = try #require(Self.binaries.first)
        let target = try RunningTarget(binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let result = try Subprocess.run(Subprocess.gospy, ["record", "--pid", String(target.pid), "-o", "/nonexistent-dir/x.svg", "--duration", "1"])
        #expect(result.status == 13, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("/nonexistent-dir/x.svg"), "\(result.stderr)")
    }

    @Test func noPermissionIsOneLine() throws {
        let binary = try #require(Self.binaries.first)
        let target = try RunningTarget(binary, arguments: ["-scenario=record"])
        defer { target.stop() }
        let setpriv = "/usr/bin/setpriv"
        try #require(FileManager.default.isExecutableFile(atPath: setpriv), "setpriv (util-linux) is needed")
        let result = try Subprocess.run(setpriv, [
            "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
            Subprocess.gospy, "record", "--pid", String(target.pid), "-o", "/tmp/gospy-record-nobody-\(getpid()).svg", "--duration", "1",
        ])
        #expect(result.status == 6, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}

/// Collapsed stacks (`frame;frame count`) as read back from a file.
struct CollapsedStacks {
    var stacks: [[String]: Int] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { continue }
            stacks[line[..<space].split(separator: ";").map(String.init), default: 0] += count
        }
    }

    private init(stacks: [[String]: Int]) { self.stacks = stacks }

    func filter(_ keep: ([String]) -> Bool) -> CollapsedStacks { CollapsedStacks(stacks: stacks.filter { keep($0.key) }) }

    var total: Int { stacks.values.reduce(0, +) }
}
