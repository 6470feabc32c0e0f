import Foundation
import Testing

/// `gospy dump --format pprof` read by the same toolchain's `go tool pprof -traces`, compared
/// with the target's own goroutine profile (debug=0) of the same process.
@Suite struct PprofOutputTests {
    struct Trace: Hashable {
        let labels: [String]
        let frames: [String]
    }

    /// Parses `go tool pprof -traces` output into stacks (with labels) and their counts.
    static func traces(_ text: String) -> [Trace: Int] {
        var result: [Trace: Int] = [:]
        for block in text.components(separatedBy: "-----------+").dropFirst() {
            var labels: [String] = []
            var frames: [String] = []
            var count = 0
            for line in block.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("---") || trimmed.isEmpty { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                if let first = parts.first, first.hasSuffix(":"), frames.isEmpty, count == 0 {
                    labels.append(trimmed)
                } else if let first = parts.first, let n = Int(first), frames.isEmpty {
                    count = n
                    frames.append(parts.dropFirst().first.map(String.init) ?? "")
                } else if let first = parts.first {
                    frames.append(String(first))
                }
            }
            if count > 0 { result[Trace(labels: labels.sorted(), frames: frames), default: 0] += count }
        }
        return result
    }

    /// Goroutines whose stacks differ between two moments: the one writing the runtime's
    /// profile (goroutine 1, main) and the spinner.
    static func stable(_ traces: [Trace: Int]) -> [Trace: Int] {
        traces.filter { trace, _ in !trace.frames.contains { $0 == "main.main" || $0 == "main.spinForever" } }
    }

    static var binaries: [TargetBinary] {
        ["1.19", "1.23", "1.27"].compactMap { TestTargets.binary(release: $0, mode: "distro") }
    }

    @Test(arguments: binaries)
    func goToolPprofReadsTheSameStacksAsTheRuntimesProfile(binary: TargetBinary) throws {
        let target = try RunningTarget(binary)
        defer { target.stop() }
        let directory = NSTemporaryDirectory() + "gospy-pprof-\(getpid())-\(target.pid)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mine = directory + "/gospy.pb.gz"
        let theirs = directory + "/runtime.pb.gz"
        let result = try Subprocess.run(Subprocess.gospy, ["dump", "--pid", String(target.pid), "--format", "pprof", "-o", mine])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try target.send("pprof \(theirs)").hasPrefix("DUMPED"))

        let go = TestTargets.toolchain(release: binary.release)
        let environment = ["GOTOOLCHAIN": "local", "GOFLAGS": "",
                           "GOCACHE": TestTargets.cacheDirectory + "/gocache/go\(binary.release)"]
        let gospyTraces = try Subprocess.run(go, ["tool", "pprof", "-traces", mine], environment: environment)
        let runtimeTraces = try Subprocess.run(go, ["tool", "pprof", "-traces", theirs], environment: environment)
        #expect(gospyTraces.status == 0, "\(gospyTraces.stderr)")
        #expect(runtimeTraces.status == 0, "\(runtimeTraces.stderr)")
        let a = Self.stable(Self.traces(gospyTraces.stdout))
        let b = Self.stable(Self.traces(runtimeTraces.stdout))
        #expect(a.count >= 20, "too few stacks: \(a.count)")
        for (trace, count) in b where a[trace] != count {
            Issue.record("runtime stack x\(count) \(trace.labels) \(trace.frames) has \(a[trace] ?? 0) in gospy's profile")
        }
        for (trace, count) in a where b[trace] == nil {
            Issue.record("gospy stack x\(count) \(trace.labels) \(trace.frames) is not in the runtime's profile")
        }
        #expect(a.keys.contains { !$0.labels.isEmpty }, "labels appear")
    }
}
